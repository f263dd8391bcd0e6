"""Contacts of the Bitrix24 emulator: add and update, simple-mode fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.emulators.bitrix24_crm import (
    CONTACT_FIELDS,
    CrmError,
    CrmTable,
    is_unset,
    merge_multifields,
    normalize_scalar,
)
from tests.emulators.bitrix24_php import php_int
from tests.emulators.bitrix24_state import EmulatorState


class ContactsArea(EmulatorState):
    """Contacts linked to leads."""

    def add_contact(
        self, fields: Any, user_id: int, *, fire: bool = True, lead_id: int | None = None
    ) -> int:
        """crm.contact.add semantics; returns the new id."""
        if not isinstance(fields, dict):
            raise CrmError("Parameter 'fields' must be array.")
        now = self.now_text()
        row: dict[str, Any] = {}
        for spec in CONTACT_FIELDS:
            if spec.type == "crm_multifield" or spec.name in ("COMPANY_IDS", "PHOTO"):
                continue
            row[spec.name] = "" if spec.type in ("date", "datetime") else None
        row.update({"OPENED": "Y", "EXPORT": "Y", "TYPE_ID": "CLIENT", "SOURCE_ID": None})
        self._apply_simple_fields(self.contacts_table, row, fields, is_add=True)
        row.setdefault("ASSIGNED_BY_ID", None)
        if not row.get("ASSIGNED_BY_ID"):
            row["ASSIGNED_BY_ID"] = str(user_id)
        row.update(
            {
                "CREATED_BY_ID": str(user_id),
                "MODIFY_BY_ID": str(user_id),
                "DATE_CREATE": now,
                "DATE_MODIFY": now,
                "LAST_ACTIVITY_TIME": now,
                "LAST_ACTIVITY_BY": str(user_id),
            }
        )
        if lead_id is not None:
            row["LEAD_ID"] = str(lead_id)
        self.portal._finish_lead_row(row)
        contact_id = self.contacts_table.insert(row)
        if fire:
            self.portal.fire_event("ONCRMCONTACTADD", {"FIELDS": {"ID": str(contact_id)}}, user_id)
        return contact_id

    def update_contact(self, contact_id: Any, fields: Any, user_id: int) -> None:
        """crm.contact.update semantics."""
        numeric_id = php_int(contact_id)
        if numeric_id <= 0:
            raise CrmError("ID is not defined or invalid.")
        row = self.contacts_table.rows.get(numeric_id)
        if row is None:
            raise CrmError("Contact is not found")
        if not isinstance(fields, dict):
            raise CrmError("Parameter 'fields' must be array.")
        self._apply_simple_fields(self.contacts_table, row, fields, is_add=False)
        row["DATE_MODIFY"] = self.now_text()
        row["MODIFY_BY_ID"] = str(user_id)
        self.portal._finish_lead_row(row)
        self.portal.fire_event("ONCRMCONTACTUPDATE", {"FIELDS": {"ID": str(numeric_id)}}, user_id)

    def _apply_simple_fields(
        self, table: CrmTable, row: dict[str, Any], fields: Mapping[str, Any], *, is_add: bool
    ) -> None:
        for key, value in fields.items():
            spec = table.fields.get(key)
            if spec is None or spec.read_only:
                continue
            if spec.type == "crm_multifield":
                merged = merge_multifields(row.get(key), value, key, self.multifield_ids)
                if merged:
                    row[key] = merged
                else:
                    row.pop(key, None)
                continue
            if spec.multiple:
                continue
            stored = normalize_scalar(spec, value, self.tz)
            if is_unset(stored):
                continue
            if key == "ASSIGNED_BY_ID" and (stored is None or int(stored) <= 0):
                continue
            row[key] = stored
