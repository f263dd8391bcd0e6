"""Contact methods: `crm.contact.*` and the duplicate search."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from bot.portal.methods.base import PortalMethod, Ref
from bot.portal.methods.lists import ListMethod
from bot.portal.models import Contact, ContactChanges, ContactDraft, DuplicateMatches

__all__ = ["AddContact", "FindDuplicates", "GetContact", "ListContacts", "UpdateContact"]


class AddContact(PortalMethod[int]):
    """`crm.contact.add`: create a contact; returns its id. Never repeated blindly."""

    __api_method__: ClassVar[str] = "crm.contact.add"
    __returning__: ClassVar[Any] = int
    __idempotent__: ClassVar[bool] = False

    fields: ContactDraft
    options: dict[str, str] | None = Field(default=None, alias="params")


class GetContact(PortalMethod[Contact]):
    """`crm.contact.get`: one contact."""

    __api_method__: ClassVar[str] = "crm.contact.get"
    __returning__: ClassVar[Any] = Contact

    id: int | Ref


class ListContacts(ListMethod[Contact]):
    """`crm.contact.list`: one page (50) of contacts."""

    __api_method__: ClassVar[str] = "crm.contact.list"
    __item__: ClassVar[Any] = Contact


class UpdateContact(PortalMethod[bool]):
    """`crm.contact.update`: change the given fields of a contact."""

    __api_method__: ClassVar[str] = "crm.contact.update"
    __returning__: ClassVar[Any] = bool

    id: int | Ref
    fields: ContactChanges


class FindDuplicates(PortalMethod[DuplicateMatches]):
    """`crm.duplicate.findbycomm`: leads/contacts/companies with any of `values` (first 20)."""

    __api_method__: ClassVar[str] = "crm.duplicate.findbycomm"
    __returning__: ClassVar[Any] = DuplicateMatches

    type: Literal["PHONE", "EMAIL"]
    values: list[str]
    entity_type: Literal["LEAD", "CONTACT", "COMPANY"] | None = None
