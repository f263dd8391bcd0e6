"""REST method handlers of the Bitrix24 emulator, one module per area (as the client's methods).

Importing this module registers every handler in `METHODS` (lower-case method name -> spec).
"""

from __future__ import annotations

from tests.emulators import (  # noqa: F401  (imported to register their handlers)
    bitrix24_rest_activities,
    bitrix24_rest_app,
    bitrix24_rest_batch,
    bitrix24_rest_crm,
    bitrix24_rest_events,
    bitrix24_rest_leads,
    bitrix24_rest_placement,
    bitrix24_rest_robots,
    bitrix24_rest_userfields,
    bitrix24_rest_users,
)
from tests.emulators.bitrix24_rest import (
    METHODS,
    Handler,
    MethodOutcome,
    MethodSpec,
    now_iso,
    rest,
)

__all__ = ["METHODS", "Handler", "MethodOutcome", "MethodSpec", "now_iso", "rest"]
