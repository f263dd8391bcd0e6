"""Dictionaries, products and settings: `crm.status.list`, `crm.product.list`,
`crm.settings.mode.get`."""

from __future__ import annotations

from typing import Any, ClassVar

from bot.portal.methods.base import PortalMethod
from bot.portal.methods.lists import ListMethod
from bot.portal.models import CrmMode, Product, Status
from bot.portal.session import PortalResponse

__all__ = ["GetCrmMode", "ListProducts", "ListStatuses"]


class ListStatuses(PortalMethod[list[Status]]):
    """`crm.status.list`: entries of one CRM dictionary (`STATUS` stages, `SOURCE`...)."""

    __api_method__: ClassVar[str] = "crm.status.list"
    __returning__: ClassVar[Any] = list[Status]

    entity_id: str

    def params(self) -> dict[str, Any]:
        """By SORT, filtered to the dictionary."""
        return {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": self.entity_id}}


class ListProducts(ListMethod[Product]):
    """`crm.product.list`: one page (50) of catalog products."""

    __api_method__: ClassVar[str] = "crm.product.list"
    __item__: ClassVar[Any] = Product


class GetCrmMode(PortalMethod[CrmMode]):
    """`crm.settings.mode.get`: classic (leads on) or simple CRM."""

    __api_method__: ClassVar[str] = "crm.settings.mode.get"
    __returning__: ClassVar[Any] = CrmMode

    def build(self, response: PortalResponse) -> CrmMode:
        """The mode number as the enum."""
        return CrmMode(int(response.result))
