"""The "Send to Telegram" automation rule: registered at install, called by the portal.

Registration: `bizproc.robot.add` with the code `telegram_send`, or `bizproc.robot.update`
when the portal already has it (a reinstall). Its properties: `recipient` (a select: the
lead's responsible or a team group), `group` (the team group's title as Telegram shows it, or
its chat id: a select would freeze the list of groups at install time), `message` (a text
in which the portal evaluates `{=Document:TITLE}` and the like before it calls us). It waits
for the result (`USE_SUBSCRIPTION=Y`): `delivered` (Y/N) and `error` come back through
`bizproc.event.send`.

The call: a form POST with `event_token`, `document_id[]`, `code`, `properties[...]` and
`auth[...]`. The endpoint checks `auth[application_token]` (401) and `auth[member_id]` (403)
against the installation in constant time, stores the call durably under its event token
(a repeated call is stored once) and answers 200 at once; `RobotCalls` does the rest.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.events.receiver import EventRefused, same_secret
from bot.install.endpoints import read_form
from bot.install.installation import Installation
from bot.install.robot_calls import Recipient, RobotCall, RobotCallStore
from bot.portal import PortalClient, PortalError
from bot.portal.methods import AddRobot, RobotFields, RobotProperty, UpdateRobot

log = logging.getLogger(__name__)

ROBOT_CODE = "telegram_send"
ALREADY_INSTALLED = "ERROR_ACTIVITY_ALREADY_INSTALLED"
LEAD_DOCUMENT = re.compile(r"LEAD_([1-9][0-9]{0,17})")
MAX_TOKEN_CHARS = 1024
MAX_TEMPLATE_CHARS = 20_000
"""Longer templates are cut here on arrival (the message is cut again, shorter, to send)."""


def robot_fields(handler_url: str) -> RobotFields:
    """What the portal shows a manager who adds the rule, in English and Russian."""
    return RobotFields(
        handler=handler_url,
        name={"en": "Send to Telegram", "ru": "Отправить в Telegram"},
        description={
            "en": "Sends a message about the lead to its responsible or to a team group "
            "through the Telegram bot.",
            "ru": "Отправляет сообщение о лиде ответственному или группе команды через "
            "Telegram-бота.",
        },
        use_subscription="Y",
        properties={
            "recipient": RobotProperty(
                name={"en": "Recipient", "ru": "Получатель"},
                type="select",
                options={
                    Recipient.RESPONSIBLE.value: "The responsible / Ответственный",
                    Recipient.GROUP.value: "A team group / Группа команды",
                },
                required="Y",
                default=Recipient.RESPONSIBLE.value,
            ),
            "group": RobotProperty(
                name={"en": "Team group", "ru": "Группа команды"},
                description={
                    "en": "For “A team group”: the group's name as Telegram shows it, or its "
                    "chat id. The group must be subscribed in the bot.",
                    "ru": "Для «Группа команды»: название группы, как в Telegram, или id чата. "
                    "Группа должна быть подписана в боте.",
                },
                type="string",
            ),
            "message": RobotProperty(
                name={"en": "Message", "ru": "Сообщение"},
                description={
                    "en": "The text; insert lead fields with the field picker, e.g. "
                    "{=Document:TITLE}.",
                    "ru": "Текст; поля лида вставляются через выбор поля, например "
                    "{=Document:TITLE}.",
                },
                type="text",
                required="Y",
                default="{=Document:TITLE}",
            ),
        },
        return_properties={
            "delivered": RobotProperty(
                name={"en": "Delivered", "ru": "Доставлено"}, type="bool", default="N"
            ),
            "error": RobotProperty(name={"en": "Error", "ru": "Ошибка"}, type="string"),
        },
        document_type=("crm", "CCrmDocumentLead", "LEAD"),
        filter={"INCLUDE": [["crm", "CCrmDocumentLead"]]},
    )


async def register_robot(portal: PortalClient, handler_url: str) -> None:
    """Add the rule, or update it when the portal already has it; PortalError otherwise."""
    fields = robot_fields(handler_url)
    try:
        await portal(AddRobot(code=ROBOT_CODE, fields=fields))
    except PortalError as exc:
        if exc.code != ALREADY_INSTALLED:
            raise
        await portal(UpdateRobot(code=ROBOT_CODE, fields=fields))


def robot_registrar(portal: PortalClient, handler_url: str) -> Callable[[], Awaitable[None]]:
    """Registration as an install step: a failure is logged, the installation stands."""

    async def register() -> None:
        try:
            await register_robot(portal, handler_url)
        except PortalError as exc:
            log.warning("the Send to Telegram rule could not be registered: %s", exc.code)
        else:
            log.info("the Send to Telegram rule is registered")

    return register


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def call_key(event_token: str) -> str:
    """The durable key of a call: its event token, hashed (the token itself is a credential)."""
    return hashlib.sha256(event_token.encode()).hexdigest()[:32]


def lead_of(document_id: Any) -> int | None:
    """The lead id of `["crm", "CCrmDocumentLead", "LEAD_123"]`; None for another document."""
    if isinstance(document_id, dict):
        parts = [document_id.get(key) for key in ("0", "1", "2")]
    elif isinstance(document_id, list):
        parts = list(document_id)
    else:
        return None
    if len(parts) != 3 or parts[0] != "crm" or parts[1] != "CCrmDocumentLead":
        return None
    match = LEAD_DOCUMENT.fullmatch(str(parts[2]))
    return int(match.group(1)) if match else None


def check_robot_auth(form: dict[str, Any], installation: Installation | None) -> None:
    """Refuse a call without our application token (401) or from another portal (403)."""
    auth = form.get("auth")
    if not isinstance(auth, dict) or installation is None or not installation.installed:
        raise EventRefused(401, "the application is not installed or the call has no auth")
    # Both compared, always: the time taken does not tell which one was wrong.
    token_ok = same_secret(auth.get("application_token"), installation.application_token)
    member_ok = same_secret(auth.get("member_id"), installation.member_id)
    if not token_ok:
        raise EventRefused(401, "application token does not match")
    if not member_ok:
        raise EventRefused(403, "member id does not match")


def read_robot_call(form: dict[str, Any]) -> RobotCall:
    """The call as stored; EventRefused(400) when it is not a call of our rule about a lead."""
    if form.get("code") != ROBOT_CODE:
        raise EventRefused(400, "not a call of the Send to Telegram rule")
    lead_id = lead_of(form.get("document_id"))
    if lead_id is None:
        raise EventRefused(400, "the rule runs on leads only")
    event_token = _text(form.get("event_token"), MAX_TOKEN_CHARS + 1)
    if not event_token or len(event_token) > MAX_TOKEN_CHARS:
        raise EventRefused(400, "no event token")
    properties = form.get("properties")
    if not isinstance(properties, dict):
        properties = {}
    return RobotCall(
        key=call_key(event_token),
        event_token=event_token,
        waits=str(form.get("use_subscription", "Y")).upper() != "N",
        lead_id=lead_id,
        recipient=_text(properties.get("recipient"), 40) or "",
        group=(_text(properties.get("group"), 256) or "").strip(),
        template=_text(properties.get("message"), MAX_TEMPLATE_CHARS) or "",
    )


class RobotEndpoint:
    """`POST <robot path>`: verify, store once, answer 200; the work goes on in background."""

    def __init__(
        self,
        *,
        installation: Callable[[], Awaitable[Installation | None]],
        calls: RobotCallStore,
        on_stored: Callable[[], None],
    ) -> None:
        self._installation = installation
        self._calls = calls
        self._on_stored = on_stored
        self.refused = 0
        self.repeated = 0

    async def handle(self, request: web.Request) -> web.Response:
        """Answer 4xx to what is not our rule's genuine call, 200 once it is stored."""
        try:
            form = await read_form(request)
            check_robot_auth(form, await self._installation())
            call = read_robot_call(form)
        except EventRefused as exc:
            self.refused += 1
            log.warning(
                "robot call refused (%d %s) from %s", exc.status, exc.reason, request.remote
            )
            return web.json_response({"status": "error", "error": exc.reason}, status=exc.status)
        if await self._calls.add(call):
            log.info("robot call %s for lead %d stored", call.key[:8], call.lead_id)
            self._on_stored()
        else:
            self.repeated += 1
            log.info("robot call %s came again; already taken", call.key[:8])
        return web.json_response({"status": "success"})
