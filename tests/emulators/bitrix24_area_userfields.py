"""Lead user fields of the Bitrix24 emulator as the portal's admin changes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.emulators.bitrix24_state import EmulatorState
from tests.emulators.bitrix24_userfields import descriptor, event_data


class UserFieldsArea(EmulatorState):
    """Lead user fields: add, update, delete (with their events), descriptors."""

    @property
    def user_fields(self) -> dict[int, dict[str, Any]]:
        """Lead user field records keyed by id (crm.lead.userfield.get shape)."""
        return self.lead_user_fields.fields

    def _lead_user_fields(self) -> dict[str, dict[str, Any]]:
        return self.lead_user_fields.by_name()

    def add_user_field(
        self, fields: Mapping[str, Any], *, fire: bool = True, user_id: int = 1
    ) -> int:
        """crm.lead.userfield.add semantics; returns the new field id."""
        record = self.lead_user_fields.add(fields)
        if fire:
            self.portal.fire_event("ONCRMLEADUSERFIELDADD", event_data(record), user_id)
        return int(record["ID"])

    def update_user_field(
        self, field_id: int, fields: Mapping[str, Any], *, fire: bool = True, user_id: int = 1
    ) -> None:
        """crm.lead.userfield.update semantics."""
        record, enum_changed = self.lead_user_fields.update(field_id, fields)
        if fire:
            self.portal.fire_event("ONCRMLEADUSERFIELDUPDATE", event_data(record), user_id)
            if enum_changed:
                self.portal.fire_event(
                    "ONCRMLEADUSERFIELDSETENUMVALUES", event_data(record), user_id
                )

    def delete_user_field(self, field_id: int, *, fire: bool = True, user_id: int = 1) -> None:
        """crm.lead.userfield.delete semantics: the field and its values on all leads go."""
        record = self.lead_user_fields.delete(field_id)
        name = record["FIELD_NAME"]
        for row in self.leads_table.rows.values():
            row.pop(name, None)
        if fire:
            self.portal.fire_event("ONCRMLEADUSERFIELDDELETE", event_data(record), user_id)

    def user_field_descriptor(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The crm.lead.fields descriptor of a user field."""
        return descriptor(record)
