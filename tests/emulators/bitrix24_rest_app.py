"""Emulator handler of `app.info` (the local application's own record)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.emulators.bitrix24_crm import CrmError
from tests.emulators.bitrix24_rest import MethodOutcome, _ok, rest

if TYPE_CHECKING:
    from tests.emulators.bitrix24 import AuthContext, Bitrix24Emulator

APP_ID = 7


@rest("app.info", scope="basic")
def app_info(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """The application's record; outside an application context ACCESS_DENIED (400)."""
    if ctx.kind != "oauth":
        raise CrmError("Access denied! Application context required", "ACCESS_DENIED", 400)
    return _ok(
        {
            "ID": APP_ID,
            "CODE": emu.client_id,
            "VERSION": emu.app_version,
            "STATUS": "L",
            "INSTALLED": emu.app_installed,
            "PAYMENT_EXPIRED": "N",
            "DAYS": None,
            "LANGUAGE_ID": "en",
            "LICENSE": "en_pro100",
            "LICENSE_TYPE": "pro100",
            "LICENSE_FAMILY": "pro",
        }
    )
