## Speed to lead: new leads nobody has taken

escalation-waiting = ⏳ waiting { $minutes } min
escalation-taken-in = ✅ <b>Taken by { $name } in { $minutes } min</b>
escalation-assigned-in = ✅ <b>Assigned to { $name } in { $minutes } min</b>
escalation-capped = ⏳ Nobody took it in { $minutes } min; no longer counting.
escalation-ended-taken = ✅ Taken in { $minutes } min
escalation-ended-assigned = ✅ Assigned in { $minutes } min
escalation-ended-reassigned = ✅ Given a responsible in { $minutes } min
escalation-ended-moved = ➡️ Moved on after { $minutes } min
escalation-ended-closed = 🏁 Closed after { $minutes } min
escalation-ended-deleted = 🗑 Deleted after { $minutes } min
escalation-text = ⏰ <b>Lead #{ $id } { $title }</b> has waited { $minutes } min and nobody has taken it.
escalation-assign-button = 👉 Assign to…
escalation-assign-prompt =
    <b>Assign lead #{ $id }</b> { $title }
    Pick the rep, or send a part of a name to narrow the list.
escalation-assign-nobody = Nobody's name contains “{ $query }”. Send another part of a name.
escalation-assign-assigned = ✅ Lead #{ $id } is now { $name }'s.
escalation-assign-refused = Only managers and admins can assign leads.
escalation-assign-gone = This lead no longer exists.
escalation-assign-closed = This lead is already closed.
escalation-assign-unknown = That person is no longer an active portal user. Pick someone else.
escalation-assign-failed = The portal did not accept the change. Try again in a minute.
escalation-assigned-to-you = 📌 { $name } assigned <b>lead #{ $id } { $title }</b> to you.

## Escalation settings of a subscription

subs-escalate-state = ⏰ Escalation: { $state }
subs-escalate-off = off
subs-escalate-after = after { $minutes } min
subs-escalate-off-button = Off
subs-escalate-minutes = { $minutes } min
subs-pick-escalation =
    <b>Subscription #{ $id }: escalation</b>
    When a new lead waits this long without being taken, the people ticked below get a message with Take and Assign buttons (nobody ticked: every manager and admin). Until then the new-lead message counts the wait.
subs-refused-escalation = Only managers and admins can set escalation.
