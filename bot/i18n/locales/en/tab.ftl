## The "Telegram" tab of the portal's lead card. Page texts are plain text (the page escapes
## them); the tab-message-* texts are Telegram HTML.

tab-page-title = Telegram
tab-lead-heading = Lead #{ $id }: { $title }
tab-viewer = You are { $name } ({ $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }).

tab-responsible-heading = Responsible in Telegram
tab-responsible-none = The lead has no responsible.
tab-responsible-signed-in = Signed in to the bot
tab-responsible-signed-out = Not signed in to the bot
tab-notifications-on = Notifications on
tab-notifications-off = Notifications off
tab-notifications-muted = Muted until { $until }

tab-history-heading = Who was told about this lead
tab-history-empty = No chat has been told about this lead yet.
tab-history-private = Private chat of { $name }
tab-history-private-unknown = A private chat
tab-history-group-unknown = A group the bot cannot read
tab-kind-added = new lead
tab-kind-changed = changes
tab-kind-stage = stage
tab-kind-deleted = deleted
tab-kind-reminder = follow-up
tab-kind-ping = ping from the portal
tab-kind-share = shared from the portal
tab-kind-other = message

tab-followups-heading = Follow-ups
tab-followups-empty = No follow-ups for this lead.
tab-followup-for = for { $name }
tab-followup-scheduled = due
tab-followup-sent = reminded
tab-followup-done = done
tab-followup-cancelled = cancelled

tab-actions-heading = Tell them in Telegram
tab-note-label = Note for the responsible (optional, up to { $limit } characters)
tab-note-placeholder = What should they do?
tab-ping-button = Ping the responsible in Telegram
tab-ping-unavailable = The responsible is not signed in to the bot, so the bot cannot reach them.
tab-group-button = Send to the team group
tab-group-targets = Goes to: { $chat }
tab-group-unavailable = No team group gets this lead's notifications.

tab-done-ping = Sent to { $name } in Telegram.
tab-done-group = Sent to { $chat }.
tab-done-already = This was already sent from this page. Reopen the tab to send again.
tab-note-too-long = The note is { $length } characters long; the limit is { $limit }. Shorten it and send again.

tab-refused-title = The Telegram tab cannot open
tab-refused-auth = The portal did not confirm who you are (the session may have expired). Reload the lead card and open the tab again.
tab-refused-portal = This tab was opened from a portal the bot is not installed on.
tab-refused-request = The portal sent this tab no lead to show. Open it from a lead card.
tab-refused-unbound = You are not signed in to the Telegram bot. Sign in to the bot in Telegram with your work phone, then reopen this tab.
tab-refused-lead = You cannot see this lead in the bot, or it no longer exists.
tab-refused-gone = This lead no longer exists in the portal.
tab-refused-expired = This page has expired or the form was not sent from it. Reopen the tab and try again.
tab-refused-unavailable = The portal did not answer. Try again in a minute.
tab-refused-busy = The bot could not read its records just now. Try again in a minute.

tab-message-ping = 📌 <b>{ $name }</b> asks you to look at this lead (from the portal's Telegram tab):
tab-message-share = 📣 <b>{ $name }</b> shares this lead with the team (from the portal's Telegram tab):
tab-message-note = 💬 { $note }
