# English texts of the bot.
#
# Every message is valid Telegram HTML (only <b>, <i>, <code> tags; no bare < > &).
# Labels (*-button, menu-*, settings-language-*, command-*, lead-label-*, role-*) are plain text.
# $role is a role code (rep, manager, admin); $count, $hours and $id are integers;
# $date is a date or datetime.


## Onboarding of a Telegram account that is not bound to a portal user

onboarding-greeting =
    Hi, { $name }! I help you work with Bitrix24 leads right here in Telegram.

    First I need to know who you are in the portal. Tap <b>Share my phone</b> below: if the number matches your Bitrix24 profile, you're in straight away.

    If an admin sent you an invite link, just open it.
onboarding-share-phone-button = 📱 Share my phone
onboarding-share-phone-placeholder = Tap the button below
onboarding-bound =
    ✅ Done! You're signed in as <b>{ $name }</b>.
    Role: { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }

    Open /menu to get started.
onboarding-already-bound = You're signed in as <b>{ $name }</b>. Open /menu to continue.
onboarding-contact-not-yours = That's someone else's contact, and I can only sign you in with your own. Tap <b>Share my phone</b> below instead.
onboarding-phone-not-found = There is no active portal user with this phone number. Check the number in your Bitrix24 profile, or ask an admin for an invite link.
onboarding-phone-ambiguous = This phone number belongs to several portal users, so I can't tell which one is you. Ask an admin for an invite link.
onboarding-invite-accepted =
    ✅ Invite accepted. You're signed in as <b>{ $name }</b>.
    Role: { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }

    Open /menu to get started.
onboarding-invite-unknown = This invite link doesn't work. Check that you opened the whole link, or ask an admin for a new one.
onboarding-invite-used = This invite link has already been used. Invites work only once, so ask an admin for a new one.
onboarding-invite-expired = This invite link has expired. Ask an admin for a new one.
onboarding-invite-revoked = This invite link was cancelled by an admin. If you still need access, ask them for a new one.
onboarding-invite-already-bound = You're already signed in as <b>{ $name }</b>. To switch to another portal user, ask an admin to revoke your current access first.
onboarding-deactivated = Your portal user has been deactivated, so your access to the bot has been removed. If this is a mistake, contact your admin.
onboarding-not-bound = You're not signed in yet. Share your phone with the button below, or ask an admin for an invite link.
onboarding-access-revoked = An admin has revoked your access to the bot. To use it again, ask an admin for a new invite link.
inline-unbound-button = Open the bot to sign in


## Roles and access checks

role-rep = Sales rep
role-manager = Manager
role-admin = Admin
access-managers-only = This is available to managers and admins only.
access-admins-only = This is available to admins only.
access-lead-hidden = You don't have access to this lead.


## Main menu and shared buttons

menu-title =
    <b>Main menu</b>
    What would you like to do?
menu-new-lead = ➕ New lead
menu-find = 🔍 Find
menu-my-leads = 📋 My leads
menu-subscriptions = 🔔 Subscriptions
menu-settings = ⚙️ Settings
menu-admin = 🛠 Admin
button-back = « Back
button-cancel = ✖️ Cancel
button-menu = 🏠 Menu
button-confirm = ✅ Confirm


## /help, /cancel, /status

help-text =
    <b>What I can do</b>

    /menu — main menu
    /new — a new lead (or send me a contact card or forward a client's message)
    /find — find a lead by phone, e-mail, name, company or #number
    /my — my open leads by stage
    /report — a picture of a period's leads: funnel, days, sources, responsibles
    /subscribe — get notified about leads here (in a group: its admins who are managers)
    /subscriptions — this chat's notifications: change, pause, remove
    /status — your account, the portal connection and the bot's health
    /settings — language, time zone and working hours
    /hours — this chat's working hours; outside them, notifications wait for a morning digest
    /cancel — stop what you're doing and go back to the menu
    /help — this message
help-admin-text =
    <b>For admins</b>
    Menu → Admin: who has access, their roles, and invite links; custom lead fields, the fields of the lead form, and the lead card in the portal; stale-lead nudges; which chats hear about leads and the notifications that could not be delivered. /status shows the bot's health.
cancel-done = Cancelled. Back to the menu.
cancel-nothing = Nothing to cancel.
status-signed-in =
    You're signed in as <b>{ $name }</b>.
    Role: { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }
status-portal-online = Portal: connected ✅
status-portal-offline = Portal: not reachable right now ⚠️
status-subscriptions =
    { $count ->
        [0] No active subscriptions.
        [one] { $count } active subscription.
       *[other] { $count } active subscriptions.
    }


## /settings

settings-title = <b>Settings</b>
settings-language-current = Language: English
settings-language-button = 🌐 Language
settings-language-prompt = Choose the language:
settings-language-en = English
settings-language-ru = Русский
# Shown in the newly chosen language, so each file names itself.
settings-language-set = Done: the language is now English.


## Descriptions for setMyCommands (plain text, up to 256 characters)

command-start = Start and sign in
command-menu = Main menu
command-new = New lead
command-find = Find a lead
command-my = My leads
command-today = Follow-ups due today
command-help = What the bot can do
command-cancel = Cancel the current action
command-settings = Language and settings
command-hours = Working hours and quiet time
command-subscribe = Get notified about leads
command-subscriptions = Manage notifications
command-status = Account and connection status
command-report = Leads of a period as a picture


## Admin: bindings and invites

admin-title =
    <b>Admin</b>
    Manage who can use the bot.
admin-bindings-button = 👥 Users with access
admin-invites-button = ✉️ Pending invites
admin-create-invite-button = ➕ Create invite
admin-bindings-header =
    <b>Users with access</b>: { $count ->
        [0] nobody yet
        [one] { $count } person
       *[other] { $count } people
    }
admin-binding-line =
    { $name } — { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }, since { $date }
admin-binding-title =
    <b>{ $name }</b>
    Role: { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }
    Has access since { $date }
admin-change-role-button = 🔁 Change role
admin-choose-role = Choose a new role for <b>{ $name }</b>:
admin-role-changed =
    ✅ Role changed: <b>{ $name }</b> — { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }.
admin-revoke-button = 🚫 Revoke access
admin-revoke-confirm = Revoke access for <b>{ $name }</b>? They lose access to leads in the bot right away and will have to sign in again.
admin-revoke-yes = Yes, revoke
admin-revoked = Access revoked for <b>{ $name }</b>.
admin-cannot-revoke-self = You can't revoke your own access.
admin-last-admin = You're the only admin. Make someone else an admin first.
admin-invite-choose-user = Who is the invite for? Choose a portal user, or send part of their name to search.
admin-invite-no-users = No active portal users match “{ $query }”.
admin-invite-choose-role = Which role will <b>{ $name }</b> have?
admin-invite-created =
    ✉️ The invite is ready.
    For: <b>{ $name }</b>
    Role: { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }

    { $link }

    Valid for { $hours ->
        [one] { $hours } hour
       *[other] { $hours } hours
    }, works only once. Send it to them in a private chat.
admin-invites-header =
    <b>Pending invites</b>: { $count ->
        [0] none
        [one] { $count } invite
       *[other] { $count } invites
    }
admin-invite-line =
    { $name } — { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }, expires { $hours ->
        [0] within an hour
        [one] in { $hours } hour
       *[other] in { $hours } hours
    }
admin-invite-revoke-button = 🚫 Revoke invite
admin-invite-revoked = The invite for <b>{ $name }</b> is revoked; the link no longer works.


## Errors a user can meet

error-portal-unreachable = The portal isn't reachable right now. Try again in a minute.
error-portal-refused = The portal refused: { $reason }
error-rate-limited = Too many requests. Please slow down a little.
error-not-found = It's no longer in the portal: it may have been deleted.
error-unexpected = Something went wrong; nothing was changed. Try again.
error-stale-button = This button is outdated; here is the menu again.
error-telegram-busy = Telegram is busy, retrying…


## Leads

leads-count =
    { $count ->
        [one] { $count } lead
       *[other] { $count } leads
    }
leads-none = No leads here yet.
lead-title = Lead #{ NUMBER($id, useGrouping: 0) }
lead-untitled = Untitled lead
lead-label-title = Title
lead-label-name = Name
lead-label-phone = Phone
lead-label-email = Email
lead-label-company = Company
lead-label-comments = Comment
lead-label-stage = Stage
lead-label-responsible = Responsible
lead-label-source = Source
lead-label-created = Created
lead-label-modified = Updated


## Relative time

time-just-now = just now
time-minutes-ago =
    { $count ->
        [one] { $count } minute ago
       *[other] { $count } minutes ago
    }
time-hours-ago =
    { $count ->
        [one] { $count } hour ago
       *[other] { $count } hours ago
    }
time-days-ago =
    { $count ->
        [one] { $count } day ago
       *[other] { $count } days ago
    }


## Access: revoked accounts and invites bound to a phone

onboarding-invite-phone-required = This invite works only together with the invited person's phone number. Tap <b>Share my phone</b> below to confirm it's you.
onboarding-invite-phone-mismatch = Your phone number is not the one in the invited person's portal profile, so this invite can't sign you in. Ask the admin who sent it.
admin-blocked-button = 🔒 Revoked accounts
admin-blocked-header =
    <b>Revoked accounts</b>: { $count ->
        [0] none
        [one] { $count } account
       *[other] { $count } accounts
    }
    They can't sign in by phone. Tap one to lift its block: it can then sign in again by phone, as a sales rep. An invite also lifts it.
admin-blocked-line = 🔓 { $name } · Telegram id { NUMBER($id, useGrouping: 0) }
admin-block-lifted = ✅ Block lifted for <b>{ $name }</b>: they can sign in again by phone, as a sales rep.
admin-invite-choose-kind =
    Who may use the invite for <b>{ $name }</b>?
    An invite link works like a key: whoever opens it first gets the access.
admin-invite-anyone-button = 🔗 Whoever opens the link
admin-invite-phone-only-button = 📱 Only with their phone
admin-invite-no-phone = <b>{ $name }</b> has no phone in the portal profile, so the invite can't be bound to a phone.
admin-invite-bearer-warning = ⚠️ Whoever opens this link first gets this access. Send it to the person only, in a private chat, and revoke it in <b>Pending invites</b> if it may have reached someone else.
admin-invite-phone-bound = 🔒 It signs in only a Telegram account that shares a phone of <b>{ $name }</b> from the portal profile.

## Portal errors that retrying cannot fix: what is wrong and who can fix it
# $method is the portal's REST method name (crm.lead.add); $reason the portal's own words.

error-portal-permission = The portal refused: the bot's portal user lacks permission for { $method } ({ $reason }). Ask your Bitrix24 admin to give that user the rights.
error-portal-scope = The portal refused: the bot's webhook or application lacks the scope { $method } needs. Ask your Bitrix24 admin to add it.
error-portal-auth-type = The portal refused: { $method } does not work with this kind of connection (webhook or application). Ask the bot's admin.
error-portal-auth = The portal refused the bot's credentials: they are wrong, expired or revoked. Ask the bot's admin to reconnect it.
error-portal-method = The portal does not offer { $method }: the module is switched off or the portal is too old. Ask your Bitrix24 admin.
error-portal-time-limit = The portal has spent its time budget for this kind of request. Try again in a few minutes.
error-portal-unconfirmed = The portal did not confirm the change; it may still be saved. Check before trying again.
