# English texts of the admin tools: custom lead fields, form fields, lead card settings.
#
# $label, $value, $code, $values, $fields and $layout are text; $type is a portal field type
# (string, double, integer, date, boolean, enumeration or another); $required is yes or no;
# $count and $saved are integers.


## Buttons in the admin menu

admin-fields-button = 🧩 Custom lead fields
admin-form-button = 📝 Lead form fields
admin-card-button = 🗂 Lead card in the portal


## Custom lead fields

admin-fields-type =
    { $type ->
        [string] Text
        [double] Number
        [integer] Whole number
        [date] Date
        [boolean] Yes / no
        [enumeration] List
       *[other] { $type }
    }
admin-fields-header =
    <b>Custom lead fields</b>: { $count ->
        [0] none yet
        [one] { $count } field
       *[other] { $count } fields
    }
    Choose a field to change it, or create a new one.
admin-fields-line =
    { $label } — { admin-fields-type }{ $required ->
        [yes] , required
       *[other] {""}
    }{ $type ->
        [enumeration] , { $count ->
            [one] { $count } value
           *[other] { $count } values
        }
       *[other] {""}
    }
admin-fields-field =
    <b>{ $label }</b>
    Code: <code>{ $code }</code>
    Type: { admin-fields-type }
    Required: { $required ->
        [yes] yes
       *[other] no
    }{ $type ->
        [enumeration] {""}
            Values: { $count }
       *[other] {""}
    }
admin-fields-new-button = ➕ New field
admin-fields-rename-button = ✏️ Rename
admin-fields-values-button = 📋 List values
admin-fields-make-required-button = ❗ Make required
admin-fields-make-optional-button = ◽ Make optional
admin-fields-delete-button = 🗑 Delete field
admin-fields-required-set = ✅ The field is now required: every new lead must fill it in.
admin-fields-optional-set = ✅ The field is now optional.
admin-fields-rename-prompt = Send the new name of <b>{ $label }</b>. It replaces the name shown in the form, the list and the filter.
admin-fields-renamed = ✅ Renamed to <b>{ $label }</b>.
admin-fields-delete-confirm = Delete the field <b>{ $label }</b>? Its values are removed from every lead in the portal, and this cannot be undone.
admin-fields-delete-yes-button = Yes, delete the field
admin-fields-deleted = ✅ The field has been deleted.
admin-fields-values-header =
    <b>{ $label }</b>: { $count ->
        [0] no values yet
        [one] { $count } value
       *[other] { $count } values
    }
    Choose a value to rename or delete it.
admin-fields-add-values-button = ➕ Add values
admin-fields-add-values-prompt = Send the new values of <b>{ $label }</b>, one per line.
admin-fields-values-added =
    ✅ { $count ->
        [one] { $count } value added.
       *[other] { $count } values added.
    }
admin-fields-value =
    <b>{ $label }</b>
    Value: { $value }
admin-fields-value-rename-button = ✏️ Rename value
admin-fields-value-delete-button = 🗑 Delete value
admin-fields-value-rename-prompt = Send the new text for “{ $value }”. Leads that have this value keep it under the new text.
admin-fields-value-renamed = ✅ The value is now “{ $value }”.
admin-fields-value-delete-confirm = Delete the value “{ $value }” of <b>{ $label }</b>? Leads that have it will have no value in this field.
admin-fields-value-delete-yes-button = Yes, delete the value
admin-fields-value-deleted = ✅ The value has been deleted.
admin-fields-new-type = <b>New field</b>. What kind of data will it hold?
admin-fields-new-label = Send the field's name as people will see it, for example <i>Delivery zone</i>.
admin-fields-new-name = Send the field's code: Latin letters, digits and _ only, for example <code>DELIVERY_ZONE</code>. The portal adds the prefix <code>UF_CRM_</code>.
admin-fields-new-values = Send the list values, one per line.
admin-fields-new-confirm =
    <b>Create this field?</b>
    Name: { $label }
    Code: <code>{ $code }</code>
    Type: { admin-fields-type }
admin-fields-new-confirm-values =
    { $count ->
        [one] { $count } value
       *[other] { $count } values
    }: { $values }
admin-fields-create-button = ✅ Create the field
admin-fields-created = ✅ The field <b>{ $label }</b> has been created. The lead form can ask for it right away.
admin-fields-name-empty = The code is empty. Send Latin letters, digits or _, for example <code>DELIVERY_ZONE</code>.
admin-fields-name-bad-chars = The code may contain only Latin letters, digits and _ (no spaces). Try again, for example <code>DELIVERY_ZONE</code>.
admin-fields-name-too-long = The code is too long: at most 43 characters after <code>UF_CRM_</code>. Send a shorter one.
admin-fields-name-exists = A field with this code already exists. Send another code.
admin-fields-label-empty = The name is empty. Send a few words, for example <i>Delivery zone</i>.
admin-fields-label-too-long = The name is too long: at most 100 characters. Send a shorter one.
admin-fields-values-empty = I didn't find any values. Send them one per line.
admin-fields-values-too-long = A value is too long: at most 255 characters each. Send them again.
admin-fields-values-too-many = That's too many values: a list holds at most 100 (and renaming takes exactly one). Send them again.
admin-fields-values-duplicate = A value is repeated or already in the list. Send them again without repeats.


## Lead form fields

admin-form-header =
    <b>Lead form fields</b>
    ✅ fields are asked when a lead is created, in this order ({ $count }). Tap one to take it out, ⬆️ ⬇️ to move it; tap ⬜ to add a field. Then save.
admin-form-required = Always asked (required in the portal): { $fields }
admin-form-save-button = 💾 Save
admin-form-default-button = ↩️ Default fields
admin-form-saved =
    ✅ Saved: the form asks { $count ->
        [0] only the required fields
        [one] { $count } optional field
       *[other] { $count } optional fields
    }.
admin-form-default-set = ✅ Back to the default fields.


## Lead card in the portal

admin-card-header = <b>Lead card in the portal</b>
admin-card-layout =
    The common card has { $count ->
        [one] { $count } section
       *[other] { $count } sections
    }:
    { $layout }
admin-card-default = The portal shows its default card: no common layout is set.
admin-card-saved =
    A layout is saved in the bot ({ $saved ->
        [one] { $saved } section
       *[other] { $saved } sections
    }).
admin-card-reset-button = 🔄 Reset to default
admin-card-force-button = 👥 Common card for everyone
admin-card-save-button = 💾 Save this layout
admin-card-apply-button = 📥 Apply the saved layout
admin-card-confirm-button = ✅ Yes, go ahead
admin-card-reset-confirm = Reset the common lead card to the portal's default? Its current layout is lost unless you saved it.
admin-card-force-confirm = Make everyone use the common lead card? Personal layouts of all users are deleted.
admin-card-save-confirm = Save the current common layout in the bot? A layout saved earlier is replaced.
admin-card-apply-confirm = Make the saved layout the common lead card for everyone?
admin-card-reset-done = ✅ The common card is back to the portal's default.
admin-card-force-done = ✅ Everyone now sees the common card.
admin-card-save-done =
    ✅ Layout saved ({ $count ->
        [one] { $count } section
       *[other] { $count } sections
    }).
admin-card-apply-done =
    ✅ The saved layout is now the common card ({ $count ->
        [one] { $count } section
       *[other] { $count } sections
    }).
admin-card-nothing-to-save = There is no common layout to save: the portal uses its default card.
admin-card-nothing-saved = No layout has been saved yet.

## Stale-lead nudges
# $count is an integer; $idle and $first are plain text.

admin-nudges-button = 🧹 Stale-lead nudges
admin-nudges-title = <b>🧹 Stale-lead nudges</b>
    As each person's working day starts (their /hours), the bot sends them one message with their open leads that wait too long, each with follow-up, stage and card buttons.
admin-nudges-idle-line = 💤 No activity for: { $idle }
admin-nudges-first-line = 🆕 Still in the first stage after: { $first }
admin-nudges-all-off = Both are off: nobody gets a nudge.
admin-nudges-idle-button = 💤 Change: no activity
admin-nudges-first-button = 🆕 Change: first stage
admin-nudges-days = { $count ->
        [one] 1 day
       *[other] { $count } days
    }
admin-nudges-hours = { $count ->
        [one] 1 hour
       *[other] { $count } hours
    }
admin-nudges-off = off
admin-nudges-saved = Saved: it counts from the next working day.
