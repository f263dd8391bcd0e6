"""What a portal error means to a person using the lead tools: a locale key and its arguments.

Only a portal that is down or busy is "try again later"; a missing permission, scope or
method fails the same way until a Bitrix24 admin changes something, and the words say so.
"""

from __future__ import annotations

from bot.portal.errors import (
    AccessDeniedError,
    AuthError,
    MethodNotFoundError,
    NotFoundError,
    OperationTimeLimitError,
    OutcomeUnknownError,
    PortalError,
    RateLimitError,
    ScopeError,
    ValidationError,
    WrongAuthTypeError,
    clean_description,
)

REASON_LIMIT = 300
"""Characters of the portal's own error text shown to a user."""


def portal_reason(description: str) -> str:
    """The portal's error text as one plain line (it joins messages with `<br />`)."""
    text = " ".join(clean_description(description).split())
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def portal_problem(error: PortalError) -> tuple[str, dict[str, str]]:
    """What went wrong and who can fix it: a locale key of core.ftl and its arguments.

    Only a portal that is down or busy is "try again later"; a missing permission, scope or
    method will fail the same way until a Bitrix24 admin changes something, so it says so.
    """
    method = error.method or "?"
    if isinstance(error, RateLimitError):
        return "error-rate-limited", {}
    if isinstance(error, OperationTimeLimitError):
        return "error-portal-time-limit", {}
    if isinstance(error, OutcomeUnknownError):
        return "error-portal-unconfirmed", {}
    if isinstance(error, NotFoundError):
        return "error-not-found", {}
    if isinstance(error, AccessDeniedError):
        return "error-portal-permission", {
            "method": method,
            "reason": portal_reason(error.description),
        }
    if isinstance(error, ScopeError):
        return "error-portal-scope", {"method": method}
    if isinstance(error, WrongAuthTypeError):
        return "error-portal-auth-type", {"method": method}
    if isinstance(error, AuthError):
        return "error-portal-auth", {}
    if isinstance(error, MethodNotFoundError):
        return "error-portal-method", {"method": method}
    if isinstance(error, ValidationError):
        return "error-portal-refused", {"reason": portal_reason(error.description)}
    return "error-portal-unreachable", {}
