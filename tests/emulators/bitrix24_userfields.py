"""Lead user fields (crm.lead.userfield.*) of the Bitrix24 emulator: naming, labels, LIST items."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from tests.emulators.bitrix24_crm import CrmError, IdSequence
from tests.emulators.bitrix24_php import php_int

USER_FIELD_LANGUAGES = ("en", "ru", "de")
LABEL_KEYS = (
    "EDIT_FORM_LABEL",
    "LIST_COLUMN_LABEL",
    "LIST_FILTER_LABEL",
    "ERROR_MESSAGE",
    "HELP_MESSAGE",
)
MAX_USER_FIELDS = 1016


class LeadUserFields:
    """Stored user field records keyed by id, shaped as crm.lead.userfield.get returns them."""

    def __init__(self) -> None:
        self.fields: dict[int, dict[str, Any]] = {}
        self._ids = IdSequence(101)
        self._enum_ids = IdSequence(1)

    def by_name(self) -> dict[str, dict[str, Any]]:
        """Records keyed by FIELD_NAME."""
        return {uf["FIELD_NAME"]: uf for uf in self.fields.values()}

    def add(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and store a new field (name prefixing, defaults, LIST ids)."""
        if not fields.get("USER_TYPE_ID"):
            raise CrmError("The 'USER_TYPE_ID' field is not found.")
        if not fields.get("FIELD_NAME"):
            raise CrmError("The 'FIELD_NAME' field is not found.")
        name = prefixed_field_name(str(fields["FIELD_NAME"]))
        valid_chars = all(ch.isalnum() or ch == "_" for ch in name) and name.isascii()
        if len(name) > 50 or not valid_chars:
            raise CrmError("Invalid field name.<br>", code="ERROR_CORE")
        if name in self.by_name():
            raise CrmError(f"The field {name} already exists.<br>", code="ERROR_CORE")
        if len(self.fields) >= MAX_USER_FIELDS:
            raise CrmError("Too many user fields.", code="INTERNAL_SERVER_ERROR", status=500)
        type_id = str(fields["USER_TYPE_ID"])
        field_id = self._ids.take()
        label = fields.get("LABEL")
        multiple = "N" if type_id == "boolean" else yes_no(fields.get("MULTIPLE"), "N")
        show_filter = yes_no(fields.get("SHOW_FILTER"), "N")
        record: dict[str, Any] = {
            "ID": str(field_id),
            "ENTITY_ID": "CRM_LEAD",
            "FIELD_NAME": name,
            "USER_TYPE_ID": type_id,
            "XML_ID": fields.get("XML_ID"),
            "SORT": str(php_int(fields.get("SORT", 100)) or 100),
            "MULTIPLE": multiple,
            "MANDATORY": yes_no(fields.get("MANDATORY"), "N"),
            "SHOW_FILTER": ("I" if type_id == "employee" else "E") if show_filter == "Y" else "N",
            "SHOW_IN_LIST": yes_no(fields.get("SHOW_IN_LIST"), "Y"),
            "EDIT_IN_LIST": yes_no(fields.get("EDIT_IN_LIST"), "Y"),
            "IS_SEARCHABLE": yes_no(fields.get("IS_SEARCHABLE"), "N"),
            "SETTINGS": default_settings(type_id, fields.get("SETTINGS")),
        }
        for key in LABEL_KEYS:
            # LABEL fills the captions but not the error/help messages.
            fallback = None if key in ("ERROR_MESSAGE", "HELP_MESSAGE") else label
            record[key] = label_map(fields.get(key, fallback))
        if type_id == "enumeration":
            record["LIST"] = self.merge_enum_items([], fields.get("LIST"), multiple == "Y")
        self.fields[field_id] = record
        return record

    def update(self, field_id: int, fields: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """Apply the changeable keys; returns (record, whether LIST changed)."""
        record = self.fields.get(field_id)
        if record is None:
            raise CrmError(f"The entity with ID '{field_id}' is not found.", "ERROR_NOT_FOUND")
        for key in ("MANDATORY", "SHOW_IN_LIST", "EDIT_IN_LIST", "IS_SEARCHABLE"):
            if key in fields:
                record[key] = yes_no(fields[key], record[key])
        if "SHOW_FILTER" in fields:
            value = str(fields["SHOW_FILTER"]).upper()
            record["SHOW_FILTER"] = {"Y": "E", "N": "N"}.get(
                value, value if value in ("I", "E", "S") else "N"
            )
        if "XML_ID" in fields:
            record["XML_ID"] = fields["XML_ID"]
        if "SORT" in fields:
            record["SORT"] = str(php_int(fields["SORT"]))
        if isinstance(fields.get("SETTINGS"), dict):
            record["SETTINGS"] = {**record["SETTINGS"], **fields["SETTINGS"]}
        for key in LABEL_KEYS:
            if key in fields:
                record[key] = label_map(fields[key])
        enum_changed = False
        if "LIST" in fields and record["USER_TYPE_ID"] == "enumeration":
            record["LIST"] = self.merge_enum_items(
                record.get("LIST", []), fields["LIST"], record["MULTIPLE"] == "Y"
            )
            enum_changed = True
        return record, enum_changed

    def delete(self, field_id: int) -> dict[str, Any]:
        """Remove a field record and return it."""
        record = self.fields.pop(field_id, None)
        if record is None:
            raise CrmError(f"The entity with ID '{field_id}' is not found.", "ERROR_NOT_FOUND")
        return record

    def merge_enum_items(
        self, current: list[dict[str, Any]], incoming: Any, multiple: bool
    ) -> list[dict[str, Any]]:
        """LIST semantics: ID updates, ID+DEL:Y deletes, no ID adds (empty VALUE skipped)."""
        items = [dict(i) for i in current]
        if isinstance(incoming, dict):
            incoming = list(incoming.values())
        if not isinstance(incoming, list):
            return items
        seen_xml = {i["XML_ID"] for i in items}
        for raw in incoming:
            if not isinstance(raw, dict):
                continue
            item_id = php_int(raw.get("ID", 0))
            existing = next((i for i in items if int(i["ID"]) == item_id), None)
            if existing is not None:
                if str(raw.get("DEL", "")).upper() == "Y":
                    items.remove(existing)
                    continue
                for key in ("VALUE", "XML_ID"):
                    if key in raw:
                        existing[key] = str(raw[key])
                if "SORT" in raw:
                    existing["SORT"] = str(php_int(raw["SORT"]))
                if "DEF" in raw:
                    existing["DEF"] = yes_no(raw["DEF"], "N")
                continue
            value = str(raw.get("VALUE") or "").strip()
            if not value:
                continue
            xml_id = str(raw.get("XML_ID") or "") or secrets.token_hex(16)
            if xml_id in seen_xml:
                raise CrmError("Duplicate XML_ID in the list.<br>", code="ERROR_CORE")
            seen_xml.add(xml_id)
            items.append(
                {
                    "ID": str(self._enum_ids.take()),
                    "SORT": str(php_int(raw.get("SORT", 500)) or 500),
                    "VALUE": value,
                    "DEF": yes_no(raw.get("DEF"), "N"),
                    "XML_ID": xml_id,
                }
            )
        if not multiple:
            # A single-value field keeps only the first default item.
            found_default = False
            for item in items:
                if item["DEF"] == "Y":
                    if found_default:
                        item["DEF"] = "N"
                    found_default = True
        items.sort(key=lambda i: (int(i["SORT"]), int(i["ID"])))
        return items


def prefixed_field_name(given: str) -> str:
    """NOTE -> UF_CRM_NOTE, UF_NOTE -> UF_CRM_NOTE, UF_CRM_NOTE kept."""
    name = given.upper()
    if name.startswith("UF_CRM_"):
        return name
    if name.startswith("UF_"):
        return "UF_CRM_" + name[3:]
    return "UF_CRM_" + name


def descriptor(record: Mapping[str, Any]) -> dict[str, Any]:
    """The crm.lead.fields descriptor of a user field (title is the field code)."""
    out: dict[str, Any] = {
        "type": record["USER_TYPE_ID"],
        "isRequired": record["MANDATORY"] == "Y",
        "isReadOnly": False,
        "isImmutable": False,
        "isMultiple": record["MULTIPLE"] == "Y",
        "isDynamic": True,
        "title": record["FIELD_NAME"],
        "listLabel": record["LIST_COLUMN_LABEL"].get("en") or record["FIELD_NAME"],
        "formLabel": record["EDIT_FORM_LABEL"].get("en") or record["FIELD_NAME"],
        "filterLabel": record["LIST_FILTER_LABEL"].get("en") or record["FIELD_NAME"],
        "settings": dict(record["SETTINGS"]),
    }
    if record["USER_TYPE_ID"] == "enumeration":
        out["items"] = [{"ID": i["ID"], "VALUE": i["VALUE"]} for i in record.get("LIST", [])]
    return out


def yes_no(value: Any, default: str) -> str:
    """Y/N from a loose flag value."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return "Y" if value else "N"
    return "Y" if str(value).upper() in ("Y", "1", "TRUE") else "N"


def label_map(value: Any) -> dict[str, str]:
    """A label for every portal language from a string or a {lang: text} map."""
    if isinstance(value, dict):
        return {lang: str(value.get(lang, "")) for lang in USER_FIELD_LANGUAGES}
    text = "" if value is None else str(value)
    return dict.fromkeys(USER_FIELD_LANGUAGES, text)


def field_label(record: Mapping[str, Any]) -> str:
    """The human label used in validation messages."""
    labels = record.get("EDIT_FORM_LABEL") or {}
    return str(labels.get("en") or record["FIELD_NAME"])


def event_data(record: Mapping[str, Any]) -> dict[str, Any]:
    """`data` of ONCRMLEADUSERFIELD* events."""
    return {
        "FIELDS": {
            "ID": record["ID"],
            "ENTITY_ID": record["ENTITY_ID"],
            "FIELD_NAME": record["FIELD_NAME"],
        }
    }


_DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    "string": {
        "SIZE": 20,
        "ROWS": 1,
        "REGEXP": "",
        "MIN_LENGTH": 0,
        "MAX_LENGTH": 0,
        "DEFAULT_VALUE": "",
    },
    "integer": {"SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0, "DEFAULT_VALUE": None},
    "double": {"PRECISION": 2, "SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0, "DEFAULT_VALUE": None},
    "boolean": {
        "DEFAULT_VALUE": 0,
        "DISPLAY": "CHECKBOX",
        "LABEL": ["", ""],
        "LABEL_CHECKBOX": "",
    },
    "enumeration": {
        "DISPLAY": "LIST",
        "LIST_HEIGHT": 1,
        "CAPTION_NO_VALUE": "",
        "SHOW_NO_VALUE": "Y",
    },
    "date": {"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}},
    "datetime": {"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}, "USE_SECOND": "Y"},
    "crm": {"LEAD": "Y", "CONTACT": "N", "COMPANY": "N", "DEAL": "N"},
}


def default_settings(type_id: str, given: Any) -> dict[str, Any]:
    """Per-type SETTINGS defaults merged with what the caller sent."""
    settings = dict(_DEFAULT_SETTINGS.get(type_id, {}))
    if isinstance(given, dict):
        if type_id == "crm" and any(k in given for k in ("LEAD", "CONTACT", "COMPANY", "DEAL")):
            # Naming any entity switches the implicit LEAD=Y off.
            settings = dict.fromkeys(settings, "N")
        settings.update(given)
    return settings
