"""To-do activities: `crm.activity.todo.*` to add and move them, `crm.activity.*` to read,
list and complete them.

A to-do is the portal's universal activity (`PROVIDER_ID` `CRM_TODO`). It is added and its
deadline moved with the to-do methods; the to-do methods cannot complete one, so completing
goes through `crm.activity.update` with `COMPLETED=Y`. Reading and listing use the classic
activity methods, filtered by owner, responsible, completion and deadline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, ClassVar

from pydantic import Field

from bot.portal.methods.base import PortalMethod
from bot.portal.methods.lists import ListMethod
from bot.portal.models import PortalDateTime, PortalInt, PortalModel, YesNo
from bot.portal.session import PortalResponse

__all__ = [
    "TODO_PROVIDER",
    "Activity",
    "AddTodo",
    "CompleteActivity",
    "GetActivity",
    "ListActivities",
    "OwnerType",
    "UpdateTodoDeadline",
    "portal_moment",
]

TODO_PROVIDER = "CRM_TODO"
"""`PROVIDER_ID` of the universal to-do activity."""


class OwnerType(IntEnum):
    """CRM object types an activity may belong to (`ownerTypeId`)."""

    LEAD = 1
    DEAL = 2
    CONTACT = 3
    COMPANY = 4


def portal_moment(moment: datetime) -> str:
    """An aware moment as the portal's `datetime` parameter (ISO-8601 with offset, seconds)."""
    if moment.tzinfo is None:
        raise ValueError("a deadline needs a time zone")
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


class Activity(PortalModel):
    """One activity as `crm.activity.get`/`list` return it (the fields the bot reads)."""

    id: PortalInt = Field(default=None, alias="ID")
    owner_id: PortalInt = Field(default=None, alias="OWNER_ID")
    owner_type_id: PortalInt = Field(default=None, alias="OWNER_TYPE_ID")
    provider_id: str | None = Field(default=None, alias="PROVIDER_ID")
    subject: str | None = Field(default=None, alias="SUBJECT")
    description: str | None = Field(default=None, alias="DESCRIPTION")
    deadline: PortalDateTime = Field(default=None, alias="DEADLINE")
    completed: YesNo = Field(default=None, alias="COMPLETED")
    responsible_id: PortalInt = Field(default=None, alias="RESPONSIBLE_ID")


def _id_of(response: PortalResponse) -> int:
    """`{"id": 999}`, as the to-do methods answer."""
    result = response.result
    if isinstance(result, dict) and "id" in result:
        return int(result["id"])
    return int(result)


class AddTodo(PortalMethod[int]):
    """`crm.activity.todo.add`: a to-do on a CRM object's timeline; returns its id."""

    __api_method__: ClassVar[str] = "crm.activity.todo.add"
    __returning__: ClassVar[Any] = int
    __idempotent__: ClassVar[bool] = False

    owner_type_id: OwnerType = Field(alias="ownerTypeId")
    owner_id: int = Field(alias="ownerId")
    deadline: datetime = Field(exclude=True)
    title: str | None = None
    description: str | None = None
    responsible_id: int | None = Field(default=None, alias="responsibleId")

    def params(self) -> dict[str, Any]:
        """The documented camelCase params, the deadline with its offset."""
        params = super().params()
        params["ownerTypeId"] = int(self.owner_type_id)
        params["deadline"] = portal_moment(self.deadline)
        return params

    def build(self, response: PortalResponse) -> int:
        """The new to-do's id."""
        return _id_of(response)


class UpdateTodoDeadline(PortalMethod[int]):
    """`crm.activity.todo.updateDeadline`: move a to-do's deadline (not a completed one)."""

    __api_method__: ClassVar[str] = "crm.activity.todo.updateDeadline"
    __returning__: ClassVar[Any] = int

    id: int
    owner_type_id: OwnerType = Field(alias="ownerTypeId")
    owner_id: int = Field(alias="ownerId")
    value: datetime = Field(exclude=True)

    def params(self) -> dict[str, Any]:
        """id, owner and the new deadline with its offset."""
        params = super().params()
        params["ownerTypeId"] = int(self.owner_type_id)
        params["value"] = portal_moment(self.value)
        return params

    def build(self, response: PortalResponse) -> int:
        """The to-do's id."""
        return _id_of(response)


class CompleteActivity(PortalMethod[bool]):
    """`crm.activity.update` with `COMPLETED=Y`: mark an activity done (safe to repeat)."""

    __api_method__: ClassVar[str] = "crm.activity.update"
    __returning__: ClassVar[Any] = bool

    id: int

    def params(self) -> dict[str, Any]:
        """`{"id": ..., "fields": {"COMPLETED": "Y"}}`."""
        return {"id": self.id, "fields": {"COMPLETED": "Y"}}


class GetActivity(PortalMethod[Activity]):
    """`crm.activity.get`: one activity."""

    __api_method__: ClassVar[str] = "crm.activity.get"
    __returning__: ClassVar[Any] = Activity

    id: int


class ListActivities(ListMethod[Activity]):
    """`crm.activity.list`: one page (50) of activities by filter, in the caller's rights."""

    __api_method__: ClassVar[str] = "crm.activity.list"
    __item__: ClassVar[Any] = Activity
