"""The shared error mapping: only outages say "try again"; refusals say who can fix them."""

from __future__ import annotations

import pytest

from bot.leads.problems import portal_problem, portal_reason
from bot.portal.errors import error_from_payload


@pytest.mark.parametrize(
    ("code", "description", "status", "key"),
    [
        ("ACCESS_DENIED", "Access denied!", 403, "error-portal-permission"),
        ("", "Access denied.", 400, "error-portal-permission"),
        ("METHOD_CONFIRM_WAITING", "Waiting for confirmation", 401, "error-portal-permission"),
        ("insufficient_scope", "higher privileges", 401, "error-portal-scope"),
        ("WRONG_AUTH_TYPE", "Current authorization type is denied", 403, "error-portal-auth-type"),
        ("INVALID_CREDENTIALS", "Invalid request credentials", 401, "error-portal-auth"),
        ("ERROR_METHOD_NOT_FOUND", "Method not found!", 404, "error-portal-method"),
        ("", "Module 'catalog' is not installed.", 400, "error-portal-method"),
        ("OPERATION_TIME_LIMIT", "blocked", 429, "error-portal-time-limit"),
        ("QUERY_LIMIT_EXCEEDED", "Too many requests", 503, "error-rate-limited"),
        ("", "Not found", 400, "error-not-found"),
        ("", 'The "Scan" field is required.<br />', 400, "error-portal-refused"),
        ("INTERNAL_SERVER_ERROR", "", 500, "error-portal-unreachable"),
    ],
)
def test_each_portal_error_says_what_is_wrong(
    code: str, description: str, status: int, key: str
) -> None:
    error = error_from_payload(code, description, method="crm.product.list", status=status)
    found, args = portal_problem(error)
    assert found == key
    if "method" in args:
        assert args["method"] == "crm.product.list"


def test_the_portals_own_words_are_one_plain_line() -> None:
    assert portal_reason('The "Scan" field is required.<br />\n  Again<br>') == (
        'The "Scan" field is required. Again'
    )
    assert len(portal_reason("x" * 1000)) == 300
