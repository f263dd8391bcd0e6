"""Leads of the Bitrix24 emulator: add, update, delete, convert, seed, UI changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.emulators.bitrix24_crm import (
    DEAL_FIELDS,
    LEAD_FIELDS,
    CrmError,
    is_unset,
    merge_multifields,
    normalize_scalar,
    normalize_user_field,
    uf_value_present,
)
from tests.emulators.bitrix24_php import php_int
from tests.emulators.bitrix24_state import EmulatorState
from tests.emulators.bitrix24_userfields import field_label


class LeadsArea(EmulatorState):
    """Leads as the portal stores them, changed through REST or through the UI."""

    def _apply_lead_fields(
        self,
        row: dict[str, Any],
        fields: Mapping[str, Any],
        *,
        is_add: bool,
        import_mode: bool,
        errors: list[str],
    ) -> dict[str, Any]:
        """Write incoming fields onto a row copy; returns meta about what was touched."""
        meta: dict[str, Any] = {"contact_ids": None, "touched": set()}
        ufs = self.portal._lead_user_fields()
        importable = {"DATE_CREATE", "DATE_MODIFY", "CREATED_BY_ID", "MODIFY_BY_ID"}
        for key, value in fields.items():
            spec = self.leads_table.fields.get(key)
            if key in ufs:
                uf = ufs[key]
                stored = normalize_user_field(uf, value, self.tz)
                if stored is None:
                    if not is_add and uf["MANDATORY"] == "Y" and self.check_required_user_fields:
                        errors.append(f'The "{field_label(uf)}" field is required.<br />')
                    row.pop(key, None)
                else:
                    row[key] = stored
                meta["touched"].add(key)
                continue
            if spec is None:
                continue
            if spec.type == "crm_multifield":
                row[key] = merge_multifields(row.get(key), value, key, self.multifield_ids) or None
                if row[key] is None:
                    del row[key]
                meta["touched"].add(key)
                continue
            if key == "CONTACT_IDS":
                ids = value if isinstance(value, list) else [value]
                meta["contact_ids"] = [php_int(v) for v in ids if php_int(v) > 0]
                meta["touched"].add(key)
                continue
            if spec.read_only and not (is_add and import_mode and key in importable):
                continue
            stored_value = normalize_scalar(spec, value, self.tz)
            if is_unset(stored_value):
                continue
            if key == "ASSIGNED_BY_ID" and (stored_value is None or int(stored_value) <= 0):
                continue
            if key == "STATUS_ID" and stored_value not in self.portal.lead_stage_ids():
                # Unknown stage: ignored on update, replaced by the first stage on add.
                if not is_add:
                    continue
                stored_value = None
            if key == "TITLE" and not is_add and not str(stored_value or "").strip():
                errors.append('The "Lead Title" field is required.<br />')
                continue
            row[key] = stored_value
            meta["touched"].add(key)
        return meta

    def _finish_lead_row(self, row: dict[str, Any]) -> None:
        phones = row.get("PHONE") or []
        emails = row.get("EMAIL") or []
        ims = row.get("IM") or []
        row["HAS_PHONE"] = "Y" if phones else "N"
        row["HAS_EMAIL"] = "Y" if emails else "N"
        row["HAS_IMOL"] = "Y" if any(i["VALUE_TYPE"] in ("OPENLINE", "IMOL") for i in ims) else "N"

    def _set_stage(self, row: dict[str, Any], stage: str, user_id: int, now: str) -> None:
        row["STATUS_ID"] = stage
        semantic = self.statuses.semantics("STATUS", stage)
        row["STATUS_SEMANTIC_ID"] = semantic
        row["DATE_CLOSED"] = now if semantic in ("S", "F") else ""
        row["MOVED_BY_ID"] = str(user_id)
        row["MOVED_TIME"] = now

    def _check_required_user_fields(self, row: Mapping[str, Any], errors: list[str]) -> None:
        for name in sorted(self.required_lead_fields):
            spec = self.leads_table.fields.get(name)
            if spec is not None and not uf_value_present(row.get(name)):
                errors.append(f'The "{spec.title}" field is required.<br />')
        if not self.check_required_user_fields:
            return
        for uf in self.portal.user_fields.values():
            if uf["MANDATORY"] == "Y" and not uf_value_present(row.get(uf["FIELD_NAME"])):
                errors.append(f'The "{field_label(uf)}" field is required.<br />')

    def add_lead(
        self,
        fields: Any,
        user_id: int,
        *,
        params: Mapping[str, Any] | None = None,
        fire: bool = True,
    ) -> int:
        """crm.lead.add semantics (also used for UI-made leads); returns the new id."""
        if not isinstance(fields, dict):
            raise CrmError("Parameter 'fields' must be array.")
        params = params if isinstance(params, dict) else {}
        import_mode = str(params.get("IMPORT", "N")).upper() == "Y"
        now = self.now_text()
        row: dict[str, Any] = {}
        for spec in LEAD_FIELDS:
            if spec.type == "crm_multifield" or spec.name == "CONTACT_IDS":
                continue
            row[spec.name] = "" if spec.type in ("date", "datetime") else None
        row.update(
            {
                "OPPORTUNITY": "0.00",
                "CURRENCY_ID": self.base_currency,
                "OPENED": "Y",
                "IS_MANUAL_OPPORTUNITY": "N",
                "IS_RETURN_CUSTOMER": "N",
            }
        )
        errors: list[str] = []
        meta = self._apply_lead_fields(
            row, fields, is_add=True, import_mode=import_mode, errors=errors
        )
        self._check_required_user_fields(row, errors)
        if errors:
            raise CrmError("\n".join(errors))
        if not row.get("ASSIGNED_BY_ID"):
            row["ASSIGNED_BY_ID"] = str(user_id)
        if not (import_mode and row.get("CREATED_BY_ID")):
            row["CREATED_BY_ID"] = str(user_id)
        if not (import_mode and row.get("MODIFY_BY_ID")):
            row["MODIFY_BY_ID"] = str(user_id)
        if not (import_mode and row.get("DATE_CREATE")):
            row["DATE_CREATE"] = now
        if not (import_mode and row.get("DATE_MODIFY")):
            row["DATE_MODIFY"] = now
        stage = row.get("STATUS_ID") or self.portal.lead_stage_ids()[0]
        self._set_stage(row, stage, user_id, now)
        row["LAST_ACTIVITY_TIME"] = row["DATE_CREATE"]
        row["LAST_ACTIVITY_BY"] = row["CREATED_BY_ID"]
        self._finish_lead_row(row)
        lead_id = self.leads_table.insert(row)
        row = self.leads_table.rows[lead_id]
        if not str(row.get("TITLE") or "").strip():
            row["TITLE"] = f"Lead #{lead_id}"
        self._sync_contacts_from_lead(lead_id, row, meta)
        if self.simple_mode and str(row.get("NAME") or "").strip():
            self._convert_lead(lead_id, user_id)
        if fire:
            self.portal.fire_event("ONCRMLEADADD", {"FIELDS": {"ID": str(lead_id)}}, user_id)
        return lead_id

    def _sync_contacts_from_lead(
        self, lead_id: int, row: dict[str, Any], meta: Mapping[str, Any]
    ) -> None:
        touched = meta["touched"]
        if meta["contact_ids"] is not None:
            bindings = []
            for index, contact_id in enumerate(dict.fromkeys(meta["contact_ids"])):
                bindings.append(
                    {
                        "CONTACT_ID": contact_id,
                        "SORT": (index + 1) * 10,
                        "ROLE_ID": 0,
                        "IS_PRIMARY": "Y" if index == 0 else "N",
                    }
                )
            self.lead_contacts[lead_id] = bindings
        elif "CONTACT_ID" in touched:
            contact_id = php_int(row.get("CONTACT_ID") or 0)
            bindings = [
                b for b in self.lead_contacts.get(lead_id, []) if b["CONTACT_ID"] != contact_id
            ]
            for binding in bindings:
                binding["IS_PRIMARY"] = "N"
            if contact_id > 0:
                bindings.insert(
                    0, {"CONTACT_ID": contact_id, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}
                )
            self.lead_contacts[lead_id] = bindings
        self._mirror_primary_contact(lead_id)
        company = php_int(row.get("COMPANY_ID") or 0)
        contact = php_int(row.get("CONTACT_ID") or 0)
        row["IS_RETURN_CUSTOMER"] = "Y" if company > 0 or contact > 0 else "N"

    def _mirror_primary_contact(self, lead_id: int) -> None:
        row = self.leads_table.rows.get(lead_id)
        if row is None:
            return
        bindings = self.lead_contacts.get(lead_id, [])
        primary = next((b for b in bindings if b["IS_PRIMARY"] == "Y"), None)
        if primary is None and bindings:
            bindings[0]["IS_PRIMARY"] = "Y"
            primary = bindings[0]
        row["CONTACT_ID"] = str(primary["CONTACT_ID"]) if primary else None

    def _convert_lead(self, lead_id: int, user_id: int) -> None:
        row = self.leads_table.rows[lead_id]
        now = self.now_text()
        contact_id = self.portal.add_contact(
            {
                "NAME": row.get("NAME"),
                "LAST_NAME": row.get("LAST_NAME"),
                "PHONE": [
                    {"VALUE": p["VALUE"], "VALUE_TYPE": p["VALUE_TYPE"]}
                    for p in row.get("PHONE") or []
                ],
            },
            user_id,
            fire=False,
            lead_id=lead_id,
        )
        deal: dict[str, Any] = {spec.name: None for spec in DEAL_FIELDS}
        deal.update(
            {
                "TITLE": row["TITLE"],
                "STAGE_ID": "NEW",
                "STAGE_SEMANTIC_ID": "P",
                "CURRENCY_ID": row["CURRENCY_ID"],
                "OPPORTUNITY": row["OPPORTUNITY"],
                "CONTACT_ID": str(contact_id),
                "ASSIGNED_BY_ID": row["ASSIGNED_BY_ID"],
                "CREATED_BY_ID": str(user_id),
                "MODIFY_BY_ID": str(user_id),
                "DATE_CREATE": now,
                "DATE_MODIFY": now,
                "LEAD_ID": str(lead_id),
                "CLOSED": "N",
                "OPENED": "Y",
                "CATEGORY_ID": "0",
            }
        )
        self.deals_table.insert(deal)
        self._set_stage(row, "CONVERTED", user_id, now)

    def update_lead(self, lead_id: Any, fields: Any, user_id: int, *, fire: bool = True) -> None:
        """crm.lead.update semantics."""
        numeric_id = php_int(lead_id)
        if numeric_id <= 0:
            raise CrmError("ID is not defined or invalid.")
        row = self.leads_table.rows.get(numeric_id)
        if row is None:
            raise CrmError("Lead is not found")
        if not isinstance(fields, dict):
            raise CrmError("Parameter 'fields' must be array.")
        draft = {k: (list(v) if isinstance(v, list) else v) for k, v in row.items()}
        old_stage = draft.get("STATUS_ID")
        errors: list[str] = []
        meta = self._apply_lead_fields(
            draft, fields, is_add=False, import_mode=False, errors=errors
        )
        if errors:
            raise CrmError("\n".join(errors))
        now = self.now_text()
        new_stage = draft.get("STATUS_ID")
        draft["STATUS_ID"] = old_stage
        if new_stage != old_stage and new_stage:
            self._set_stage(draft, str(new_stage), user_id, now)
        draft["DATE_MODIFY"] = now
        draft["MODIFY_BY_ID"] = str(user_id)
        self._finish_lead_row(draft)
        row.clear()
        row.update(draft)
        self._sync_contacts_from_lead(numeric_id, row, meta)
        if fire:
            self.portal.fire_event("ONCRMLEADUPDATE", {"FIELDS": {"ID": str(numeric_id)}}, user_id)

    def delete_lead(self, lead_id: Any, user_id: int, *, fire: bool = True) -> None:
        """crm.lead.delete semantics."""
        numeric_id = php_int(lead_id)
        if numeric_id <= 0:
            raise CrmError("ID is not defined or invalid.")
        if not self.leads_table.delete(numeric_id):
            code, text = self.lead_delete_not_found
            raise CrmError(text, code)
        self.lead_contacts.pop(numeric_id, None)
        self.product_rows.pop(numeric_id, None)
        for comment_id in [
            k
            for k, c in self.timeline_comments.items()
            if c["ENTITY_TYPE"] == "lead" and c["ENTITY_ID"] == numeric_id
        ]:
            del self.timeline_comments[comment_id]
        if fire:
            self.portal.fire_event("ONCRMLEADDELETE", {"FIELDS": {"ID": str(numeric_id)}}, user_id)

    def ui_add_lead(self, fields: Mapping[str, Any], user_id: int = 1) -> int:
        """A lead created in the portal UI: same rules as REST, fires ONCRMLEADADD."""
        return self.add_lead(dict(fields), user_id)

    def ui_update_lead(self, lead_id: int, fields: Mapping[str, Any], user_id: int = 1) -> None:
        """A lead edited in the portal UI; fires ONCRMLEADUPDATE."""
        self.update_lead(lead_id, dict(fields), user_id)

    def ui_delete_lead(self, lead_id: int, user_id: int = 1) -> None:
        """A lead deleted in the portal UI; fires ONCRMLEADDELETE."""
        self.delete_lead(lead_id, user_id)

    def seed_leads(self, n: int, **overrides: Any) -> list[int]:
        """Bulk insert n leads quickly (no events). Overrides are REST-style field values;
        a callable override is called with the index (0..n-1) to produce the value."""
        ids: list[int] = []
        now = self.now_text()
        stages = self.portal.lead_stage_ids()
        template: dict[str, Any] = {}
        for spec in LEAD_FIELDS:
            if spec.type == "crm_multifield" or spec.name == "CONTACT_IDS":
                continue
            template[spec.name] = "" if spec.type in ("date", "datetime") else None
        template.update(
            {
                "OPPORTUNITY": "0.00",
                "CURRENCY_ID": self.base_currency,
                "OPENED": "Y",
                "IS_MANUAL_OPPORTUNITY": "N",
                "IS_RETURN_CUSTOMER": "N",
                "ASSIGNED_BY_ID": "1",
                "CREATED_BY_ID": "1",
                "MODIFY_BY_ID": "1",
                "MOVED_BY_ID": "1",
                "DATE_CREATE": now,
                "DATE_MODIFY": now,
                "MOVED_TIME": now,
                "LAST_ACTIVITY_TIME": now,
                "LAST_ACTIVITY_BY": "1",
                "STATUS_ID": stages[0],
                "HAS_PHONE": "N",
                "HAS_EMAIL": "N",
                "HAS_IMOL": "N",
            }
        )
        for index in range(n):
            row = dict(template)
            resolved = {k: (v(index) if callable(v) else v) for k, v in overrides.items()}
            if resolved:
                self._apply_lead_fields(row, resolved, is_add=True, import_mode=True, errors=[])
            stage = row.get("STATUS_ID") or stages[0]
            row["STATUS_ID"] = stage
            semantic = self.statuses.semantics("STATUS", stage)
            row["STATUS_SEMANTIC_ID"] = semantic
            row["DATE_CLOSED"] = now if semantic != "P" else ""
            self._finish_lead_row(row)
            lead_id = self.leads_table.insert(row)
            row = self.leads_table.rows[lead_id]
            if not row.get("TITLE"):
                row["TITLE"] = f"Lead #{lead_id}"
            ids.append(lead_id)
        return ids
