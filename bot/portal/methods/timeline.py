"""Timeline: `crm.timeline.comment.add`."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from bot.portal.methods.base import PortalMethod, Ref, portal_value

__all__ = ["AddTimelineComment"]


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
