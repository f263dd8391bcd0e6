"""Exceptions of the portal client, grouped by what the caller can do about them.

```
PortalError
├── NotFoundError            the thing is gone: tell the user, drop the reference
├── AccessDeniedError        the portal user may not do this: tell the user
├── ValidationError          the request was refused as it stands: fix the input
├── MethodNotFoundError      the portal lacks the method (module off, old portal)
├── AuthError                credentials are wrong or revoked: an admin must reconnect
│   ├── ScopeError           the webhook/app lacks a scope
│   └── WrongAuthTypeError   this method needs the other kind of auth (webhook vs OAuth)
└── UnavailableError         try again later
    ├── RateLimitError       QUERY_LIMIT_EXCEEDED after every retry
    ├── OperationTimeLimitError  the method's time budget is spent for now
    └── OutcomeUnknownError  a write was sent but its answer was lost
```

Codes are compared case-insensitively and win over HTTP statuses, which differ between
portal versions and documentation.
"""

from __future__ import annotations

import re

__all__ = [
    "AccessDeniedError",
    "AuthError",
    "MethodNotFoundError",
    "NotFoundError",
    "OperationTimeLimitError",
    "OutcomeUnknownError",
    "PortalError",
    "PortalMovedError",
    "RateLimitError",
    "ScopeError",
    "TokenExpiredError",
    "UnavailableError",
    "ValidationError",
    "WrongAuthTypeError",
    "error_from_payload",
]


class PortalError(Exception):
    """An answer of the portal (or the lack of one) that is not a result."""

    def __init__(
        self,
        description: str,
        *,
        code: str = "",
        method: str = "",
        status: int | None = None,
    ) -> None:
        self.code = code
        self.description = description
        self.method = method
        self.status = status
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.method or "portal"]
        if self.code:
            parts.append(self.code)
        text = ": ".join(parts) + f": {self.description}"
        if self.status is not None:
            text += f" (HTTP {self.status})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, description={self.description!r}, "
            f"method={self.method!r}, status={self.status!r})"
        )


class NotFoundError(PortalError):
    """The entity does not exist (or is not visible as such)."""


class AccessDeniedError(PortalError):
    """The portal user behind the credentials may not do this."""


class ValidationError(PortalError):
    """The portal refused the request as given (business rule, bad field, bad argument)."""


class MethodNotFoundError(PortalError):
    """The portal does not know the method."""


class AuthError(PortalError):
    """Credentials are missing, wrong, expired beyond refresh, or revoked."""


class ScopeError(AuthError):
    """The webhook or application lacks the scope this method needs."""


class WrongAuthTypeError(AuthError):
    """The method is not available for this kind of authorization."""


class TokenExpiredError(AuthError):
    """The OAuth access token expired; the client refreshes it and retries once."""


class PortalMovedError(PortalError):
    """The portal answered a redirect (renamed, or something in between); never followed.

    Requests carry the `auth` token, so they are not re-sent to another address: the portal
    URL in the settings must be changed instead. `location_host` names where it pointed.
    """

    def __init__(
        self,
        description: str,
        *,
        code: str = "",
        method: str = "",
        status: int | None = None,
        location_host: str = "",
    ) -> None:
        self.location_host = location_host
        super().__init__(description, code=code, method=method, status=status)


class UnavailableError(PortalError):
    """The portal did not do it now (overload, 5xx, network, timeout); try again later."""


class RateLimitError(UnavailableError):
    """The portal's request-rate limit kept refusing the call."""


class OperationTimeLimitError(UnavailableError):
    """The per-method execution-time budget is spent; `reset_at` says when it recovers."""

    def __init__(
        self,
        description: str,
        *,
        code: str = "",
        method: str = "",
        status: int | None = None,
        reset_at: float | None = None,
    ) -> None:
        self.reset_at = reset_at
        super().__init__(description, code=code, method=method, status=status)


class OutcomeUnknownError(UnavailableError):
    """A non-idempotent call was sent but no answer came back; it may or may not have run."""


_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)

_AUTH_CODES = frozenset(
    {
        "no_auth_found",
        "invalid_credentials",
        "invalid_token",
        "authorization_error",
        "application_not_found",
        "invalid_grant",
        "invalid_client",
        "wrong_client",
        "invalid_request",
        "payment_required",
        "not_installed",
        "portal_deleted",
    }
)
_SCOPE_CODES = frozenset({"insufficient_scope", "invalid_scope"})
# A method waiting for an admin's confirmation fails the same way until the admin acts:
# retrying cannot fix it, so it is a refusal, not an outage.
_ACCESS_CODES = frozenset(
    {
        "access_denied",
        "user_access_error",
        "wrong_license",
        "method_confirm_denied",
        "method_confirm_waiting",
    }
)
_UNAVAILABLE_CODES = frozenset(
    {"overload_limit", "internal_server_error", "error_unexpected_answer"}
)
# "Module 'catalog' is not installed": the feature is switched off on this portal.
_MODULE_MISSING = re.compile(r"\bmodule\b.*\bnot installed\b", re.IGNORECASE)
_NOT_FOUND_CODES = frozenset({"not_found", "error_not_found"})


def clean_description(text: str) -> str:
    """Drop the portal's HTML line breaks and surrounding blanks from an error text."""
    return _BR.sub(" ", text).strip()


def _names_missing_entity(lowered: str) -> bool:
    # "Not found", "Lead is not found"; but "The 'USER_TYPE_ID' field is not found." is a
    # missing parameter of the request, not a missing entity.
    return "not found" in lowered and "field" not in lowered


def error_from_payload(
    code: str, description: str, *, method: str = "", status: int | None = None
) -> PortalError:
    """Build the exception that matches a portal error body `{"error", "error_description"}`."""
    text = clean_description(description)
    key = code.strip().lower()
    lowered = text.lower()
    server_side = status is not None and status >= 500
    cls: type[PortalError]
    if key == "query_limit_exceeded":
        cls = RateLimitError
    elif key == "operation_time_limit":
        cls = OperationTimeLimitError
    elif key == "expired_token":
        cls = TokenExpiredError
    elif key in _SCOPE_CODES:
        cls = ScopeError
    elif key == "wrong_auth_type":
        cls = WrongAuthTypeError
    elif key in _AUTH_CODES:
        cls = AuthError
    elif key in _ACCESS_CODES:
        cls = AccessDeniedError
    elif key in _UNAVAILABLE_CODES:
        cls = UnavailableError
    elif key == "error_method_not_found" or (
        key in {"", "error_core"} and _MODULE_MISSING.search(text)
    ):
        cls = MethodNotFoundError
    elif key in _NOT_FOUND_CODES or (_names_missing_entity(lowered) and key in {"", "error_core"}):
        cls = NotFoundError
    elif key == "" and "access denied" in lowered:
        cls = AccessDeniedError
    elif server_side:
        # SQL failures and other uncaught exceptions come as ERROR_CORE with HTTP 500.
        cls = UnavailableError
    else:
        cls = ValidationError
    return cls(text, code=code, method=method, status=status)
