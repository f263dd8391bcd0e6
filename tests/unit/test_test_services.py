"""A missing PostgreSQL or Redis skips its tests on a bare machine and fails them on CI."""

from __future__ import annotations

import pytest

from tests.services import REQUIRE_SERVICES_VARIABLE, service_missing


def test_missing_service_skips_with_the_service_and_its_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(REQUIRE_SERVICES_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"Redis at redis://h:1/0 .*\(refused\)"):
        service_missing("Redis", "redis://h:1/0", "refused")


@pytest.mark.parametrize("value", ["1", "yes"])
def test_required_services_turn_the_skip_into_a_failure(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(REQUIRE_SERVICES_VARIABLE, value)
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL at pg://h/test"):
        service_missing("PostgreSQL", "pg://h/test", "refused")


def test_zero_does_not_require_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_SERVICES_VARIABLE, "0")
    with pytest.raises(pytest.skip.Exception):
        service_missing("Redis", "redis://h:1/0", "refused")
