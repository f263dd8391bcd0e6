"""Typed portal methods: one small class per REST method the bot calls.

`await portal(GetLead(id=5))` returns a `Lead`; a batch of methods returns a
`BatchResult`, with `Ref("key", ...)` standing for an earlier command's result. Every
REST method name of the bot lives in one of these classes (see `all_methods()`).
"""

from __future__ import annotations

from typing import Any

from bot.portal.methods.activities import (
    Activity,
    AddTodo,
    CompleteActivity,
    GetActivity,
    ListActivities,
    OwnerType,
    UpdateTodoDeadline,
)
from bot.portal.methods.app import GetAppInfo
from bot.portal.methods.base import PortalMethod, Ref, portal_value
from bot.portal.methods.card import ForceCommonLeadCard, GetLeadCard, ResetLeadCard, SetLeadCard
from bot.portal.methods.catalog import GetCrmMode, ListProducts, ListStatuses
from bot.portal.methods.contacts import (
    AddContact,
    FindDuplicates,
    GetContact,
    ListContacts,
    UpdateContact,
)
from bot.portal.methods.events import (
    BindEvent,
    ClearOfflineEvents,
    FailOfflineEvents,
    GetEvents,
    GetOfflineEvents,
    ListOfflineEvents,
    UnbindEvent,
)
from bot.portal.methods.leads import (
    AddLead,
    AddLeadContact,
    ClearLeadContacts,
    DeleteLead,
    DeleteLeadContact,
    GetLead,
    GetLeadContactFields,
    GetLeadContacts,
    GetLeadFields,
    GetLeadProductRows,
    ListLeads,
    SetLeadContacts,
    SetLeadProductRows,
    UpdateLead,
)
from bot.portal.methods.lists import ListMethod
from bot.portal.methods.placement import (
    BindPlacement,
    GetPlacements,
    PlacementHandler,
    UnbindPlacement,
)
from bot.portal.methods.robots import (
    AddRobot,
    DeleteRobot,
    ListRobots,
    RobotFields,
    RobotProperty,
    SendBizprocEvent,
    UpdateRobot,
)
from bot.portal.methods.timeline import (
    AddTimelineComment,
    ListTimelineComments,
    TimelineComment,
)
from bot.portal.methods.userfields import (
    AddLeadUserField,
    DeleteLeadUserField,
    GetLeadUserField,
    ListLeadUserFields,
    UpdateLeadUserField,
)
from bot.portal.methods.users import GetCurrentUser, GetUsers

__all__ = [
    "Activity",
    "AddContact",
    "AddLead",
    "AddLeadContact",
    "AddLeadUserField",
    "AddRobot",
    "AddTimelineComment",
    "AddTodo",
    "BindEvent",
    "BindPlacement",
    "ClearLeadContacts",
    "ClearOfflineEvents",
    "CompleteActivity",
    "DeleteLead",
    "DeleteLeadContact",
    "DeleteLeadUserField",
    "DeleteRobot",
    "FailOfflineEvents",
    "FindDuplicates",
    "ForceCommonLeadCard",
    "GetActivity",
    "GetAppInfo",
    "GetContact",
    "GetCrmMode",
    "GetCurrentUser",
    "GetEvents",
    "GetLead",
    "GetLeadCard",
    "GetLeadContactFields",
    "GetLeadContacts",
    "GetLeadFields",
    "GetLeadProductRows",
    "GetLeadUserField",
    "GetOfflineEvents",
    "GetPlacements",
    "GetUsers",
    "ListActivities",
    "ListContacts",
    "ListLeadUserFields",
    "ListLeads",
    "ListMethod",
    "ListOfflineEvents",
    "ListProducts",
    "ListRobots",
    "ListStatuses",
    "ListTimelineComments",
    "OwnerType",
    "PlacementHandler",
    "PortalMethod",
    "Ref",
    "ResetLeadCard",
    "RobotFields",
    "RobotProperty",
    "SendBizprocEvent",
    "SetLeadCard",
    "SetLeadContacts",
    "SetLeadProductRows",
    "TimelineComment",
    "UnbindEvent",
    "UnbindPlacement",
    "UpdateContact",
    "UpdateLead",
    "UpdateLeadUserField",
    "UpdateRobot",
    "UpdateTodoDeadline",
    "all_methods",
    "portal_value",
]


def all_methods() -> list[type[PortalMethod[Any]]]:
    """Every concrete method class (one with a REST method name), by name."""
    found: list[type[PortalMethod[Any]]] = []
    pending: list[type[PortalMethod[Any]]] = list(PortalMethod.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "__api_method__" in vars(cls) and "[" not in cls.__name__ and cls not in found:
            found.append(cls)
    return sorted(found, key=lambda cls: cls.__name__)
