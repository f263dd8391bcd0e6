"""Automation rules (robots) of the Bitrix24 emulator: what the application registered, and
running one the way the portal does when a lead reaches the stage it is set on.

Running a rule evaluates each property's `{=Document:FIELD}` expressions against the lead (the
handler gets the values, not the expressions), then POSTs the call form-encoded to the robot's
HANDLER: `workflow_id`, `code`, `document_id[]`, `document_type[]`, `event_token`,
`properties[...]`, `use_subscription`, `timeout_duration`, `ts` and `auth[...]` (tokens of
AUTH_USER_ID or of the user who triggered the rule, `application_token`, `member_id`). A rule
that waits (USE_SUBSCRIPTION not 'N') keeps its event token valid until `bizproc.event.send`
answers it once.
"""

from __future__ import annotations

import secrets
from typing import Any

from tests.emulators.bitrix24_robots import RegisteredRobot, RobotRun, substitute
from tests.emulators.bitrix24_state import EmulatorState


class RobotsArea(EmulatorState):
    """Robots the application registered, and the automation rule that runs them."""

    def robot_payload(
        self,
        robot: RegisteredRobot,
        lead_id: int,
        properties: dict[str, str],
        user_id: int,
        event_token: str,
    ) -> dict[str, Any]:
        """The decoded body of one robot call (property values already evaluated)."""
        lead = self.leads.get(lead_id, {})
        auth_user = int(robot.fields.get("AUTH_USER_ID") or user_id)
        access, refresh = self.portal.issue_oauth_tokens(auth_user)
        return {
            "workflow_id": event_token.split("|", 1)[0],
            "code": robot.code,
            "document_id": ["crm", "CCrmDocumentLead", f"LEAD_{lead_id}"],
            "document_type": ["crm", "CCrmDocumentLead", "LEAD"],
            "event_token": event_token,
            "properties": {key: substitute(value, lead) for key, value in properties.items()},
            "use_subscription": "Y" if robot.waits else "N",
            "timeout_duration": "0",
            "ts": str(int(self.wall_clock())),
            "auth": {
                "access_token": access,
                "expires": str(int(self.wall_clock()) + 3600),
                "expires_in": "3600",
                "scope": ",".join(sorted(self.oauth_scopes - {"basic"})),
                "domain": self.domain,
                "server_endpoint": "https://oauth.bitrix.info/rest/",
                "status": "L",
                "client_endpoint": self.portal.oauth_endpoint,
                "member_id": self.member_id,
                "user_id": str(auth_user),
                "refresh_token": refresh,
                "application_token": self.application_token,
            },
        }

    async def run_robot(
        self,
        code: str,
        lead_id: int,
        properties: dict[str, str],
        user_id: int = 1,
        *,
        event_token: str | None = None,
    ) -> RobotRun:
        """The automation rule reaches the robot for a lead: POST the call to its handler.

        `event_token` repeats an earlier run's token (a re-delivered call).
        """
        robot = self.robots.robots.get(code)
        if robot is None:
            raise KeyError(f"no robot {code!r} is registered")
        token = event_token or (
            f"{secrets.token_hex(7)}.{secrets.randbelow(10**8):08d}|"
            f"A{secrets.randbelow(10**5)}_{secrets.randbelow(10**5)}|{secrets.token_urlsafe(24)}"
        )
        # The token answers for the workflow: the no-secrets-in-logs check looks for it too.
        self.issued_credentials.append(token)
        form = self.robot_payload(robot, lead_id, properties, user_id, token)
        run = RobotRun(code, lead_id, token, robot.waits, form)
        if event_token is None:
            self.robots.runs.append(run)
        run.answer = await self.portal.post_form(robot.handler, form)
        return run

    def robot_run(self, event_token: str) -> RobotRun:
        """The run of a token (for what came back through `bizproc.event.send`)."""
        for run in self.robots.runs:
            if run.event_token == event_token:
                return run
        raise KeyError("no run with this token")
