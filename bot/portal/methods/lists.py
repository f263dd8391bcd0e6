"""What every classic `*.list` method shares: filter, select, order, start, and a `Page`."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field

from bot.portal.coerce import as_list
from bot.portal.methods.base import PortalMethod, _adapter
from bot.portal.models import Page
from bot.portal.session import PortalResponse

__all__ = ["ListMethod", "Order"]

T = TypeVar("T")
Order = dict[str, Literal["ASC", "DESC", "asc", "desc"]]


class ListMethod(PortalMethod[Page[T]]):
    """One page (50) with `total` and `next`; `start=-1` skips counting."""

    __item__: ClassVar[Any]

    filter: dict[str, Any] | None = None
    select: list[str] | None = None
    order: Order | None = None
    start: int = Field(default=0)

    def params(self) -> dict[str, Any]:
        """`start` always; the rest when given and not empty."""
        params = super().params()
        return {key: value for key, value in params.items() if value or key == "start"}

    def build(self, response: PortalResponse) -> Page[T]:
        """The page's items typed, with the list's `total` and `next`."""
        adapter = _adapter(type(self).__item__)
        items = [adapter.validate_python(item) for item in as_list(response.result)]
        return Page(items=items, total=response.total, next=response.next)
