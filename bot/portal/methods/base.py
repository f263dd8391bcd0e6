"""`PortalMethod`: one REST method as a small pydantic class, like aiogram's `TelegramMethod`.

A method names its REST method (`__api_method__`), says whether repeating it is harmless
(`__idempotent__`), and knows how to turn its fields into params (`params()`) and the answer
into its return type (`build()`). `await portal(GetLead(id=5))` returns a `Lead`;
`await portal.batch({"lead": GetLead(id=5), "rows": GetLeadProductRows(id=Ref("lead", "ID"))})`
returns a `BatchResult` whose `get(key, method)` is typed by the method.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter

from bot.portal.batch import BatchCommand, result_ref
from bot.portal.coerce import as_list
from bot.portal.php import RawValue
from bot.portal.session import PortalResponse

__all__ = ["PortalMethod", "Ref", "portal_value"]

R = TypeVar("R")


class Ref(BaseModel):
    """`$result[command][path...]`: an earlier batch command's result, put in by the portal.

    `Ref("lead", "ID")` is the ID of the command `lead`; `Ref("page")[49]["ID"]` works too.
    """

    model_config = ConfigDict(frozen=True)

    command: str
    path: tuple[str | int, ...] = ()

    def __init__(self, command: str, *path: str | int) -> None:
        super().__init__(command=command, path=tuple(path))

    def __getitem__(self, part: str | int) -> Self:
        return type(self)(self.command, *self.path, part)

    def raw(self) -> RawValue:
        """The reference as the portal reads it."""
        return result_ref(self.command, *self.path)


def portal_value(value: Any) -> Any:
    """A field value as the portal wants it: input models by their `to_portal`, refs as text."""
    if isinstance(value, Ref):
        return value.raw()
    to_portal = getattr(value, "to_portal", None)
    if isinstance(value, BaseModel) and callable(to_portal):
        return to_portal()
    if isinstance(value, Mapping):
        return {key: portal_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [portal_value(item) for item in value]
    return value


class PortalMethod(BaseModel, Generic[R]):
    """Base of every typed portal method; subclasses declare params as fields (by alias)."""

    # Built when first used, as the portal models are: most methods are rare in one process.
    model_config = ConfigDict(
        frozen=True, populate_by_name=True, arbitrary_types_allowed=True, defer_build=True
    )

    __api_method__: ClassVar[str]
    __returning__: ClassVar[Any]
    # Safe to send again when the answer was lost (reads, and writes that set values).
    __idempotent__: ClassVar[bool] = True

    def params(self) -> dict[str, Any]:
        """The request params: every set field by its portal name, None left out."""
        params: dict[str, Any] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            params[info.alias or name] = portal_value(value)
        return params

    def build(self, response: PortalResponse) -> R:
        """The typed result of a successful answer."""
        returning = type(self).__returning__
        result = response.result
        if returning is bool:
            return bool(result)  # type: ignore[return-value]
        if returning is int:
            return int(result)  # type: ignore[return-value]
        if getattr(returning, "__origin__", None) is list:
            result = as_list(result)
        adapter: TypeAdapter[R] = _adapter(returning)
        return adapter.validate_python(result)

    def command(self) -> BatchCommand:
        """This call as one command of a `batch`."""
        return BatchCommand(self.__api_method__, self.params())


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(returning: Any) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(returning)
    if adapter is None:
        adapter = _ADAPTERS[returning] = TypeAdapter(returning)
    return adapter
