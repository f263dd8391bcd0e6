# Lead lookup, "My leads", the lead card and its actions, inline mode.
# $stage, $field and $value are plain texts from the portal; $page and $pages are integers.

lead-label-last-name = Last name
lead-label-opportunity = Amount
lead-label-contacts = Contacts
lead-label-products = Products
lead-label-total = Total


## /find

search-prompt = Send what to look for: a phone or its first digits, an e-mail, a name, a company or a title. Or a lead number like <code>#123</code>.
search-too-short = That's too short to look for. Send at least two letters or three digits.
search-results =
    Found { $count ->
        [one] { $count } lead
       *[other] { $count } leads
    } for “{ $query }”. Page { $page } of { $pages }:
search-results-more = Only the newest are shown; make the query more precise to see others.
search-nothing = Nothing found for “{ $query }”. Phones are matched from their first digits.
search-next-button = Next »
search-prev-button = « Previous
search-again-button = 🔍 Search again


## My leads

my-leads-title-mine = <b>My open leads</b>
my-leads-title-user = <b>Open leads of { $name }</b>
my-leads-title-all = <b>Everybody's open leads</b>
my-leads-stage =
    <b>{ $stage }</b>: { $count ->
        [one] { $count } lead
       *[other] { $count } leads
    }
my-leads-none = No open leads here.
my-leads-responsible-button = 👤 Whose leads
my-leads-everyone-button = 👥 Everybody
my-leads-mine-button = 🙋 Mine
my-leads-choose-responsible = Whose open leads do you want to see?


## The lead card

card-stage-button = 🔀 Stage
card-edit-button = ✏️ Edit
card-take-button = 🙋 Take
card-note-button = 📝 Note
card-contacts-button = 👥 Contacts
card-products-button = 📦 Products
card-followup-button = ⏰ Follow-up
card-delete-button = 🗑 Delete
card-portal-button = 🔗 Open in Bitrix24
card-refresh-button = 🔄 Refresh
card-done = ✅ Saved.
card-choose-stage = Choose the new stage. Now: <b>{ $stage }</b>
card-stage-reason = Why does the lead go to <b>{ $stage }</b>? Send the reason: it goes to the lead's timeline.
card-stage-reason-comment = Stage changed to “{ $stage }”. Reason: { $reason }
card-stage-converted =
    <b>{ $stage }</b> is the success stage.

    Bitrix24 can't convert a lead through its API, so only the stage changes here: no contact, company or deal is created. If you need them, convert the lead in the portal.

    Move the lead to <b>{ $stage }</b>?
card-stage-converted-yes = ✅ Move it
card-edit-choose = What do you want to change?
card-edit-prompt =
    Send the new value of <b>{ $field }</b>.
    Now: { $value }
card-edit-empty = (empty)
card-edit-source = Choose the source. Now: <b>{ $value }</b>
card-edit-multi = <b>{ $field }</b>: choose a value to change or delete, or add one.
card-edit-multi-add-button = ➕ Add
card-edit-multi-chosen = <b>{ $field }</b>: { $value }
card-edit-multi-change-button = ✏️ Change
card-edit-multi-delete-button = 🗑 Remove
card-edit-multi-prompt = Send the new <b>{ $field }</b>.
card-edit-bad-phone = I can't read that as a phone number. Send it with the country code, e.g. +7 916 123-45-67.
card-edit-bad-email = That's not an e-mail address. Send it like name@example.com.
card-edit-bad-number = Send a number, e.g. 12500 or 12500.50.
card-edit-too-long =
    That's too long: at most { $count ->
        [one] { $count } character
       *[other] { $count } characters
    }.
card-edit-gone = That value is no longer on the lead. Open the card again.
card-note-prompt = Send the note: text, a voice message or a photo. It goes to the lead's timeline.
card-note-voice = Voice message in Telegram, file id { $value }
card-note-photo = Photo in Telegram, file id { $value }
card-note-unsupported = Send text, a voice message or a photo.
card-delete-confirm = Delete the lead <b>{ $name }</b>? If the portal's recycle bin is off, it is gone for good.
card-delete-yes = 🗑 Yes, delete
card-deleted = 🗑 The lead <b>{ $name }</b> is deleted.
card-managers-only = Only managers and admins can do this.


## Inline mode

inline-open-button = Open in the bot
inline-nothing-button = Nothing found: open the bot

## Card: who changed it, out-of-date cards, refused and repeated writes

# Appended to what the bot writes to a lead's timeline; the portal credits its webhook user.
timeline-via-telegram = — via Telegram by { $name }
card-stale = ⚠️ This card is out of date: the lead was reassigned or deleted meanwhile, and you no longer have access to it.
card-stale-gone = ⚠️ This card is out of date: the lead no longer exists in the portal.
card-edit-refused = That change can't be made from the card.
card-find-button = 🔍 Find a lead
write-in-progress = ⏳ Already in progress: wait for the answer to your first tap.

## Stale-lead nudges, at the start of the working day
# $count is an integer; $id, $title, $stage and $ago are plain text.

nudge-title = 🧹 <b>{ $count ->
        [one] A lead is waiting for you
       *[other] { $count } leads are waiting for you
    }</b>
nudge-line-idle = 💤 #{ $id } { $title } — { $stage }, no activity for { $ago }
nudge-line-first-stage = 🆕 #{ $id } { $title } — still { $stage } after { $ago }
nudge-hours = { $count ->
        [one] 1 hour
       *[other] { $count } hours
    }
nudge-days = { $count ->
        [one] 1 day
       *[other] { $count } days
    }
nudge-more = …and { $count } more: /my lists them all
nudge-follow-up-button = ⏰ Follow-up
nudge-stage-button = 🔀 Stage
