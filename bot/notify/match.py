"""Which subscriptions a lead change reaches, and whether their reader may see it (pure)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from bot.access.roles import Action, Identity
from bot.notify.diff import ChangedField, LeadChange
from bot.storage.subscriptions import EventKind, Scope, Subscription


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


class SubscriptionIndex:
    """Active subscriptions with their subscribers, indexed by what a change is matched on.

    A change can only reach the "all leads" subscriptions that take its stage (those without
    a stage filter, and those whose filter names it) and the ones keyed on its responsible
    ("my leads" of that user, or "chosen responsibles" naming them), so matching a change
    looks at those few instead of every subscription: a thousand managers each following
    one stage cost a change only the ones following its stage.
    """

    def __init__(
        self, subscriptions: Iterable[Subscription], identities: Mapping[int, Identity]
    ) -> None:
        self._any: list[tuple[Subscription, Identity]] = []
        self._any_by_stage: dict[str, list[tuple[Subscription, Identity]]] = {}
        self._by_responsible: dict[int, list[tuple[Subscription, Identity]]] = {}
        self.size = 0
        for sub in sorted(subscriptions, key=lambda s: s.id):
            identity = identities.get(sub.created_by)
            if identity is None:
                continue  # unbound or deactivated: nothing reaches it
            self.size += 1
            pair = (sub, identity)
            if sub.scope is Scope.ALL and sub.stages:
                for stage in sub.stages:
                    self._any_by_stage.setdefault(stage, []).append(pair)
            elif sub.scope is Scope.ALL:
                self._any.append(pair)
            elif sub.scope is Scope.MINE:
                self._by_responsible.setdefault(identity.portal_user_id, []).append(pair)
            else:
                for user_id in sub.responsible_ids:
                    self._by_responsible.setdefault(user_id, []).append(pair)

    def candidates(
        self, assigned: int | None, stage: str = ""
    ) -> list[tuple[Subscription, Identity]]:
        """Subscriptions that may take a change of a lead with this responsible and stage, by
        id (their other filters still to be checked)."""
        parts = [
            part
            for part in (
                self._any,
                self._any_by_stage.get(stage, []),
                self._by_responsible.get(assigned, []) if assigned is not None else [],
            )
            if part
        ]
        if len(parts) <= 1:
            return parts[0] if parts else []
        return list(heapq.merge(*parts, key=lambda pair: pair[0].id))

    def matching(self, change: LeadChange) -> list[tuple[Subscription, Identity]]:
        """Subscriptions whose filters take the change and whose reader may see the lead."""
        assigned = change.assigned_by_id
        stage = str(change.lead.get("STATUS_ID") or "")
        return [
            (sub, identity)
            for sub, identity in self.candidates(assigned, stage)
            if subscription_wants(sub, change, identity.portal_user_id)
            and may_receive(identity, sub, assigned)
        ]


def is_urgent(change: LeadChange, sub: Subscription, reader: Identity) -> bool:
    """Whether the notification goes out even outside the chat's working hours.

    Two kinds cannot wait: a new lead to take, told to a group, and a lead that is now the
    reader's own (new to them, or just handed to them), told to their private chat.
    """
    if change.kind is EventKind.DELETED:
        return False
    if sub.is_group:
        return change.kind is EventKind.ADDED
    if change.assigned_by_id is None or change.assigned_by_id != reader.portal_user_id:
        return False
    handed_over = any(item.field == ChangedField.RESPONSIBLE for item in change.changes)
    return change.kind is EventKind.ADDED or handed_over
