"""Emulator handlers of users: user.current, user.admin, profile, user.get."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tests.emulators.bitrix24_crm import (
    PAGE_SIZE,
    CrmError,
)
from tests.emulators.bitrix24_php import (
    php_int,
)

if TYPE_CHECKING:
    from tests.emulators.bitrix24 import AuthContext, Bitrix24Emulator


from tests.emulators.bitrix24_rest import (
    MethodOutcome,
    _ok,
    rest,
)

# ---------------------------------------------------------------------- users

_USER_STRING_FIELDS = (
    "NAME",
    "LAST_NAME",
    "SECOND_NAME",
    "EMAIL",
    "PERSONAL_MOBILE",
    "PERSONAL_PHONE",
    "WORK_PHONE",
    "WORK_POSITION",
    "XML_ID",
    "PERSONAL_CITY",
    "USER_TYPE",
)


@rest("user.current", scope="basic")
def user_current(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """The calling user."""
    user = emu.users.get(ctx.user_id)
    if user is None:
        raise CrmError("Unable to authorize user", "authorization_error", 401)
    return _ok(dict(user))


@rest("user.admin", scope="basic")
def user_admin(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Whether the caller is an administrator."""
    return _ok(emu.is_admin(ctx.user_id))


@rest("profile", scope="basic")
def profile(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Basic information about the caller."""
    user = emu.users.get(ctx.user_id, {})
    return _ok(
        {
            "ID": str(ctx.user_id),
            "ADMIN": emu.is_admin(ctx.user_id),
            "NAME": user.get("NAME", ""),
            "LAST_NAME": user.get("LAST_NAME", ""),
            "PERSONAL_GENDER": "",
            "TIME_ZONE": "",
        }
    )


def _user_filter(key: str, value: Any) -> Callable[[Mapping[str, Any]], bool] | None:
    """One user.get filter key as a test of a user (parsed once per call, not per user).

    None when the key is not a user field (the portal ignores such keys).
    """
    negate = key.startswith("!")
    name = key.lstrip("!")
    op = ""
    for prefix in (">=", "<=", ">", "<", "=", "%", "@"):
        if name.startswith(prefix):
            op, name = prefix, name[len(prefix) :]
            break
    name = name.upper()
    test: Callable[[Mapping[str, Any]], bool]
    if name == "ID":
        if op in (">", ">=", "<", "<="):
            bound = php_int(value)
            compare = {
                ">": operator.gt,
                ">=": operator.ge,
                "<": operator.lt,
                "<=": operator.le,
            }[op]

            def test(user: Mapping[str, Any]) -> bool:
                return bool(compare(int(user["ID"]), bound))  # add_user stores str(int)

        else:
            ids = {php_int(v) for v in (value if isinstance(value, list) else [value])}

            def test(user: Mapping[str, Any]) -> bool:
                return int(user["ID"]) in ids

    elif name == "ACTIVE":
        wanted = value if isinstance(value, bool) else str(value).upper() in ("Y", "1", "TRUE")

        def test(user: Mapping[str, Any]) -> bool:
            return bool(user["ACTIVE"]) == wanted

    elif name == "UF_DEPARTMENT":
        departments = {php_int(v) for v in (value if isinstance(value, list) else [value])}

        def test(user: Mapping[str, Any]) -> bool:
            return bool(departments & set(user.get("UF_DEPARTMENT") or []))

    elif name in _USER_STRING_FIELDS:
        if op == "@":
            wanted_texts = {
                str(v).casefold() for v in (value if isinstance(value, list) else [value])
            }
        else:
            wanted_texts = {str(value).casefold()}
        needle = str(value).casefold()

        def test(user: Mapping[str, Any]) -> bool:
            own_text = str(user.get(name) or "").casefold()
            if op in ("=", "@"):
                return own_text in wanted_texts
            # CUser::GetList treats plain string filters as substring searches.
            return needle in own_text if needle else True

    else:
        return None
    if negate:
        return lambda user: not test(user)
    return test


@rest("user.get", scope="user")
def user_get(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Users by filter (FILTER key or top-level keys), FIND, sort/order, pages of 50."""
    filter_ = params.get("FILTER", params.get("filter"))
    if not isinstance(filter_, dict):
        filter_ = {
            k: v
            for k, v in params.items()
            if k.upper() not in ("SORT", "ORDER", "START", "ADMIN_MODE", "FILTER")
        }
    find = filter_.pop("FIND", None) if "FIND" in filter_ else None
    sort_field = str(params.get("sort", params.get("SORT", "ID")) or "ID").upper()
    descending = str(params.get("order", params.get("ORDER", "ASC")) or "ASC").upper() == "DESC"
    query = ("user.get", repr(sorted(filter_.items())), repr(find), sort_field, descending)
    memo = emu.batch_memo
    matched = memo.get(query) if memo is not None else None
    if matched is None:
        matched = _matching_users(emu, filter_, find, sort_field, descending)
        if memo is not None:
            memo[query] = matched
    start = max(0, php_int(params.get("start", params.get("START", 0))))
    page_start = (start // PAGE_SIZE) * PAGE_SIZE
    page = matched[page_start : page_start + PAGE_SIZE]
    next_start = page_start + PAGE_SIZE if page_start + PAGE_SIZE < len(matched) else None
    return MethodOutcome([dict(u) for u in page], len(matched), next_start)


def _matching_users(
    emu: Bitrix24Emulator,
    filter_: dict[str, Any],
    find: Any,
    sort_field: str,
    descending: bool,
) -> list[dict[str, Any]]:
    """Every user the filter and FIND select, in the requested order."""
    tests = [t for k, v in filter_.items() if (t := _user_filter(str(k), v)) is not None]
    matched = []
    for user in emu.users.values():
        ok = all(test(user) for test in tests)
        if ok and find:
            needle = str(find).casefold()
            haystack = " ".join(str(user.get(k) or "") for k in _USER_STRING_FIELDS).casefold()
            full = f"{user.get('NAME', '')} {user.get('LAST_NAME', '')}".casefold()
            ok = needle in haystack or needle in full
        if ok:
            matched.append(user)
    if sort_field == "ID":
        matched.sort(key=lambda u: int(u["ID"]), reverse=descending)
    else:
        matched.sort(key=lambda u: str(u.get(sort_field) or ""), reverse=descending)
    return matched
