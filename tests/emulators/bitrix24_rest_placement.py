"""Emulator handlers of placement.* (bind, get, unbind), as the widget pages describe them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.emulators.bitrix24_area_placement import KNOWN_PLACEMENTS, PlacementRow
from tests.emulators.bitrix24_crm import CrmError
from tests.emulators.bitrix24_rest import MethodOutcome, _ok, rest

if TYPE_CHECKING:
    from tests.emulators.bitrix24 import AuthContext, Bitrix24Emulator


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name, params.get(name.lower()))
    return value if isinstance(value, str) else ""


def _require_admin(emu: Bitrix24Emulator, ctx: AuthContext) -> None:
    if not emu.is_admin(ctx.user_id):
        raise CrmError("Access denied!", "ACCESS_DENIED", 403)


def _lang_all(raw: Any) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        return {}
    kept: dict[str, dict[str, str]] = {}
    for language, texts in raw.items():
        if isinstance(texts, dict):
            kept[str(language)] = {
                key: str(texts.get(key, "") or "")
                for key in ("TITLE", "DESCRIPTION", "GROUP_NAME")
            }
    return kept


@rest("placement.bind", scope="placement", oauth_only=True)
def placement_bind(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Register a widget handler (administrators only)."""
    _require_admin(emu, ctx)
    placement = _text(params, "PLACEMENT").upper()
    if not placement:
        raise CrmError("Argument 'PLACEMENT' is null or empty", "ERROR_ARGUMENT")
    handler = _text(params, "HANDLER")
    if not handler:
        raise CrmError("Argument 'HANDLER' is null or empty", "ERROR_ARGUMENT")
    if placement not in KNOWN_PLACEMENTS:
        raise CrmError("Placement not found", "ERROR_PLACEMENT_NOT_FOUND")
    row = PlacementRow(
        placement=placement,
        handler=handler,
        title=_text(params, "TITLE"),
        description=_text(params, "DESCRIPTION"),
        lang_all=_lang_all(params.get("LANG_ALL")),
    )
    emu.placements[:] = [
        r for r in emu.placements if (r.placement, r.handler) != (placement, handler)
    ]
    emu.placements.append(row)
    return _ok(True)


@rest("placement.get", scope="placement", oauth_only=True)
def placement_get(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """The application's widget handlers (administrators only)."""
    _require_admin(emu, ctx)
    return _ok([row.as_result() for row in emu.placements])


@rest("placement.unbind", scope="placement", oauth_only=True)
def placement_unbind(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Remove the placement's handlers (only the one at HANDLER when given).

    The docs' `count` grows by one for each record found and one more for each removed.
    """
    _require_admin(emu, ctx)
    raw = params.get("PLACEMENT", params.get("placement"))
    if raw is not None and not isinstance(raw, str):
        raise CrmError(
            "The value of an argument 'PLACEMENT' must be of type string", "ERROR_ARGUMENT", 400
        )
    placement = (raw or "").upper()
    if not placement:
        raise CrmError("Argument 'PLACEMENT' is null or empty", "ERROR_ARGUMENT", 400)
    handler = _text(params, "HANDLER")
    found = [
        r
        for r in emu.placements
        if r.placement == placement and (not handler or r.handler == handler)
    ]
    emu.placements[:] = [r for r in emu.placements if r not in found]
    return _ok({"count": 2 * len(found)})
