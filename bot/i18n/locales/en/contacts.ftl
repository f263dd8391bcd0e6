# The contacts linked to a lead.
# $name, $phone, $email and $title are plain texts from the portal; $id and $count are integers.

contacts-title = <b>Contacts of lead #{ NUMBER($id, useGrouping: 0) }</b> { $title }
contacts-none = No contacts are linked to this lead yet.
contacts-line = • { $name } · { $phone }
contacts-line-no-phone = • { $name }
contacts-primary-line = ⭐ <b>{ $name }</b> · { $phone } — primary
contacts-primary-line-no-phone = ⭐ <b>{ $name }</b> — primary
contacts-hint = Tap a contact to make it primary or unlink it.
contacts-unnamed = Contact #{ NUMBER($id, useGrouping: 0) }
contacts-value-none = —
contacts-link-button = 🔗 Link a contact
contacts-create-button = ➕ Create from the lead

contacts-contact-title = <b>{ $name }</b>
contacts-contact-primary = ⭐ This is the lead's primary contact.
contacts-make-primary-button = ⭐ Make primary
contacts-unlink-button = ✂️ Unlink from the lead

contacts-search-prompt = Send the contact's phone number or e-mail, or a part of their first or last name.
contacts-search-too-short = That's too short to look for: send at least three characters.
contacts-search-too-long = That's too long to look for: send at most { $count } characters.
contacts-search-bad-phone = I can't read that as a phone number. Send it with the country code, e.g. +7 916 123-45-67.
contacts-search-not-text = Send the phone or the name as text.
contacts-found =
    Found { $count ->
        [one] { $count } contact
       *[other] { $count } contacts
    } for “{ $query }”. Tap the one to link:
contacts-found-nothing = No contacts match “{ $query }”. Try another spelling, or create a contact from the lead.
contacts-search-again-button = 🔍 Search again

contacts-create-confirm =
    Create a contact from the lead and link it?
    Name: { $name }
    Phone: { $phone }
    E-mail: { $email }
contacts-create-yes-button = ✅ Create and link
contacts-nothing-to-copy = The lead has no name, phone or e-mail to copy into a contact. Fill them in on the lead first, or link an existing contact.

contacts-linked = ✅ { $name } is linked to the lead.
contacts-already-linked = { $name } was already linked to the lead.
contacts-unlinked = ✅ { $name } is no longer linked to the lead.
contacts-not-linked = { $name } is not linked to this lead any more; here is the current list.
contacts-primary-set = ⭐ { $name } is now the primary contact.
contacts-created = ✅ The contact is created from the lead and linked.
contacts-contact-gone = That contact no longer exists in the portal.

## Contact search limits for reps

contacts-search-rep-hint = By name you find the contacts of leads you can see; any other contact only by its exact phone or e-mail.
