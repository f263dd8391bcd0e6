"""The portal's bodies parse into our models without loss, and our inputs serialise as it wants."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from bot.portal.models import (
    CardSection,
    CrmMode,
    DuplicateMatches,
    EventHandler,
    FieldDescriptor,
    Lead,
    LeadChanges,
    LeadContactBinding,
    LeadDraft,
    MultiFieldChange,
    MultiFieldValue,
    PortalUser,
    Product,
    ProductRow,
    ResponseTime,
    Semantics,
    Status,
    UserField,
    UserFieldChanges,
    UserFieldDraft,
    multifield_changes,
)
from tests.reference import EXAMPLES

FIELDS = TypeAdapter(dict[str, FieldDescriptor])


def _example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def _same(original: Any, dumped: Any) -> bool:
    """Equal as the portal means it: "123" == 123, "15000.00" == Decimal, "" == None."""
    if original == dumped:
        return True
    if isinstance(original, dict) and isinstance(dumped, dict):
        return original.keys() == dumped.keys() and all(
            _same(original[k], dumped[k]) for k in original
        )
    if isinstance(original, list) and isinstance(dumped, list):
        return len(original) == len(dumped) and all(
            _same(a, b) for a, b in zip(original, dumped, strict=True)
        )
    if original in ("", None, [], False) and dumped in ("", None, [], False):
        return True
    try:
        return Decimal(str(original)) == Decimal(str(dumped))
    except InvalidOperation:
        return str(original) == str(dumped)


def _round_trip(model: BaseModel, original: dict[str, Any]) -> None:
    dumped = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert set(dumped) == set(original)
    assert _same(original, dumped), (original, dumped)


# A lead as crm.lead.get documents it (3.3): strings for numbers, "" for empty dates, a UF.
LEAD_BODY: dict[str, Any] = {
    "ID": "1591",
    "TITLE": "Lead #1591",
    "HONORIFIC": None,
    "NAME": "Gleb",
    "SECOND_NAME": None,
    "LAST_NAME": "Titov",
    "COMPANY_TITLE": None,
    "COMPANY_ID": "0",
    "CONTACT_ID": None,
    "IS_RETURN_CUSTOMER": "N",
    "BIRTHDATE": "",
    "SOURCE_ID": "CALL",
    "SOURCE_DESCRIPTION": None,
    "STATUS_ID": "NEW",
    "STATUS_DESCRIPTION": None,
    "POST": None,
    "COMMENTS": None,
    "CURRENCY_ID": "USD",
    "OPPORTUNITY": "15000.00",
    "IS_MANUAL_OPPORTUNITY": "N",
    "HAS_PHONE": "Y",
    "HAS_EMAIL": "N",
    "HAS_IMOL": "N",
    "ASSIGNED_BY_ID": "1",
    "CREATED_BY_ID": "1",
    "MODIFY_BY_ID": "1",
    "DATE_CREATE": "2024-05-23T18:18:25+02:00",
    "DATE_MODIFY": "2024-05-23T18:18:25+02:00",
    "DATE_CLOSED": "",
    "STATUS_SEMANTIC_ID": "P",
    "OPENED": "Y",
    "ORIGINATOR_ID": None,
    "ORIGIN_ID": None,
    "MOVED_BY_ID": "1",
    "MOVED_TIME": "2024-05-23T18:18:25+02:00",
    "ADDRESS": None,
    "ADDRESS_2": None,
    "ADDRESS_CITY": None,
    "ADDRESS_POSTAL_CODE": None,
    "ADDRESS_REGION": None,
    "ADDRESS_PROVINCE": None,
    "ADDRESS_COUNTRY": None,
    "ADDRESS_COUNTRY_CODE": None,
    "ADDRESS_LOC_ADDR_ID": None,
    "UTM_SOURCE": None,
    "UTM_MEDIUM": None,
    "UTM_CAMPAIGN": None,
    "UTM_CONTENT": None,
    "UTM_TERM": None,
    "LAST_ACTIVITY_BY": "1",
    "LAST_ACTIVITY_TIME": "2024-05-23T18:18:25+02:00",
    "PHONE": [{"ID": "11658", "VALUE_TYPE": "OTHER", "VALUE": "+15454777777", "TYPE_ID": "PHONE"}],
    "IM": [
        {
            "ID": "11660",
            "VALUE_TYPE": "OPENLINE",
            "VALUE": "imol|livechat|1|67|21",
            "TYPE_ID": "IM",
        }
    ],
    "UF_CRM_1687188367": "",
    "UF_CRM_FLAG": True,
    "UF_CRM_MULTI": ["1", "2"],
    "SOMETHING_NEW": {"nested": 1},
}


def test_lead_body_parses_into_types() -> None:
    lead = Lead.model_validate(LEAD_BODY)
    assert lead.id == 1591
    assert lead.opportunity == Decimal("15000.00")
    assert lead.date_closed is None
    assert lead.birthdate is None
    assert lead.date_create == datetime(
        2024, 5, 23, 18, 18, 25, tzinfo=timezone(timedelta(hours=2))
    )
    assert lead.opened is True
    assert lead.has_email is False
    assert lead.company_id == 0
    assert lead.contact_id is None
    assert lead.phone[0].id == 11658
    assert lead.im[0].value_type == "OPENLINE"
    assert lead.email == []
    assert lead.user_fields == {
        "UF_CRM_1687188367": "",
        "UF_CRM_FLAG": True,
        "UF_CRM_MULTI": ["1", "2"],
    }
    assert lead.extra_fields()["SOMETHING_NEW"] == {"nested": 1}
    assert lead.full_name == "Gleb Titov"


def test_lead_body_survives_a_round_trip() -> None:
    _round_trip(Lead.model_validate(LEAD_BODY), LEAD_BODY)


def test_lead_list_item_with_select_keeps_only_what_came() -> None:
    item = {"ID": "7", "TITLE": "x", "UF_CRM_NOTE": None}
    lead = Lead.model_validate(item)
    assert lead.to_portal() == {"ID": 7, "TITLE": "x", "UF_CRM_NOTE": None}


def test_birthdate_sent_as_midnight_timestamp_is_a_date() -> None:
    lead = Lead.model_validate({"ID": 1, "BIRTHDATE": "1989-07-14T03:00:00+03:00"})
    assert lead.birthdate == date(1989, 7, 14)


def test_lead_add_request_from_the_docs_is_a_draft() -> None:
    fields = _example("crm.lead.add.request.json")["fields"]
    draft = LeadDraft.model_validate(fields)
    assert draft.phone == [MultiFieldChange.add("555888", "WORK")]
    assert _same(fields, draft.to_portal())


def test_lead_update_request_from_the_docs_is_a_change_set() -> None:
    fields = _example("crm.lead.update.request.json")["fields"]
    changes = LeadChanges.model_validate(fields)
    assert _same(fields, changes.to_portal())


def test_draft_sends_user_fields_and_only_what_was_set() -> None:
    draft = LeadDraft(title="Visit", opportunity=Decimal("10.5"), UF_CRM_SOURCE_CHAT="tg")
    assert draft.to_portal() == {
        "TITLE": "Visit",
        "OPPORTUNITY": "10.5",
        "UF_CRM_SOURCE_CHAT": "tg",
    }


def test_draft_refuses_changes_of_stored_values() -> None:
    with pytest.raises(ValueError, match="new multi-field values"):
        LeadDraft(phone=[MultiFieldChange.delete(5)])


def test_multifield_edits_serialise_per_the_merge_rules() -> None:
    added = _example("multifield.update.add-value.request.json")["fields"]["PHONE"]
    changed = _example("multifield.update.change-value.request.json")["fields"]["PHONE"]
    assert LeadChanges(phone=[MultiFieldChange.add("55555", "WORK")]).to_portal() == {
        "PHONE": added
    }
    edit = MultiFieldChange.change(223, "444444", "MOBILE")
    assert LeadChanges(phone=[edit]).to_portal() == {"PHONE": changed}
    assert MultiFieldChange.delete(222).model_dump() == {"ID": 222, "DELETE": "Y"}
    assert MultiFieldChange.change(5, "x").model_dump() == {"ID": 5, "VALUE": "x"}


def test_multifield_edits_refuse_empty_values() -> None:
    with pytest.raises(ValueError, match="skipped"):
        MultiFieldChange.add("  ")
    with pytest.raises(ValueError, match="delete"):
        MultiFieldChange.change(1, "")


@pytest.mark.parametrize(
    "name",
    [
        "multifield.existing-phones.json",
        "multifield.existing-phones-4.json",
        "multifield.after-delete.json",
    ],
)
def test_stored_multifield_values_parse_without_loss(name: str) -> None:
    for item in _example(name):
        _round_trip(MultiFieldValue.model_validate(item), item)


def test_changes_to_reach_a_wanted_set_delete_one_by_one() -> None:
    stored = [
        MultiFieldValue.model_validate(v) for v in _example("multifield.existing-phones-4.json")
    ]
    changes = multifield_changes(stored, [("44444", "WORK"), ("999", "MOBILE")])
    assert [c.model_dump() for c in changes] == [
        {"ID": 222, "DELETE": "Y"},
        {"ID": 223, "DELETE": "Y"},
        {"ID": 224, "DELETE": "Y"},
        {"VALUE": "999", "VALUE_TYPE": "MOBILE"},
    ]


@pytest.mark.parametrize(
    "name",
    [
        "crm.lead.fields.response.json",
        "crm.lead.contact.fields.response.json",
        "crm.multifield.fields.response.json",
    ],
)
def test_field_descriptors_parse_without_loss(name: str) -> None:
    body = _example(name)["result"]
    fields = FIELDS.validate_python(body)
    for code, descriptor in fields.items():
        _round_trip(descriptor, body[code])


def test_lead_field_descriptors_carry_types_and_flags() -> None:
    fields = FIELDS.validate_python(_example("crm.lead.fields.response.json")["result"])
    assert fields["STATUS_ID"].status_type == "STATUS"
    assert fields["ID"].is_read_only
    assert fields["CONTACT_ID"].is_deprecated
    assert fields["COMPANY_ID"].settings == {"parentEntityTypeId": 4}
    assert fields["PHONE"].is_multiple


def test_user_field_descriptor_label_comes_from_labels() -> None:
    descriptor = FieldDescriptor.model_validate(
        {
            "type": "enumeration",
            "isRequired": True,
            "isReadOnly": False,
            "isImmutable": False,
            "isMultiple": False,
            "isDynamic": True,
            "title": "UF_CRM_1687188367",
            "listLabel": "Budget",
            "formLabel": "Budget range",
            "filterLabel": "Budget",
            "items": [{"ID": "45", "VALUE": "< 1000"}],
            "settings": {"DISPLAY": "LIST"},
        }
    )
    assert descriptor.label == "Budget range"
    assert descriptor.items is not None
    assert descriptor.items[0].id == 45


def test_statuses_parse_without_loss_and_know_their_semantics() -> None:
    body = _example("crm.status.list.DEAL_STAGE.response.json")["result"]
    stages = [Status.model_validate(item) for item in body]
    for stage, item in zip(stages, body, strict=True):
        _round_trip(stage, item)
    by_id = {stage.status_id: stage for stage in stages}
    assert by_id["NEW"].semantics is Semantics.PROCESS
    assert by_id["WON"].semantics is Semantics.SUCCESS
    assert by_id["APOLOGY"].semantics is Semantics.FAILURE
    assert by_id["NEW"].sort == 10


def test_status_entity_items_parse_without_loss() -> None:
    for item in _example("crm.status.entity.items.DEAL_STAGE.response.json")["result"]:
        _round_trip(Status.model_validate(item), item)


def test_lead_stage_dictionary_entry_from_the_reference() -> None:
    item = {
        "ID": "1",
        "ENTITY_ID": "STATUS",
        "STATUS_ID": "NEW",
        "NAME": "Not processed",
        "NAME_INIT": "Not processed",
        "SORT": "10",
        "SYSTEM": "Y",
        "CATEGORY_ID": None,
        "COLOR": "#00FFFF",
        "SEMANTICS": None,
        "EXTRA": {"SEMANTICS": "process", "COLOR": "#00FFFF"},
    }
    status = Status.model_validate(item)
    _round_trip(status, item)
    assert status.system is True


def test_empty_duplicate_answer_is_an_empty_match() -> None:
    matches = DuplicateMatches.model_validate(
        _example("crm.duplicate.findbycomm.empty.response.json")["result"]
    )
    assert matches.empty


def test_duplicate_answer_lists_ids_per_type() -> None:
    body = {"LEAD": [1001149], "CONTACT": [2693], "COMPANY": [3013]}
    matches = DuplicateMatches.model_validate(body)
    _round_trip(matches, body)
    assert matches.lead == [1001149]


def test_crm_mode_answer() -> None:
    assert CrmMode(_example("crm.settings.mode.get.response.json")["result"]) is CrmMode.CLASSIC
    assert [item["ID"] for item in _example("crm.enum.settings.mode.response.json")["result"]] == [
        CrmMode.CLASSIC,
        CrmMode.SIMPLE,
    ]


def test_event_handlers_parse_without_loss() -> None:
    for item in _example("event.get.response.json")["result"]:
        handler = EventHandler.model_validate(item)
        _round_trip(handler, item)
        assert handler.offline is False
    offline = {"event": "ONCRMLEADUPDATE", "connector_id": "", "offline": 1}
    _round_trip(EventHandler.model_validate(offline), offline)


@pytest.mark.parametrize(
    "name",
    ["time.block.json"],
)
def test_time_block_parses_without_loss(name: str) -> None:
    block = _example(name)["time"]
    _round_trip(ResponseTime.model_validate(block), block)


@pytest.mark.parametrize(
    "name",
    [
        "crm.lead.fields.response.json",
        "crm.lead.userfield.add.response.json",
        "crm.lead.delete.response.json",
        "crm.status.list.DEAL_STAGE.response.json",
        "event.get.response.json",
    ],
)
def test_every_time_block_of_the_examples_parses(name: str) -> None:
    block = _example(name)["time"]
    _round_trip(ResponseTime.model_validate(block), block)


def test_product_rows_request_rows_serialise_as_sent() -> None:
    rows = _example("crm.lead.productrows.set.request.json")["rows"]
    for row in rows:
        assert _same(row, ProductRow.model_validate(row).to_portal())


def test_product_row_as_productrows_get_returns_it() -> None:
    row = {
        "ID": "2321",
        "OWNER_ID": "5",
        "OWNER_TYPE": "L",
        "PRODUCT_ID": 456,
        "PRODUCT_NAME": "Product #1",
        "ORIGINAL_PRODUCT_NAME": "Product #1",
        "PRODUCT_DESCRIPTION": "",
        "PRICE": 900,
        "PRICE_EXCLUSIVE": 900,
        "PRICE_NETTO": 1000,
        "PRICE_BRUTTO": 1017,
        "PRICE_ACCOUNT": "10.00000000",
        "QUANTITY": 10,
        "DISCOUNT_TYPE_ID": 1,
        "DISCOUNT_RATE": 10,
        "DISCOUNT_SUM": 100,
        "TAX_RATE": None,
        "TAX_INCLUDED": "N",
        "CUSTOMIZED": "Y",
        "MEASURE_CODE": 796,
        "MEASURE_NAME": "pcs",
        "SORT": 10,
        "XML_ID": "",
        "TYPE": 1,
        "STORE_ID": None,
        "RESERVE_ID": None,
        "DATE_RESERVE_END": "",
        "RESERVE_QUANTITY": None,
    }
    parsed = ProductRow.model_validate(row)
    _round_trip(parsed, row)
    assert parsed.price_account == Decimal("10.00000000")
    assert parsed.tax_rate is None
    assert "OWNER_ID" not in parsed.to_portal()


def test_lead_contact_bindings() -> None:
    request = _example("crm.lead.contact.add.request.json")["fields"]
    assert LeadContactBinding.model_validate(request).to_portal() == request
    for item in _example("crm.lead.contact.items.set.request.json")["items"]:
        assert LeadContactBinding.model_validate(item).to_portal() == item
    got = {"CONTACT_ID": 1010, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}
    binding = LeadContactBinding.model_validate(got)
    _round_trip(binding, got)
    assert binding.is_primary is True


@pytest.mark.parametrize(
    "name",
    [
        "crm.lead.userfield.add.string.request.json",
        "crm.lead.userfield.add.enumeration.request.json",
    ],
)
def test_user_field_add_requests_are_drafts(name: str) -> None:
    fields = _example(name)["fields"]
    assert _same(fields, UserFieldDraft.model_validate(fields).to_portal())


def test_user_field_update_request_is_a_change_set() -> None:
    fields = _example("crm.lead.userfield.update.request.json")["fields"]
    assert _same(fields, UserFieldChanges.model_validate(fields).to_portal())


def test_user_field_as_get_returns_it() -> None:
    body = {
        "ID": "6997",
        "ENTITY_ID": "CRM_LEAD",
        "FIELD_NAME": "UF_CRM_ENUMERATION_EXAMPLE",
        "USER_TYPE_ID": "enumeration",
        "XML_ID": None,
        "SORT": "2000",
        "MULTIPLE": "N",
        "MANDATORY": "N",
        "SHOW_FILTER": "E",
        "SHOW_IN_LIST": "Y",
        "EDIT_IN_LIST": "Y",
        "IS_SEARCHABLE": "N",
        "SETTINGS": {"DISPLAY": "UI", "LIST_HEIGHT": 2},
        "EDIT_FORM_LABEL": {"en": "Custom field (list)", "de": "Custom field (list)"},
        "LIST_COLUMN_LABEL": {"en": "Custom field (list)"},
        "LIST_FILTER_LABEL": {"en": "Custom field (list)"},
        "ERROR_MESSAGE": {"en": ""},
        "HELP_MESSAGE": {"en": ""},
        "LIST": [
            {"ID": "45", "SORT": "100", "VALUE": "List item #1", "DEF": "Y", "XML_ID": "XML_ID_1"}
        ],
    }
    field = UserField.model_validate(body)
    _round_trip(field, body)
    assert field.items is not None
    assert field.items[0].default is True
    assert field.sort == 2000


def test_card_layout_request_round_trips() -> None:
    data = _example("crm.lead.details.configuration.set.request.json")["data"]
    sections = [CardSection.model_validate(section) for section in data]
    assert [s.to_portal() for s in sections] == data


def test_portal_user_parses_strings_and_flags() -> None:
    body = {
        "ID": "1",
        "ACTIVE": True,
        "NAME": "Ivan",
        "LAST_NAME": "Petrov",
        "EMAIL": "",
        "PERSONAL_MOBILE": "+79990001122",
        "WORK_PHONE": "",
        "UF_DEPARTMENT": [1],
        "TIME_ZONE": "",
    }
    user = PortalUser.model_validate(body)
    _round_trip(user, body)
    assert user.id == 1
    assert user.active is True
    assert user.full_name == "Ivan Petrov"


def test_a_portal_user_keeps_only_the_fields_it_names() -> None:
    # The directory holds every user for the whole run: the other 30-odd fields a portal
    # sends per user are not kept.
    user = PortalUser.model_validate(
        {
            "ID": "7",
            "NAME": "Olga",
            "PERSONAL_BIRTHDAY": "1990-01-01T03:00:00+03:00",
            "UF_SKYPE": "olga",
            "LAST_LOGIN": "2026-12-01T10:00:00+03:00",
        }
    )
    assert user.extra_fields() == {}
    assert user.to_portal() == {"ID": 7, "NAME": "Olga"}


def test_product_parses_price_as_decimal() -> None:
    body = {
        "ID": "12",
        "NAME": "Chair",
        "PRICE": "150.00",
        "CURRENCY_ID": "RUB",
        "ACTIVE": "Y",
        "SECTION_ID": None,
        "MEASURE": "9",
        "SORT": "500",
    }
    product = Product.model_validate(body)
    _round_trip(product, body)
    assert product.price == Decimal("150.00")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.response.json")), ids=lambda p: p.name)
def test_every_example_response_envelope_parses_without_loss(path: Path) -> None:
    body = json.loads(path.read_text())
    if "result" not in body:  # OAuth token answers have no envelope
        assert "access_token" in body
        return
    if "time" in body:
        _round_trip(ResponseTime.model_validate(body["time"]), body["time"])


def test_field_descriptor_with_empty_php_settings_array() -> None:
    descriptor = FieldDescriptor.model_validate(
        {"type": "string", "isRequired": True, "title": "UF_CRM_X", "settings": []}
    )
    assert descriptor.settings is None
    assert descriptor.is_required


@pytest.mark.parametrize("garbage", ["x", "12abc", "NaN", "Infinity", "1e999999"])
def test_an_id_that_is_no_number_is_a_validation_error(garbage: str) -> None:
    """A malformed portal answer is refused as invalid, not with an arithmetic error."""
    with pytest.raises(ValidationError, match="not a whole number"):
        Lead.model_validate({"ID": "5", "ASSIGNED_BY_ID": garbage})
    assert Lead.model_validate({"ID": " 7 ", "ASSIGNED_BY_ID": "12.0"}).assigned_by_id == 12
