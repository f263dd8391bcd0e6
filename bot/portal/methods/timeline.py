"""Timeline: `crm.timeline.comment.add` and `crm.timeline.comment.list`."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from bot.portal.methods.base import PortalMethod, Ref, portal_value
from bot.portal.methods.lists import ListMethod
from bot.portal.models import PortalInt, PortalModel

__all__ = ["AddTimelineComment", "ListTimelineComments", "TimelineComment"]


class TimelineComment(PortalModel):
    """One comment as `crm.timeline.comment.list` returns it (the fields the bot reads)."""

    id: PortalInt = Field(default=None, alias="ID")
    entity_id: PortalInt = Field(default=None, alias="ENTITY_ID")
    entity_type: str | None = Field(default=None, alias="ENTITY_TYPE")
    author_id: PortalInt = Field(default=None, alias="AUTHOR_ID")
    comment: str | None = Field(default=None, alias="COMMENT")


class AddTimelineComment(PortalMethod[int]):
    """`crm.timeline.comment.add`: a comment on an entity's timeline; returns its id."""

    __api_method__: ClassVar[str] = "crm.timeline.comment.add"
    __returning__: ClassVar[Any] = int
    __idempotent__: ClassVar[bool] = False

    entity_type: Literal["lead", "contact", "deal", "company"]
    entity_id: int | Ref
    comment: str
    author_id: int | None = None

    def params(self) -> dict[str, Any]:
        """Everything goes in `fields`, in the portal's names."""
        fields: dict[str, Any] = {
            "ENTITY_ID": portal_value(self.entity_id),
            "ENTITY_TYPE": self.entity_type,
            "COMMENT": self.comment,
        }
        if self.author_id is not None:
            fields["AUTHOR_ID"] = self.author_id
        return {"fields": fields}


class ListTimelineComments(ListMethod[TimelineComment]):
    """`crm.timeline.comment.list`: one page (50) of an entity's comments, by filter
    (`ENTITY_ID`, `ENTITY_TYPE`) and order (`ID`)."""

    __api_method__: ClassVar[str] = "crm.timeline.comment.list"
    __item__: ClassVar[Any] = TimelineComment
