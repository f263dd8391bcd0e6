"""The catch-up poll's portal lane: routine while events come by themselves, so a pass of
several requests never holds the processor's next read back by more than one slot; and then it
reads one request at a time, so it never holds several answers of 2,500 leads at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import catch_up_lane
from bot.config import Settings
from bot.events.poller import CatchUpPoller
from bot.portal import Lane, PortalClient
from bot.portal.reading import LEADS_PER_REQUEST
from bot.storage import Database, KeyValueRepository
from bot.storage.inbox import InboxRepository
from bot.storage.snapshots import SnapshotRepository
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.fixtures_portal import CountedBatches, RecordingLimiter


def poller_on(portal: PortalClient, db: Database, lane: Lane) -> CatchUpPoller:
    """The bot's catch-up poller with its default timing, in `lane`."""
    return CatchUpPoller(
        portal,
        db,
        InboxRepository(db),
        KeyValueRepository(db),
        SnapshotRepository(db),
        interval=30.0,
        overlap=timedelta(seconds=30),
        on_stored=lambda: None,
        lane=lane,
    )


@pytest.mark.parametrize("lane", [Lane.ROUTINE, Lane.BACKGROUND])
async def test_every_request_of_a_poll_goes_in_the_lane_it_was_given(
    recorded_portal: tuple[PortalClient, RecordingLimiter],
    portal_emulator: Bitrix24Emulator,
    db: Database,
    lane: Lane,
) -> None:
    portal, limiter = recorded_portal
    poller = poller_on(portal, db, lane)
    await poller.poll_once()  # the first pass only sets the watermark
    for number in range(120):  # more than one page of 50
        portal_emulator.ui_add_lead({"TITLE": f"Lead {number}", "ASSIGNED_BY_ID": 1}, 1)
    assert await poller.poll_once() == 120
    assert limiter.lanes
    assert set(limiter.lanes) == {lane}


@pytest.mark.parametrize(
    ("lane", "side_by_side"), [(Lane.ROUTINE, False), (Lane.BACKGROUND, True)]
)
async def test_a_catch_up_pass_reads_one_request_at_a_time_unless_it_is_the_only_intake(
    recorded_portal: tuple[PortalClient, RecordingLimiter],
    portal_emulator: Bitrix24Emulator,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    lane: Lane,
    side_by_side: bool,
) -> None:
    portal, _ = recorded_portal
    poller = poller_on(portal, db, lane)
    await poller.poll_once()  # the first pass only sets the watermark
    changed = 3 * LEADS_PER_REQUEST + 100  # three requests' worth between the first two pages
    portal_emulator.seed_leads(changed)
    counted = CountedBatches(portal)
    monkeypatch.setattr(portal, "batch", counted)
    assert await poller.poll_once() == changed
    assert (counted.most > 1) is side_by_side


WEBHOOK = "https://example.bitrix24.com/rest/1/s3cr3t"


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    monkeypatch.setenv("TELEGRAM__TOKEN", "123:abc")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_the_poll_is_routine_only_while_events_come_by_themselves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    polling_only = settings_with(monkeypatch, PORTAL__WEBHOOK_URL=WEBHOOK)
    assert catch_up_lane(polling_only) is Lane.BACKGROUND  # the poll is the only intake
    webhook = settings_with(
        monkeypatch, PORTAL__WEBHOOK_URL=WEBHOOK, PORTAL__APPLICATION_TOKEN="app-token"
    )
    assert catch_up_lane(webhook) is Lane.ROUTINE
    monkeypatch.delenv("PORTAL__WEBHOOK_URL")
    monkeypatch.delenv("PORTAL__APPLICATION_TOKEN")
    application = settings_with(
        monkeypatch,
        APP__ENABLED="true",
        PORTAL__OAUTH_ENDPOINT="https://oauth.bitrix.info/rest/",
        PORTAL__OAUTH_CLIENT_ID="local.1",
        PORTAL__OAUTH_CLIENT_SECRET="secret",
    )
    assert catch_up_lane(application) is Lane.ROUTINE  # events from the portal's queue
