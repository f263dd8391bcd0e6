"""The application's robots as the Bitrix24 emulator keeps them, and `{=Document:...}`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.emulators.bitrix24_area_app import CallbackAnswer

_EXPRESSION = re.compile(r"\{=Document:([A-Za-z0-9_]+)\}")


@dataclass
class RegisteredRobot:
    """One `bizproc.robot.add` row of the application."""

    code: str
    fields: dict[str, Any]

    @property
    def handler(self) -> str:
        """Where the portal posts the calls."""
        return str(self.fields.get("HANDLER", ""))

    @property
    def waits(self) -> bool:
        """Empty USE_SUBSCRIPTION waits too: only an explicit 'N' does not."""
        return str(self.fields.get("USE_SUBSCRIPTION", "") or "").upper() != "N"


@dataclass
class RobotRun:
    """One call of a robot: what was posted, what the handler answered, what came back."""

    code: str
    lead_id: int
    event_token: str
    waits: bool
    form: dict[str, Any]
    answer: CallbackAnswer | None = None
    returned: dict[str, Any] | None = None
    log_message: str | None = None


@dataclass
class RobotRegistry:
    """The application's robots by code, and every run with its event token."""

    robots: dict[str, RegisteredRobot] = field(default_factory=dict)
    runs: list[RobotRun] = field(default_factory=list)

    def waiting(self, event_token: str) -> RobotRun | None:
        """The run this token belongs to, while it still waits for its answer."""
        for run in self.runs:
            if run.event_token == event_token and run.waits and run.returned is None:
                return run
        return None

    def clear(self) -> None:
        """The application is gone: so are its robots (and no run waits any more)."""
        self.robots.clear()
        for run in self.runs:
            run.waits = False


def document_value(lead: dict[str, Any], name: str) -> str:
    """A lead field as `{=Document:NAME}` prints it (a multifield: its first value)."""
    value = lead.get(name.upper())
    if isinstance(value, list):
        first = value[0] if value else None
        value = first.get("VALUE") if isinstance(first, dict) else first
    return "" if value is None else str(value)


def substitute(template: str, lead: dict[str, Any]) -> str:
    """Evaluate the `{=Document:FIELD}` expressions of a property value against the lead."""
    return _EXPRESSION.sub(lambda match: document_value(lead, match.group(1)), template)
