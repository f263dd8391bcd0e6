"""Widgets of the application: `placement.bind`, `placement.get`, `placement.unbind`."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from bot.portal.methods.base import PortalMethod
from bot.portal.models import PortalModel
from bot.portal.session import PortalResponse

__all__ = ["BindPlacement", "GetPlacements", "PlacementHandler", "UnbindPlacement"]


class PlacementHandler(PortalModel):
    """One widget handler the application registered (`placement.get`)."""

    placement: str = ""
    handler: str = ""
    title: str = ""
    user_id: int = Field(default=0, alias="userId")
    lang_all: dict[str, dict[str, str]] | list[Any] = Field(default_factory=dict, alias="langAll")


class BindPlacement(PortalMethod[bool]):
    """`placement.bind` (application context only; a webhook gets WRONG_AUTH_TYPE)."""

    __api_method__: ClassVar[str] = "placement.bind"
    __returning__: ClassVar[Any] = bool
    __idempotent__: ClassVar[bool] = False

    placement: str = Field(alias="PLACEMENT")
    handler: str = Field(alias="HANDLER")
    title: str | None = Field(default=None, alias="TITLE")
    lang_all: dict[str, dict[str, str]] | None = Field(default=None, alias="LANG_ALL")


class GetPlacements(PortalMethod[list[PlacementHandler]]):
    """`placement.get`: every widget handler the application registered."""

    __api_method__: ClassVar[str] = "placement.get"
    __returning__: ClassVar[Any] = list[PlacementHandler]


class UnbindPlacement(PortalMethod[int]):
    """`placement.unbind`: remove the placement's handlers (those at `handler` when given).

    The answer is `{"count": n}`; `build` returns n.
    """

    __api_method__: ClassVar[str] = "placement.unbind"
    __returning__: ClassVar[Any] = int

    placement: str = Field(alias="PLACEMENT")
    handler: str | None = Field(default=None, alias="HANDLER")

    def build(self, response: PortalResponse) -> int:
        """The `count` of the answer (0 when the portal sent something else)."""
        result = response.result
        count = result.get("count") if isinstance(result, dict) else None
        return int(count) if isinstance(count, int | str) and str(count).isdigit() else 0
