# Lead notifications and subscriptions.
# $id is an integer; $title, $field, $old, $new, $stage, $source, $name, $kinds, $scope,
# $state, $filters and $values are plain text (escaped when put into HTML).

## A notification about a lead

notify-added = 🆕 <b>New lead #{ $id }: { $title }</b>
notify-changed = ✏️ <b>Lead #{ $id }: { $title }</b>
notify-deleted = 🗑 <b>Lead #{ $id } deleted: { $title }</b>
notify-change-line = { $field }: { $old } → { $new }
notify-line-stage = Stage: { $stage }
notify-line-responsible = Responsible: { $name }
notify-line-source = Source: { $source }
notify-by = <i>by { $name }</i>
notify-by-bot = <i>by { $name } via the bot</i>
notify-empty = —
notify-field-stage = Stage
notify-field-responsible = Responsible
notify-field-title = Title
notify-field-source = Source
notify-field-amount = Amount
notify-field-contact = Contact name
notify-field-company = Company
notify-open-button = 📇 Open card
notify-take-button = 🙋 Take
notify-portal-button = 🌐 Open in portal
notify-mute-hour-button = 🔕 Mute for 1 h
notify-mute-today-button = 🔕 Mute for today
notify-unmute-button = 🔔 Unmute
notify-mute-on = 🔕 No notifications here until { $until }.
notify-mute-off = 🔔 Notifications here are back on.
notify-mute-refused = Only a manager can mute a group; in a private chat, only its owner.
notify-muted-line = 🔕 <i>Muted until { $until }.</i>

## Taking a lead from a notification

notify-taken = ✅ <b>Taken by { $name }</b>
notify-take-done = The lead is yours now.
notify-take-already = Already taken by { $name }.
notify-take-refused = You cannot take this lead: it is closed or no longer visible to you.
notify-take-failed = The portal did not accept the change. Try again in a minute.
notify-card-unavailable = Open the lead card from the menu: /menu

## Subscriptions

subs-title = <b>🔔 Subscriptions in this chat</b>
subs-none = No subscriptions in this chat yet. Send /subscribe to get notified about leads.
subs-item = <b>#{ $id }</b> · { $scope } · { $kinds } · { $state } · { $filters }
subs-created =
    ✅ Subscribed (#{ $id }): { $scope } · { $kinds }.
    Use the buttons to change what you hear about; /subscriptions lists them all.
subs-card = <b>Subscription #{ $id }</b>
    Leads: { $scope }
    Events: { $kinds }
    Filters: { $filters }
    State: { $state }
subs-removed = Subscription #{ $id } removed.
subs-not-found = That subscription no longer exists.
subs-refused-group-role = Only a manager or an admin of the portal can subscribe a group.
subs-refused-group-admin = Only an administrator of this group can change its subscriptions.
subs-refused-not-yours = This subscription belongs to someone else.
subs-preview-title = <b>Preview:</b> the latest leads this subscription would have told you about:
subs-preview-line = • #{ $id } { $title } — { $stage }
subs-preview-empty = <i>Nothing recent matches it yet.</i>
subs-menu-text =
    <b>🔔 Subscriptions</b>
    Send /subscribe here (or in a group where you are an admin) to get notified about leads, and /subscriptions to list and change them.
subs-scope-mine = my leads
subs-scope-all = all leads I may see
subs-scope-users = chosen responsibles
subs-kinds-all = every event
subs-kind-added = added
subs-kind-changed = changed
subs-kind-stage = stage changed
subs-kind-deleted = deleted
subs-state-active = active
subs-state-paused = paused
subs-state-disabled = disabled (the bot cannot write to this chat)
subs-pause-button = ⏸ Pause
subs-resume-button = ▶️ Resume
subs-remove-button = 🗑 Remove
subs-stages-button = 🎯 Stages
subs-sources-button = 📥 Sources
subs-users-button = 👥 Responsibles
subs-any-stage-button = Any stage
subs-any-source-button = Any source
subs-done-button = ✔️ Done
subs-filters-none = any stage and source
subs-filter-stages = Stages: { $values }
subs-filter-sources = Sources: { $values }
subs-filter-users = Responsibles: { $values }
subs-filter-users-none = Responsibles: nobody chosen yet (nothing is sent)
subs-pick-stages =
    <b>Subscription #{ $id }: stages</b>
    Tick the stages to hear about. Nothing ticked means every stage.
subs-pick-sources =
    <b>Subscription #{ $id }: sources</b>
    Tick the lead sources to hear about. Nothing ticked means every source.
subs-pick-users =
    <b>Subscription #{ $id }: responsibles</b>
    Tick the people whose leads you want to hear about.
subs-refused-users-scope = Only managers and admins can choose responsibles: a sales rep hears about their own leads.

## Take: checks of the pressed notification
notify-take-not-offered = This button does not belong to a notification about this lead.
notify-take-expired = This notification is too old to take the lead from. Open the lead card instead.
notify-take-unsubscribed = This chat is no longer subscribed, so leads cannot be taken from its notifications.
notify-take-yours = This lead is already yours.

## A lead the bot had not seen before it was deleted

notify-deleted-untitled = 🗑 <b>Lead #{ $id } deleted</b>
notify-deleted-unseen = <i>The bot had not seen this lead before, so its details are unknown.</i>

## The digest of notifications held outside working hours
# $count, $leads, $fresh, $moved, $edited, $removed and $id are integers; $since, $icon and
# $title are plain text.

digest-title = 🌅 <b>While you were off work: { $count ->
        [one] 1 update
       *[other] { $count } updates
    } on { $leads ->
        [one] 1 lead
       *[other] { $leads } leads
    }</b>
digest-since = Held since { $since }
digest-counts = 🆕 New: { $fresh } · 🔀 Moved: { $moved } · ✏️ Changed: { $edited } · 🗑 Deleted: { $removed }
digest-top = What matters most:
digest-line = { $icon } #{ $id } { $title }
digest-more = …and { $count } more
digest-portal-button = 🌐 All of them in the portal
