"""Lead card layout methods: `crm.lead.details.configuration.*`."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import Field

from bot.portal.coerce import as_list
from bot.portal.methods.base import PortalMethod
from bot.portal.models import CardSection, LeadCustomerType
from bot.portal.session import PortalResponse

__all__ = ["ForceCommonLeadCard", "GetLeadCard", "ResetLeadCard", "SetLeadCard"]


R = TypeVar("R")


class _CardMethod(PortalMethod[R], Generic[R]):
    scope: Literal["P", "C"] = "P"
    user_id: int | None = Field(default=None, alias="userId")
    lead_customer_type: LeadCustomerType | None = Field(default=None, exclude=True)

    def params(self) -> dict[str, Any]:
        """Scope, user and `extras.leadCustomerType` when given."""
        params = super().params()
        params.pop("lead_customer_type", None)
        if self.lead_customer_type is not None:
            params["extras"] = {"leadCustomerType": self.lead_customer_type}
        return params


class GetLeadCard(_CardMethod[list[CardSection] | None]):
    """`crm.lead.details.configuration.get`: the layout; None when never configured."""

    __api_method__: ClassVar[str] = "crm.lead.details.configuration.get"
    __returning__: ClassVar[Any] = list[CardSection]

    def build(self, response: PortalResponse) -> list[CardSection] | None:
        """None for an empty answer."""
        if not response.result:
            return None
        return [CardSection.model_validate(section) for section in as_list(response.result)]


class SetLeadCard(_CardMethod[bool]):
    """`crm.lead.details.configuration.set`: store a layout."""

    __api_method__: ClassVar[str] = "crm.lead.details.configuration.set"
    __returning__: ClassVar[Any] = bool

    data: list[CardSection]


class ResetLeadCard(_CardMethod[bool]):
    """`crm.lead.details.configuration.reset`: back to the default layout."""

    __api_method__: ClassVar[str] = "crm.lead.details.configuration.reset"
    __returning__: ClassVar[Any] = bool


class ForceCommonLeadCard(PortalMethod[bool]):
    """`crm.lead.details.configuration.forceCommonScopeForAll`: everybody uses the common one."""

    __api_method__: ClassVar[str] = "crm.lead.details.configuration.forceCommonScopeForAll"
    __returning__: ClassVar[Any] = bool

    lead_customer_type: LeadCustomerType | None = None

    def params(self) -> dict[str, Any]:
        """`extras.leadCustomerType` when given."""
        if self.lead_customer_type is None:
            return {}
        return {"extras": {"leadCustomerType": self.lead_customer_type}}
