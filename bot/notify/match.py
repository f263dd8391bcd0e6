"""Which subscriptions a lead change reaches, and whether their reader may see it (pure)."""

from __future__ import annotations

from bot.access.roles import Action, Identity
from bot.notify.diff import LeadChange
from bot.storage.subscriptions import Scope, Subscription


def subscription_wants(
    subscription: Subscription, change: LeadChange, portal_user_id: int
) -> bool:
    """Whether the subscription's filters (kinds, scope, stages, sources) take this change.

    `portal_user_id` is the subscriber's portal user ("my leads").
    """
    if subscription.kinds and not (subscription.kinds & change.kinds):
        return False
    assigned = change.assigned_by_id
    if subscription.scope is Scope.MINE and assigned != portal_user_id:
        return False
    if subscription.scope is Scope.USERS and assigned not in subscription.responsible_ids:
        return False
    if subscription.stages and str(change.lead.get("STATUS_ID") or "") not in subscription.stages:
        return False
    source = str(change.lead.get("SOURCE_ID") or "")
    return not (subscription.sources and source not in subscription.sources)


def may_receive(
    identity: Identity | None, subscription: Subscription, assigned: int | None
) -> bool:
    """The reader (subscriber) is bound and active and may see the lead, at this moment.

    A group hears only what its subscriber may see, and only while that subscriber may still
    keep group subscriptions.
    """
    if identity is None:
        return False
    if subscription.is_group and not identity.may(Action.SUBSCRIBE_GROUP):
        return False
    return identity.may_see_lead(assigned)
