"""Emulator handlers of `bizproc.robot.*` and `bizproc.event.send`, with the docs' errors."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.emulators.bitrix24_crm import CrmError
from tests.emulators.bitrix24_rest import MethodOutcome, _ok, rest
from tests.emulators.bitrix24_robots import RegisteredRobot

if TYPE_CHECKING:
    from tests.emulators.bitrix24 import AuthContext, Bitrix24Emulator

_CODE = re.compile(r"^[A-Za-z0-9._-]+$")
_PROPERTY_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
VALIDATION = "ERROR_ACTIVITY_VALIDATION_FAILURE"
FIELDS = (
    "HANDLER",
    "AUTH_USER_ID",
    "USE_SUBSCRIPTION",
    "NAME",
    "DESCRIPTION",
    "PROPERTIES",
    "RETURN_PROPERTIES",
    "DOCUMENT_TYPE",
    "FILTER",
    "USE_PLACEMENT",
    "PLACEMENT_HANDLER",
)


def _application_admin(emu: Bitrix24Emulator, ctx: AuthContext) -> None:
    if ctx.kind != "oauth":
        raise CrmError("Application context required", "ACCESS_DENIED", 403)
    if not emu.is_admin(ctx.user_id):
        raise CrmError("Access denied!", "ACCESS_DENIED", 403)


def _code(params: dict[str, Any]) -> str:
    code = str(params.get("CODE", params.get("code", "")) or "")
    if not code:
        raise CrmError("Empty activity code!", VALIDATION)
    if _CODE.fullmatch(code) is None:
        raise CrmError("Wrong activity code!", VALIDATION)
    return code


def _check_handler(emu: Bitrix24Emulator, handler: Any) -> None:
    parts = urlsplit(str(handler or ""))
    if parts.scheme not in ("http", "https"):
        raise CrmError("Unsupported handler protocol", "ERROR_UNSUPPORTED_PROTOCOL")
    # The handler must be on the domain the application is installed from.
    if not parts.hostname or (
        emu.app_handler_host is not None and parts.hostname != emu.app_handler_host
    ):
        raise CrmError("Wrong handler URL", "ERROR_WRONG_HANDLER_URL")


def _check_properties(value: Any) -> None:
    if value in (None, ""):
        return
    if not isinstance(value, dict):
        raise CrmError("Wrong properties array!", VALIDATION)
    for key, prop in value.items():
        if _PROPERTY_KEY.fullmatch(str(key)) is None:
            raise CrmError(f"Wrong property key {key}!", VALIDATION)
        if not isinstance(prop, dict) or not prop.get("Name"):
            raise CrmError(f"Empty property NAME {key}!", VALIDATION)


def _check_fields(emu: Bitrix24Emulator, fields: dict[str, Any], *, adding: bool) -> None:
    if adding or "HANDLER" in fields:
        _check_handler(emu, fields.get("HANDLER"))
    if adding and not fields.get("NAME"):
        raise CrmError("Empty activity NAME!", VALIDATION)
    _check_properties(fields.get("PROPERTIES"))
    _check_properties(fields.get("RETURN_PROPERTIES"))
    document_type = fields.get("DOCUMENT_TYPE")
    if document_type not in (None, "") and (
        not isinstance(document_type, list) or len(document_type) != 3
    ):
        raise CrmError("Wrong activity DOCUMENT_TYPE!", VALIDATION)
    robot_filter = fields.get("FILTER")
    if robot_filter not in (None, "") and not isinstance(robot_filter, dict):
        raise CrmError("Wrong activity FILTER!", VALIDATION)


@rest("bizproc.robot.add", scope="bizproc")
def robot_add(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Register a robot; its code must be new for the application."""
    _application_admin(emu, ctx)
    if not params:
        raise CrmError("Empty data!", VALIDATION)
    code = _code(params)
    fields = {key: params[key] for key in FIELDS if key in params}
    _check_fields(emu, fields, adding=True)
    if code in emu.robots.robots:
        raise CrmError(
            "Activity or Automation rule already installed!", "ERROR_ACTIVITY_ALREADY_INSTALLED"
        )
    emu.robots.robots[code] = RegisteredRobot(code, fields)
    return _ok(True)


@rest("bizproc.robot.update", scope="bizproc")
def robot_update(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Change the given fields of a registered robot."""
    _application_admin(emu, ctx)
    code = _code(params)
    robot = emu.robots.robots.get(code)
    if robot is None:
        raise CrmError("Activity or Automation Rule not found!", "ERROR_ACTIVITY_NOT_FOUND")
    raw = params.get("FIELDS")
    fields = {key: raw[key] for key in FIELDS if key in raw} if isinstance(raw, dict) else {}
    if not fields:
        raise CrmError("No fields to update", VALIDATION)
    _check_fields(emu, fields, adding=False)
    robot.fields.update(fields)
    return _ok(True)


@rest("bizproc.robot.list", scope="bizproc")
def robot_list(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """The codes of the application's robots."""
    _application_admin(emu, ctx)
    return _ok(list(emu.robots.robots))


@rest("bizproc.robot.delete", scope="bizproc")
def robot_delete(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Remove a robot by its code."""
    _application_admin(emu, ctx)
    code = _code(params)
    if emu.robots.robots.pop(code, None) is None:
        raise CrmError("Activity or Robot not found!", "ERROR_ACTIVITY_NOT_FOUND")
    return _ok(True)


@rest("bizproc.event.send", scope="bizproc")
def event_send(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Hand the return values to the waiting run; an unknown or spent token: ACCESS_DENIED."""
    token = str(params.get("EVENT_TOKEN", params.get("event_token", "")) or "")
    run = emu.robots.waiting(token) if token else None
    if run is None:
        raise CrmError("Access denied!", "ACCESS_DENIED", 403)
    values = params.get("RETURN_VALUES")
    run.returned = dict(values) if isinstance(values, dict) else {}
    message = params.get("LOG_MESSAGE")
    run.log_message = str(message) if message is not None else ""
    return _ok(True)
