"""Every error code of the reference (section 1.4 and the examples) maps to its exception."""

from __future__ import annotations

import json

import pytest

from bot.portal.errors import (
    AccessDeniedError,
    AuthError,
    MethodNotFoundError,
    NotFoundError,
    OperationTimeLimitError,
    PortalError,
    RateLimitError,
    ScopeError,
    TokenExpiredError,
    UnavailableError,
    ValidationError,
    WrongAuthTypeError,
    error_from_payload,
)
from tests.reference import EXAMPLES

SYSTEM_CODES: list[tuple[str, str, int, type[PortalError]]] = [
    ("QUERY_LIMIT_EXCEEDED", "Too many requests", 503, RateLimitError),
    (
        "OPERATION_TIME_LIMIT",
        "Method is blocked due to operation time limit.",
        429,
        OperationTimeLimitError,
    ),
    ("OVERLOAD_LIMIT", "REST API is blocked due to overload.", 503, UnavailableError),
    ("ERROR_METHOD_NOT_FOUND", "Method not found!", 404, MethodNotFoundError),
    ("NO_AUTH_FOUND", "Wrong authorization data", 401, AuthError),
    ("INVALID_CREDENTIALS", "Invalid request credentials", 401, AuthError),
    ("insufficient_scope", "The request requires higher privileges", 401, ScopeError),
    ("expired_token", "The access token provided has expired", 401, TokenExpiredError),
    ("invalid_token", "Unable to get application by token", 401, AuthError),
    ("ACCESS_DENIED", "REST is available only on commercial plans.", 403, AccessDeniedError),
    (
        "user_access_error",
        "The user does not have access to the application.",
        401,
        AccessDeniedError,
    ),
    ("authorization_error", "Unable to authorize user", 401, AuthError),
    ("APPLICATION_NOT_FOUND", "Application not found", 401, AuthError),
    (
        "WRONG_AUTH_TYPE",
        "Current authorization type is denied for this method",
        403,
        WrongAuthTypeError,
    ),
    ("INVALID_REQUEST", "Https required.", 400, AuthError),
    ("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", 400, ValidationError),
    (
        "ERROR_BATCH_METHOD_NOT_ALLOWED",
        "Method is not allowed for batch usage",
        405,
        ValidationError,
    ),
    ("INTERNAL_SERVER_ERROR", "", 500, UnavailableError),
    ("ERROR_UNEXPECTED_ANSWER", "", 500, UnavailableError),
    ("PORTAL_DELETED", "Portal was deleted", 403, AuthError),
    ("METHOD_CONFIRM_WAITING", "Waiting for confirmation", 401, AccessDeniedError),
    ("METHOD_CONFIRM_DENIED", "Method call denied", 403, AccessDeniedError),
    ("invalid_grant", "", 400, AuthError),
    ("PAYMENT_REQUIRED", "Payment required", 402, AuthError),
    ("WRONG_LICENSE", "This feature is not enabled", 403, AccessDeniedError),
    ("ERROR_CORE", "SQL query error!", 500, UnavailableError),
    ("ERROR_ARGUMENT", "Argument 'x' is null or empty", 400, ValidationError),
    ("", "Module 'catalog' is not installed.", 400, MethodNotFoundError),
    ("ERROR_CORE", "Module &quot;iblock&quot; is not installed<br>", 400, MethodNotFoundError),
]


@pytest.mark.parametrize(("code", "text", "status", "expected"), SYSTEM_CODES)
def test_system_codes_map_to_what_the_caller_can_do(
    code: str, text: str, status: int, expected: type[PortalError]
) -> None:
    error = error_from_payload(code, text, method="crm.lead.get", status=status)
    assert type(error) is expected
    assert error.code == code
    assert error.method == "crm.lead.get"
    assert error.status == status


def test_codes_are_matched_case_insensitively_not_by_status() -> None:
    assert isinstance(error_from_payload("Query_Limit_Exceeded", "", status=200), RateLimitError)
    assert isinstance(error_from_payload("INSUFFICIENT_SCOPE", "", status=403), ScopeError)


EXAMPLE_FILES: dict[str, type[PortalError]] = {
    "error.ACCESS_DENIED.commercial-plans.derived.json": AccessDeniedError,
    "error.ERROR_METHOD_NOT_FOUND.derived.json": MethodNotFoundError,
    "error.INVALID_CREDENTIALS.derived.json": AuthError,
    "error.INVALID_REQUEST.https-required.derived.json": AuthError,
    "error.NO_AUTH_FOUND.derived.json": AuthError,
    "error.OPERATION_TIME_LIMIT.derived.json": OperationTimeLimitError,
    "error.OVERLOAD_LIMIT.derived.json": UnavailableError,
    "error.QUERY_LIMIT_EXCEEDED.derived.json": RateLimitError,
    "error.WRONG_AUTH_TYPE.derived.json": WrongAuthTypeError,
    "error.WRONG_LICENSE.offline-extended.derived.json": AccessDeniedError,
    "error.crm.contact.add.fields-not-array.json": ValidationError,
    "error.crm.contact.list.access-denied.json": AccessDeniedError,
    "error.crm.contact.update.not-found.json": NotFoundError,
    "error.crm.duplicate.findbycomm.no-type.json": ValidationError,
    "error.crm.duplicate.findbycomm.no-type.source.derived.json": ValidationError,
    "error.crm.generic.access-denied.derived.json": AccessDeniedError,
    "error.crm.lead.add.access-denied.json": AccessDeniedError,
    "error.crm.lead.add.fields-not-array.derived.json": ValidationError,
    "error.crm.lead.contact.add.NOT_FOUND.json": NotFoundError,
    "error.crm.lead.contact.add.fields-invalid.derived.json": ValidationError,
    "error.crm.lead.delete.id-invalid.json": ValidationError,
    "error.crm.lead.details.configuration.set.no-name.json": ValidationError,
    "error.crm.lead.get.not-found.json": NotFoundError,
    "error.crm.lead.list.access-denied.json": AccessDeniedError,
    "error.crm.lead.list.order-not-array.derived.json": ValidationError,
    "error.crm.lead.productrows.get.id-invalid.json": ValidationError,
    "error.crm.lead.productrows.set.ERROR_CORE.json": ValidationError,
    "error.crm.lead.update.id-invalid.json": ValidationError,
    "error.crm.lead.update.not-found.derived.json": NotFoundError,
    "error.crm.lead.userfield.add.no-user-type.json": ValidationError,
    "error.crm.lead.userfield.get.id-invalid.json": ValidationError,
    "error.crm.lead.userfield.list.filter-not-array.json": ValidationError,
    "error.crm.lead.userfield.update.access-denied.json": AccessDeniedError,
    "error.crm.status.list.invalid-parameters.json": ValidationError,
    "error.event.bind.ERROR_EVENT_NOT_FOUND.json": ValidationError,
    "error.event.offline.get.ACCESS_DENIED.json": AccessDeniedError,
    "error.event.unbind.ACCESS_DENIED.json": AccessDeniedError,
    "error.expired_token.derived.json": TokenExpiredError,
    "error.insufficient_scope.oauth.derived.json": ScopeError,
    "error.insufficient_scope.webhook.derived.json": ScopeError,
    "error.invalid_token.derived.json": AuthError,
    "error.shape.example.json": ValidationError,
    "oauth.error.PAYMENT_REQUIRED.json": AuthError,
}


def test_every_error_example_is_covered() -> None:
    on_disk = {p.name for p in EXAMPLES.glob("error.*.json")}
    assert on_disk <= set(EXAMPLE_FILES)


@pytest.mark.parametrize(("name", "expected"), sorted(EXAMPLE_FILES.items()))
def test_error_examples_map_to_their_exception(name: str, expected: type[PortalError]) -> None:
    body = json.loads((EXAMPLES / name).read_text())
    error = error_from_payload(body["error"], body["error_description"], status=400)
    assert type(error) is expected
    assert "<br" not in error.description


def test_html_breaks_are_stripped_from_descriptions() -> None:
    error = error_from_payload("ERROR_CORE", "Bad discount<br>Other<br />", status=400)
    assert error.description == "Bad discount Other"


def test_element_not_found_via_error_not_found_code() -> None:
    error = error_from_payload("ERROR_NOT_FOUND", "The entity with ID '7' is not found")
    assert isinstance(error, NotFoundError)


def test_lead_delete_application_exception_not_found_is_not_found() -> None:
    assert isinstance(
        error_from_payload("ERROR_CORE", "Lead is not found", status=400), NotFoundError
    )


def test_message_and_repr_carry_method_code_and_status() -> None:
    error = error_from_payload("", "Not found", method="crm.lead.get", status=400)
    assert str(error) == "crm.lead.get: Not found (HTTP 400)"
    assert "NotFoundError(code=''" in repr(error)


def test_tree_groups_what_the_caller_can_do() -> None:
    assert issubclass(RateLimitError, UnavailableError)
    assert issubclass(OperationTimeLimitError, UnavailableError)
    assert issubclass(ScopeError, AuthError)
    assert issubclass(TokenExpiredError, AuthError)
