# Working hours of a chat: time zone, days, hours, quiet outside them.
# $zone, $now, $days, $start and $end are plain text.

settings-hours-button = 🕘 Time zone and working hours
hours-title = <b>🕘 Working hours of this chat</b>
hours-zone-line = Time zone: { $zone } (it is { $now } now)
hours-days-line = Working days: { $days }
hours-window-line = Hours: { $start }–{ $end }
hours-quiet-on = 🌙 <b>Quiet outside these hours: on.</b> Notifications wait and come as one digest when the working day starts. A new lead to take in a group and a lead handed to you still come at once.
hours-quiet-off = 🔔 Quiet outside these hours: off. Notifications come at any time.
hours-zone-button = 🌍 Time zone
hours-days-button = 📅 Days
hours-window-button = 🕘 Hours
hours-quiet-turn-on = 🌙 Be quiet outside these hours
hours-quiet-turn-off = 🔔 Notify at any time
hours-save-button = 💾 Save
hours-zone-prompt = Choose the time zone, or type its name (for example Europe/Moscow):
hours-zone-unknown = “{ $zone }” is not a time zone I know. Type a name such as Europe/Moscow or Asia/Novosibirsk, or choose one above.
hours-zone-set = Done: the time zone is { $zone }.
hours-days-prompt = Tick the working days, then save:
hours-window-prompt = Type the working hours as a range, for example <code>9:00-18:00</code>. An end before the start (<code>22:00-6:00</code>) is a night shift.
hours-window-invalid = That is not a range of hours. Type it like <code>9:00-18:00</code> or <code>8-17</code>; the start and the end must differ.
hours-saved = Saved.
hours-quiet-now-on = Done: outside these hours, notifications will wait for the digest.
hours-quiet-now-off = Done: notifications come at any time; anything held arrives now as one digest.
hours-refused = Only a manager can set a group's working hours.
hours-days-none = none
hours-day-1 = Mon
hours-day-2 = Tue
hours-day-3 = Wed
hours-day-4 = Thu
hours-day-5 = Fri
hours-day-6 = Sat
hours-day-7 = Sun
