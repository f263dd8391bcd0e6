"""/status's application line: installed, removed, and reads of the offline queue failing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bot.events.offline import IntakeTrouble
from bot.i18n import Translations
from bot.install.installation import Installation
from bot.ops.status import StatusReport
from dialogs.status import application_line

INSTALLED = Installation(
    member_id="m1",
    domain="team.bitrix24.com",
    application_token="secret-token",
    installed=True,
    changed_at="2026-12-04T08:00:00+00:00",
)
REPORT = StatusReport(
    portal_ok=True,
    portal_problem=None,
    crm_mode=None,
    budget_used=0.0,
    burst=50,
    drain_per_second=2.0,
    rate_limited_total=0,
    inbox_pending=0,
    outbox_pending=0,
    dead_letters=0,
    last_event_at=None,
    watermark=None,
    webhook=None,
    checked_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
    application_mode=True,
    installation=INSTALLED,
)
SINCE = datetime(2026, 12, 4, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("language", "refused", "words"),
    [
        ("en", True, ("refused its tokens 4 times", "2026-12-04 08:30", "installs it again")),
        ("en", False, ("has failed 4 times", "2026-12-04 08:30", "none is lost")),
        ("ru", True, ("отклоняет его токены уже 4 раза", "2026-12-04 08:30", "снова")),
        ("ru", False, ("не удаётся уже 4 раза", "2026-12-04 08:30", "ничего не теряется")),
    ],
)
def test_failing_reads_of_the_queue_are_named_with_their_code_escaped(
    language: str, refused: bool, words: tuple[str, ...]
) -> None:
    trouble = IntakeTrouble(failures=4, since=SINCE, code="<expired_token>", refused=refused)
    report = dataclasses.replace(REPORT, offline_trouble=trouble)
    text = application_line(Translations.load().for_language(language), report)
    for word in words:
        assert word in text
    assert "&lt;expired_token&gt;" in text
    assert "secret-token" not in text


def test_an_installed_application_without_trouble_says_installed() -> None:
    text = application_line(Translations.load().for_language("en"), REPORT)
    assert "installed on team.bitrix24.com" in text


def test_a_removed_application_says_removed_whatever_the_reads_did() -> None:
    removed = dataclasses.replace(INSTALLED, installed=False)
    trouble = IntakeTrouble(failures=9, since=SINCE, code="expired_token", refused=True)
    report = dataclasses.replace(REPORT, installation=removed, offline_trouble=trouble)
    assert "removed from" in application_line(Translations.load().for_language("en"), report)
