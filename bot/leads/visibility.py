"""The one check every lead action starts with: may this caller see this lead?"""

from __future__ import annotations

from bot.access.roles import Action, Identity
from bot.portal import BatchResult, Lane, Lead, NotFoundError, PortalClient


class LeadHiddenError(Exception):
    """The lead does not exist, or the caller may not see it (reps cannot tell which)."""

    def __init__(self, lead_id: int) -> None:
        super().__init__(f"lead {lead_id} is not visible to the caller")
        self.lead_id = lead_id


def check_visible(identity: Identity, lead: Lead) -> None:
    """Raise LeadHiddenError unless `identity` may see `lead`."""
    if not identity.may_see_lead(lead.assigned_by_id):
        raise LeadHiddenError(lead.id or 0)


async def visible_lead(
    portal: PortalClient, identity: Identity, lead_id: int, *, lane: Lane = Lane.INTERACTIVE
) -> Lead:
    """The lead, re-read from the portal, if the caller may see it.

    A rep gets the same refusal for a colleague's lead and for a lead that does not exist, so
    ids cannot be probed; managers are told plainly that a lead is gone (NotFoundError).
    """
    try:
        lead = await portal.get_lead(lead_id, lane=lane)
    except NotFoundError:
        if identity.may(Action.VIEW_ALL_LEADS):
            raise
        raise LeadHiddenError(lead_id) from None
    check_visible(identity, lead)
    return lead


def visible_lead_in_batch(identity: Identity, lead_id: int, result: BatchResult, key: str) -> Lead:
    """The lead read by batch command `key`, if the caller may see it.

    Same rule as `visible_lead`: reps get one refusal for a colleague's lead and a missing
    one; managers are told a lead is gone.
    """
    try:
        raw = result[key]
    except NotFoundError:
        if identity.may(Action.VIEW_ALL_LEADS):
            raise
        raise LeadHiddenError(lead_id) from None
    except KeyError:
        # Not run: an earlier command of a halted batch failed and raised above already.
        raise LeadHiddenError(lead_id) from None
    lead = raw if isinstance(raw, Lead) else Lead.model_validate(raw)
    check_visible(identity, lead)
    return lead
