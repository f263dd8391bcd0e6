# Follow-ups: a to-do on a lead in the portal, its reminder, and /today.
# $due and $zone are plain text (a local time, a zone name); $title and $subject are plain text
# (escaped when put into HTML); $id, $number and $count are integers.

## Planning a follow-up from the card

followup-when = ⏰ <b>When should I remind you?</b>
    Times are in { $zone }.
followup-in-hour-button = In 1 hour
followup-today-evening-button = Today 18:00
followup-tomorrow-button = Tomorrow 10:00
followup-three-days-button = In 3 days, 10:00
followup-pick-day-button = 📅 Pick a date…
followup-pick-day = 📅 Pick the day of the follow-up.
followup-pick-time = 🕐 <b>{ $day }</b>: pick a time or type one, such as 14:30.
followup-bad-time = ⚠️ That is not a time: type it as 14:30.
followup-past = ⚠️ That moment has passed: pick a later one.
followup-text = ✍️ Due { $due }. Add a note for yourself (what to do, what to say), or skip.
followup-skip-button = Skip
followup-created = ✅ Follow-up set for { $due }. I will remind you then.
followup-back-to-card-button = « Back to the card
followup-todo-title = Follow up
followup-lead-gone = ⚠️ This lead is no longer yours or no longer exists: no follow-up was set.
followup-failed = ⚠️ The portal did not take the follow-up. Try again in a minute.

## The reminder

followup-reminder = ⏰ <b>Follow-up: { $title }</b> (lead #{ $id })
    Due { $due }
followup-done-button = ✅ Done
followup-snooze-15-button = ⏰ 15 min
followup-snooze-hour-button = ⏰ 1 h
followup-snooze-tomorrow-button = ⏰ Tomorrow 10:00
followup-done = ✅ Done: the to-do is completed in the portal.
followup-completed = ☑️ This to-do was already completed in the portal.
followup-snoozed = ⏰ Moved to { $due }: I will remind you then.
followup-already = This follow-up is settled already.
followup-refused = ⛔ This follow-up is not yours.
followup-gone = ⚠️ This to-do or its lead no longer exists in the portal.

## /today

followup-today-title = 📋 <b>Follow-ups for today: { $count }</b>
followup-today-line = { $number }. { $due } · { $subject } · lead #{ $id }
followup-today-overdue-line = { $number }. ❗ <b>{ $due }</b> (overdue) · { $subject } · lead #{ $id }
followup-today-done-label = ✅ { $number }
followup-today-open-label = 📇 #{ $id }
followup-today-more = …and more: the first 30 are shown.
followup-today-empty = 🎉 Nothing due today and nothing overdue.
followup-today-failed = ⚠️ The portal did not answer. Try /today again in a minute.
