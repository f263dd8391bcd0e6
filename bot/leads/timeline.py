"""Comments the bot leaves on a lead's timeline, found again by the mark their text carries."""

from __future__ import annotations

from bot.portal import Lane, PortalClient
from bot.portal.methods import ListTimelineComments


async def find_marked_comment(portal: PortalClient, lead_id: int, mark: str) -> int | None:
    """The id of the lead's comment whose text carries `mark`, among its latest 50."""
    if not mark:
        return None
    page = await portal(
        ListTimelineComments(
            filter={"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead"},
            select=["ID", "COMMENT"],
            order={"ID": "DESC"},
        ),
        lane=Lane.INTERACTIVE,
    )
    return next((c.id for c in page.items if c.id is not None and mark in (c.comment or "")), None)
