"""Lead user field methods: `crm.lead.userfield.*`."""

from __future__ import annotations

from typing import Any, ClassVar

from bot.portal.methods.base import PortalMethod
from bot.portal.methods.lists import Order
from bot.portal.models import UserField, UserFieldChanges, UserFieldDraft

__all__ = [
    "AddLeadUserField",
    "DeleteLeadUserField",
    "GetLeadUserField",
    "ListLeadUserFields",
    "UpdateLeadUserField",
]


class AddLeadUserField(PortalMethod[int]):
    """`crm.lead.userfield.add`: create a lead user field; returns its id."""

    __api_method__: ClassVar[str] = "crm.lead.userfield.add"
    __returning__: ClassVar[Any] = int
    __idempotent__: ClassVar[bool] = False

    fields: UserFieldDraft


class UpdateLeadUserField(PortalMethod[bool]):
    """`crm.lead.userfield.update`: change a field's settings, labels or list items."""

    __api_method__: ClassVar[str] = "crm.lead.userfield.update"
    __returning__: ClassVar[Any] = bool

    id: int
    fields: UserFieldChanges


class GetLeadUserField(PortalMethod[UserField]):
    """`crm.lead.userfield.get`: one lead user field."""

    __api_method__: ClassVar[str] = "crm.lead.userfield.get"
    __returning__: ClassVar[Any] = UserField

    id: int


class ListLeadUserFields(PortalMethod[list[UserField]]):
    """`crm.lead.userfield.list`: fields matching `filter` (`LANG` gives plain labels)."""

    __api_method__: ClassVar[str] = "crm.lead.userfield.list"
    __returning__: ClassVar[Any] = list[UserField]

    filter: dict[str, Any] | None = None
    order: Order | None = None

    def params(self) -> dict[str, Any]:
        """Only a non-empty filter and order are sent."""
        return {key: value for key, value in super().params().items() if value}


class DeleteLeadUserField(PortalMethod[bool]):
    """`crm.lead.userfield.delete`: delete a field and its values on every lead."""

    __api_method__: ClassVar[str] = "crm.lead.userfield.delete"
    __returning__: ClassVar[Any] = bool

    id: int
