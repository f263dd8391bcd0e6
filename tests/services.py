"""PostgreSQL and Redis for the tests: used when they run, skipped plainly when they do not.

A bare machine (no PostgreSQL, no Redis) still runs the whole suite on SQLite: every test that
needs a missing service is skipped with a reason naming the service and its address, and the
summary at the end lists them. `REQUIRE_SERVICES=1` (set by `.ci/run`) turns those skips into
failures, so CI cannot pass without the services.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import NoReturn

import pytest
from _pytest.terminal import TerminalReporter

REQUIRE_SERVICES_VARIABLE = "REQUIRE_SERVICES"
_MISSING_MARK = "is not reachable"


def services_required() -> bool:
    """Whether a missing service fails the test instead of skipping it."""
    return os.environ.get(REQUIRE_SERVICES_VARIABLE, "").strip() not in ("", "0")


def service_missing(service: str, address: str, cause: str) -> NoReturn:
    """Skip the test that needs `service` (or fail it when services are required)."""
    if services_required():
        pytest.fail(
            f"{service} at {address} is not reachable ({cause}) and "
            f"{REQUIRE_SERVICES_VARIABLE}=1: start it, or point the tests at it"
        )
    pytest.skip(
        f"{service} at {address} is not reachable ({cause}): its tests are skipped; "
        f"{REQUIRE_SERVICES_VARIABLE}=1 makes this a failure"
    )


def missing_service_counts(reporter: TerminalReporter) -> Counter[str]:
    """How many tests each missing service made skip, by the reason given."""
    counts: Counter[str] = Counter()
    for report in reporter.stats.get("skipped", []):
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and len(longrepr) == 3 and _MISSING_MARK in longrepr[2]:
            counts[longrepr[2].removeprefix("Skipped: ")] += 1
    return counts


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """End the run with one line per missing service: how many tests it skipped, and why."""
    counts = missing_service_counts(terminalreporter)
    if not counts:
        return
    terminalreporter.section("services missing", sep="-", yellow=True)
    for reason, count in counts.most_common():
        terminalreporter.write_line(f"{count} tests skipped: {reason}")
