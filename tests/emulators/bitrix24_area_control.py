"""The control endpoint of the Bitrix24 emulator (/_emulator/...) for a standalone portal."""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web

from tests.emulators.bitrix24_area_rest import error_body, json_response
from tests.emulators.bitrix24_crm import CrmError
from tests.emulators.bitrix24_events import LEAD_EVENTS
from tests.emulators.bitrix24_php import php_int
from tests.emulators.bitrix24_state import EmulatorState


class ControlArea(EmulatorState):
    """UI-like changes, faults and settings over HTTP, for the emulator run standalone."""

    async def _handle_control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"].strip("/")
        payload: dict[str, Any] = {}
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                loaded = await request.json()
                if isinstance(loaded, dict):
                    payload = loaded
        user_id = php_int(payload.get("user_id", 1)) or 1
        try:
            if action == "state":
                return json_response(
                    {
                        "leads": len(self.leads),
                        "contacts": len(self.contacts),
                        "users": len(self.users),
                        "calls": len(self.calls),
                        "delivered_events": len(self.portal.delivered_events),
                        "simple_mode": self.simple_mode,
                        "rate_limit": self.rate_limit,
                    },
                    200,
                )
            if action == "ui/lead.add":
                return json_response(
                    {"id": self.portal.ui_add_lead(payload.get("fields") or {}, user_id)}, 200
                )
            if action == "ui/lead.update":
                self.portal.ui_update_lead(
                    php_int(payload.get("id")), payload.get("fields") or {}, user_id
                )
                return json_response({"ok": True}, 200)
            if action == "ui/lead.delete":
                self.portal.ui_delete_lead(php_int(payload.get("id")), user_id)
                return json_response({"ok": True}, 200)
            if action == "outgoing_webhook":
                token = self.portal.add_outgoing_webhook(
                    str(payload["handler"]), payload.get("events") or LEAD_EVENTS
                )
                return json_response({"application_token": token}, 200)
            if action == "app/install":
                answer = await self.portal.install_app(str(payload["install_url"]), user_id)
                return json_response({"status": answer.status, "body": answer.body}, 200)
            if action == "app/uninstall":
                answers = await self.portal.uninstall_app(bool(payload.get("clean")))
                return json_response({"statuses": [a.status for a in answers]}, 200)
            if action == "faults":
                for key in (
                    "latency",
                    "lose_events",
                    "fail_count",
                    "fail_status",
                    "drop_count",
                    "drop_after_execute_count",
                    "malformed_count",
                ):
                    if key in payload:
                        setattr(self.faults, key, payload[key])
                return json_response({"ok": True}, 200)
            if action == "settings":
                if "simple_mode" in payload:
                    self.simple_mode = bool(payload["simple_mode"])
                if "rate_limit" in payload:
                    self.rate_limit = bool(payload["rate_limit"])
                return json_response({"ok": True}, 200)
            if action == "drain_events":
                await self.portal.drain_events()
                return json_response({"ok": True}, 200)
        except CrmError as exc:
            return json_response(error_body(exc.code, exc.description), exc.status)
        except PermissionError as exc:
            return json_response({"error": "ACCESS_DENIED", "error_description": str(exc)}, 403)
        except KeyError as exc:
            return json_response({"error": "missing", "error_description": str(exc)}, 400)
        return json_response({"error": "unknown action"}, 404)
