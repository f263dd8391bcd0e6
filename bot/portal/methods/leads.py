"""Lead methods: `crm.lead.*` (fields, CRUD, list, product rows, contact bindings)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from bot.portal.methods.base import PortalMethod, Ref, portal_value
from bot.portal.methods.lists import ListMethod
from bot.portal.models import (
    FieldDescriptor,
    Lead,
    LeadChanges,
    LeadContactBinding,
    LeadDraft,
    ProductRow,
)

__all__ = [
    "AddLead",
    "AddLeadContact",
    "ClearLeadContacts",
    "DeleteLead",
    "DeleteLeadContact",
    "GetLead",
    "GetLeadContactFields",
    "GetLeadContacts",
    "GetLeadFields",
    "GetLeadProductRows",
    "ListLeads",
    "SetLeadContacts",
    "SetLeadProductRows",
    "UpdateLead",
]

EntityId = int | Ref


class GetLeadFields(PortalMethod[dict[str, FieldDescriptor]]):
    """`crm.lead.fields`: descriptors of every lead field, user fields included."""

    __api_method__: ClassVar[str] = "crm.lead.fields"
    __returning__: ClassVar[Any] = dict[str, FieldDescriptor]


class AddLead(PortalMethod[int]):
    """`crm.lead.add`: create a lead; returns its id. Never repeated blindly."""

    __api_method__: ClassVar[str] = "crm.lead.add"
    __returning__: ClassVar[Any] = int
    __idempotent__: ClassVar[bool] = False

    fields: LeadDraft | dict[str, Any]
    options: dict[str, str] | None = Field(default=None, alias="params")


class GetLead(PortalMethod[Lead]):
    """`crm.lead.get`: one lead with all its fields, multi-fields and user fields."""

    __api_method__: ClassVar[str] = "crm.lead.get"
    __returning__: ClassVar[Any] = Lead

    id: EntityId


class UpdateLead(PortalMethod[bool]):
    """`crm.lead.update`: change the given fields of a lead.

    Safe to repeat: values are set, multi-field edits go by ID, and the portal does not store
    an exact duplicate of an added multi-field value twice.
    """

    __api_method__: ClassVar[str] = "crm.lead.update"
    __returning__: ClassVar[Any] = bool

    id: EntityId
    fields: LeadChanges | dict[str, Any]
    options: dict[str, str] | None = Field(default=None, alias="params")


class DeleteLead(PortalMethod[bool]):
    """`crm.lead.delete`: delete a lead (and what depends on it only)."""

    __api_method__: ClassVar[str] = "crm.lead.delete"
    __returning__: ClassVar[Any] = bool

    id: EntityId


class ListLeads(ListMethod[Lead]):
    """`crm.lead.list`: one page (50) of leads."""

    __api_method__: ClassVar[str] = "crm.lead.list"
    __item__: ClassVar[Any] = Lead


class SetLeadProductRows(PortalMethod[bool]):
    """`crm.lead.productrows.set`: replace the lead's product rows (empty clears them)."""

    __api_method__: ClassVar[str] = "crm.lead.productrows.set"
    __returning__: ClassVar[Any] = bool

    id: EntityId
    rows: list[ProductRow]


class GetLeadProductRows(PortalMethod[list[ProductRow]]):
    """`crm.lead.productrows.get`: the lead's product rows."""

    __api_method__: ClassVar[str] = "crm.lead.productrows.get"
    __returning__: ClassVar[Any] = list[ProductRow]

    id: EntityId


class AddLeadContact(PortalMethod[bool]):
    """`crm.lead.contact.add`: bind a contact; false when already bound (so safe to repeat)."""

    __api_method__: ClassVar[str] = "crm.lead.contact.add"
    __returning__: ClassVar[Any] = bool

    id: EntityId
    # A dict when CONTACT_ID is a `Ref` to a contact added earlier in the same batch.
    fields: LeadContactBinding | dict[str, Any]


class DeleteLeadContact(PortalMethod[bool]):
    """`crm.lead.contact.delete`: unbind a contact; false when it was not bound."""

    __api_method__: ClassVar[str] = "crm.lead.contact.delete"
    __returning__: ClassVar[Any] = bool

    id: EntityId
    contact_id: EntityId = Field(exclude=True)

    def params(self) -> dict[str, Any]:
        """`{"id": ..., "fields": {"CONTACT_ID": ...}}`."""
        return {
            "id": portal_value(self.id),
            "fields": {"CONTACT_ID": portal_value(self.contact_id)},
        }


class GetLeadContacts(PortalMethod[list[LeadContactBinding]]):
    """`crm.lead.contact.items.get`: the contacts bound to a lead, in order."""

    __api_method__: ClassVar[str] = "crm.lead.contact.items.get"
    __returning__: ClassVar[Any] = list[LeadContactBinding]

    id: EntityId


class SetLeadContacts(PortalMethod[bool]):
    """`crm.lead.contact.items.set`: replace the lead's contact bindings."""

    __api_method__: ClassVar[str] = "crm.lead.contact.items.set"
    __returning__: ClassVar[Any] = bool

    id: EntityId
    items: list[LeadContactBinding]


class ClearLeadContacts(PortalMethod[bool]):
    """`crm.lead.contact.items.delete`: remove every contact binding of a lead."""

    __api_method__: ClassVar[str] = "crm.lead.contact.items.delete"
    __returning__: ClassVar[Any] = bool

    id: EntityId


class GetLeadContactFields(PortalMethod[dict[str, FieldDescriptor]]):
    """`crm.lead.contact.fields`: descriptors of the lead-contact binding fields."""

    __api_method__: ClassVar[str] = "crm.lead.contact.fields"
    __returning__: ClassVar[Any] = dict[str, FieldDescriptor]
