# Lead capture: the guided form, the duplicate check, creating the lead.
#
# $field is a field's caption as the portal names it; $value an answer; $step and $total,
# $limit and $length are integers; $title a lead title; $stage a stage name; $owner a person;
# $age a relative time ("3 days ago"); $link a URL.


## The form

capture-step = <i>New lead · step { $step } of { $total }</i>
capture-question = <b>{ $field }</b>
capture-question-required = <b>{ $field }</b> (required)
capture-current-value = Now: { $value }
capture-hint-string = Send the text.
capture-hint-text = Send the text (it may have several lines).
capture-hint-integer = Send a whole number, e.g. 12.
capture-hint-number = Send a number, e.g. 12.5.
capture-hint-money = Send the amount, e.g. 15000 or 15 000,50.
capture-hint-date = Pick a date below, or send it as 31.12.2025.
capture-hint-yes_no = Choose yes or no.
capture-hint-choice = Choose one of the options below.
capture-hint-phone = Send the phone number, e.g. +7 916 123 45 67 or 8 (916) 123-45-67.
capture-hint-email = Send the e-mail address, e.g. anna@example.com.
capture-yes-button = ✅ Yes
capture-no-button = ❌ No
capture-skip-button = ⏭ Skip
capture-clear-button = 🗑 Leave empty
capture-to-summary-button = « Back to summary

## Why an answer was refused (each asks again)

capture-error-empty = ⚠️ That's empty. Send some text, please.
capture-error-too-long =
    ⚠️ That's too long: { $length } characters, and this field takes at most { $limit }. Please send a shorter text.
capture-error-phone = ⚠️ That doesn't look like a phone number. Send it like 8 (916) 123-45-67 or +7 916 123 45 67.
capture-error-email = ⚠️ That doesn't look like an e-mail address. Send it like anna@example.com.
capture-error-integer = ⚠️ That's not a whole number. Send digits only, e.g. 12.
capture-error-number = ⚠️ That's not a number. Send it like 12.5 or 12,5.
capture-error-money = ⚠️ That's not an amount. Send it like 15000 or 15 000,50 (no minus, no currency).
capture-error-date = ⚠️ That's not a date. Pick one below or send it like 31.12.2025.
capture-error-choice = ⚠️ There's no such option. Choose one of the buttons.
capture-error-use-buttons = ⚠️ Please answer with the buttons below.
capture-error-use-text = ⚠️ Please answer with a text message.
capture-error-required = ⚠️ This field is required by the portal; it can't be left empty.

## The summary

capture-summary-title = <b>New lead: check and send</b>
capture-summary-line = <b>{ $field }</b>: { $value }
capture-summary-empty-line = <b>{ $field }</b>: —
capture-summary-responsible = <b>Responsible</b>: { $name }
capture-summary-hint = Tap a field to change it, then create the lead.
capture-edit-label = ✏️ { $field }
capture-responsible-label = 👤 Responsible: { $name }
capture-create-button = ✅ Create lead
capture-responsible-title = Who will be responsible for the lead? Choose a portal user, or send part of a name to search.
capture-responsible-nobody = No active portal users match “{ $query }”.

## Duplicates

capture-duplicates-title = <b>Possible duplicates</b> with the same phone or e-mail:
capture-duplicate-lead = • Lead <b>{ $title }</b> — { $stage }, { $owner }, created { $age }
capture-duplicate-contact = • Contact <b>{ $name }</b>
capture-duplicates-hint = Open one of your leads, add a note to it instead, or create the new lead anyway.
capture-open-label = 👁 { $title }
capture-note-label = 📝 Note to { $title }
capture-create-anyway-button = ➕ Create anyway
capture-note-prompt = Send the note for lead <b>{ $title }</b>; it goes to the lead's timeline. No new lead will be created.
capture-note-added = 📝 The note is added to lead <b>{ $title }</b>. No new lead was created.

## Creating

capture-created =
    ✅ Lead <b>{ $title }</b> is created.
    { $link }
capture-created-no-link = ✅ Lead <b>{ $title }</b> is created.
capture-failed-unreachable = ⚠️ The portal isn't reachable right now, so the lead is not created yet. Your draft is kept: try again in a moment.
capture-failed-refused = ⚠️ The portal refused the lead: { $reason }
    Your draft is kept: change a field in the summary, or try again.
capture-retry-button = 🔁 Try again

## Duplicates of colleagues, lost answers, second taps, errors retrying cannot fix
# $owner is a person, $age a relative time ("3 days ago").

capture-duplicate-lead-hidden = • A lead of { $owner }, created { $age }
capture-duplicates-hint-others = These leads belong to colleagues: ask the owner to hand one over to you (🙋), or create the new lead anyway.
capture-failed-unconfirmed = ⚠️ The portal did not confirm the lead, so it may or may not be created. Your draft is kept: “Try again” checks the portal first and creates the lead only if it is not there.
capture-failed-pending = ⏳ The portal has not shown the lead yet: it may still be saving it. Your draft is kept: try again in a minute, the bot checks first.
capture-failed-problem-draft-kept = Your draft is kept.
capture-already-creating = Already creating this lead…

## A one-line custom text field

capture-hint-line = Send the text in one line.

## A contact or a forward while a draft is open

capture-incoming-title = <b>You have a lead draft open.</b> These details have just arrived:
capture-incoming-question = Start a new lead with them instead of the draft, add them to the open draft (empty fields only; the comment is added), or keep the draft as it is?
capture-incoming-replace-button = 🔄 Replace the draft
capture-incoming-merge-button = ➕ Add to the open draft
capture-incoming-keep-button = ✖️ Keep the draft as it is
