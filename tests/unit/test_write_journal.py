"""Each portal write of a Telegram update carries its own key: a replayed update repeats none.

Every story runs on both engines against the portal emulator over loopback HTTP. A "crash"
between the portal write and the record of its outcome is the state it leaves behind: the
write made, its record still `started`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message, Update

from bot.access.directory import PortalDirectory
from bot.access.roles import Identity, Role
from bot.followups.service import FollowUp, FollowUpService
from bot.i18n import Translations, Translator
from bot.leads.actions import BotActionLog
from bot.leads.capture import CaptureService, CreateStep
from bot.leads.catalog import PortalCatalog
from bot.leads.contacts import LeadContactsService
from bot.leads.products import LeadProductsService
from bot.leads.service import LeadService
from bot.portal import PortalClient, PortalLimiter, WebhookAuth
from bot.schedule.service import HoursService
from bot.storage import Database, KeyValueRepository
from bot.storage.hours import HoursRepository
from bot.storage.inbox import InboxRepository
from bot.storage.json_codec import encode_json
from bot.storage.outbox import OutboxRepository
from bot.storage.reminders import ReminderRepository
from bot.storage.retention import Retention, RetentionPolicy
from bot.storage.snapshots import SnapshotRepository
from bot.storage.sql import execute
from bot.storage.updates import UpdateRepository
from bot.storage.writes import WriteRecordRepository, WriteState
from bot.updates import InFlightUpdates, TrackedDispatcher, UpdateIntake, update_payload
from bot.write_journal import (
    MARK_CHARACTERS,
    WriteJournal,
    current_update_id,
    handling_update,
    marker,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN

T = TypeVar("T")

IVAN = Identity(telegram_user_id=2001, portal_user_id=2, role=Role.REP, name="Ivan Petrov")
UPDATE = 5001


@pytest.fixture(scope="module")
def tr() -> Translator:
    return Translations.load(strict=True).for_language("en")


@pytest.fixture
async def portal(portal_emulator: Bitrix24Emulator) -> AsyncIterator[PortalClient]:
    client = PortalClient(
        auth=WebhookAuth(portal_emulator.webhook_url),
        limiter=PortalLimiter(drain_per_second=1000.0, burst=1000, start_full=False),
        backoff_base=0.001,
    )
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def records(db: Database) -> WriteRecordRepository:
    return WriteRecordRepository(db)


@pytest.fixture
def journal(records: WriteRecordRepository) -> WriteJournal:
    return WriteJournal(records)


def lead_service(portal: PortalClient, db: Database, journal: WriteJournal) -> LeadService:
    return LeadService(
        portal=portal,
        catalog=PortalCatalog(portal),
        directory=PortalDirectory(portal, default_region="RU"),
        actions=BotActionLog(db),
        default_region="RU",
        portal_origin=None,
        journal=journal,
    )


def capture_service(portal: PortalClient, db: Database, journal: WriteJournal) -> CaptureService:
    return CaptureService(
        portal=portal,
        catalog=PortalCatalog(portal),
        kv=KeyValueRepository(db),
        actions=BotActionLog(db),
        journal=journal,
    )


def ivans_lead(portal_emulator: Bitrix24Emulator) -> int:
    return portal_emulator.ui_add_lead(
        {
            "TITLE": "Windows for the dacha",
            "NAME": "Sergey",
            "LAST_NAME": "Kuznetsov",
            "ASSIGNED_BY_ID": 2,
            "CURRENCY_ID": "RUB",
            "PHONE": [{"VALUE": "+79035550101", "VALUE_TYPE": "MOBILE"}],
        }
    )


def comments_on(portal_emulator: Bitrix24Emulator, lead_id: int) -> list[str]:
    return [
        str(c["COMMENT"])
        for c in portal_emulator.timeline_comments.values()
        if c["ENTITY_TYPE"] == "lead" and c["ENTITY_ID"] == lead_id
    ]


async def in_update(update_id: int, call: Callable[[], Awaitable[T]]) -> T:
    """Run `call` as the handler of Telegram update `update_id` would."""
    with handling_update(update_id):
        return await call()


async def crash_after_write(records: WriteRecordRepository, key: str) -> None:
    """What a SIGKILL between the portal write and the record of its outcome leaves."""
    await records.start(key)


# --- the journal itself ----------------------------------------------------------------------


async def test_writes_outside_an_update_are_not_keyed(
    journal: WriteJournal, records: WriteRecordRepository
) -> None:
    assert current_update_id() is None
    assert await journal.step("note:1") is None
    made: list[str] = []

    async def write(mark: str) -> int:
        made.append(mark)
        return len(made)

    async def find(mark: str) -> int | None:
        raise AssertionError("nothing to look up outside an update")

    assert await journal.once("note:1", write=write, find=find) == 1
    assert await journal.once("note:1", write=write, find=find) == 2
    assert made == ["", ""]
    assert await records.get("0:note:1") is None


async def test_a_keyed_write_is_made_once_and_looked_up_after_a_crash(
    journal: WriteJournal, records: WriteRecordRepository
) -> None:
    made: list[str] = []
    looked: list[str] = []

    async def write(mark: str) -> int:
        made.append(mark)
        return 40 + len(made)

    async def find(mark: str) -> int | None:
        looked.append(mark)
        return 41 if mark in made else None

    def once() -> Awaitable[int]:
        return journal.once("note:7", write=write, find=find)

    assert await in_update(UPDATE, once) == 41
    assert await in_update(UPDATE, once) == 41  # replayed: recorded done
    assert looked == []
    await crash_after_write(records, f"{UPDATE}:note:7")
    assert await in_update(UPDATE, once) == 41  # replayed: found by its mark
    assert looked == [marker(f"{UPDATE}:note:7")]
    assert len(made) == 1
    record = await records.get(f"{UPDATE}:note:7")
    assert record is not None
    assert (record.state, record.result) == (WriteState.DONE, 41)
    assert await in_update(UPDATE + 1, once) == 42  # another update writes again


def test_marks_are_invisible_and_differ_by_key() -> None:
    one, other = marker("5001:note:7"), marker("5002:note:7")
    assert len(one) == 32
    assert one != other
    assert set(one + other) <= set(MARK_CHARACTERS)
    assert not one.strip("\u200b\u200c\u200d\u2060")


async def test_records_age_out_with_the_handled_updates_and_other_keys_stay(
    db: Database,
) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    old = WriteRecordRepository(db, lambda: now - timedelta(days=8))
    for update_id in range(1, 4):
        await old.start(f"{update_id}:note:1")
    await KeyValueRepository(db, lambda: now - timedelta(days=30)).set("poller.watermark", 5)
    fresh = WriteRecordRepository(db, lambda: now)
    await fresh.start("9:note:1")
    retention = Retention(
        inbox=InboxRepository(db),
        outbox=OutboxRepository(db),
        snapshots=SnapshotRepository(db),
        policy=RetentionPolicy(
            inbox=timedelta(days=7),
            outbox=timedelta(days=7),
            bot_actions=timedelta(days=7),
            lead_claims=timedelta(days=7),
            telegram_updates=timedelta(days=7),
            chunk_rows=2,
        ),
        writes=fresh,
        clock=lambda: now,
        pause_seconds=0,
    )
    assert (await retention.prune_once()).deleted["write_records"] == 3
    assert await fresh.get("1:note:1") is None
    assert await fresh.get("9:note:1") is not None
    assert await KeyValueRepository(db).get("poller.watermark") == 5


# --- each write kind -------------------------------------------------------------------------


async def test_a_replayed_note_is_added_once(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    db: Database,
    journal: WriteJournal,
    records: WriteRecordRepository,
    tr: Translator,
) -> None:
    leads = lead_service(portal, db, journal)
    lead_id = ivans_lead(portal_emulator)

    def note() -> Awaitable[object]:
        return leads.add_note(IVAN, lead_id, "Called, call back Monday", tr=tr)

    await in_update(UPDATE, note)
    await in_update(UPDATE, note)  # the same update delivered again
    [text] = comments_on(portal_emulator, lead_id)
    assert text.startswith("Called, call back Monday")
    assert marker(f"{UPDATE}:note:{lead_id}") in text
    await crash_after_write(records, f"{UPDATE}:note:{lead_id}")
    card = await in_update(UPDATE, note)
    assert card is not None
    assert len(comments_on(portal_emulator, lead_id)) == 1
    await in_update(UPDATE + 1, note)  # the rep writes the same note again: a new one
    assert len(comments_on(portal_emulator, lead_id)) == 2


async def test_a_note_the_crash_stopped_before_the_portal_is_made_on_replay(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    db: Database,
    journal: WriteJournal,
    records: WriteRecordRepository,
    tr: Translator,
) -> None:
    leads = lead_service(portal, db, journal)
    lead_id = ivans_lead(portal_emulator)
    await records.start(f"{UPDATE}:note:{lead_id}")  # recorded, then killed before sending
    await in_update(UPDATE, lambda: leads.add_note(IVAN, lead_id, "Sent the offer", tr=tr))
    assert len(comments_on(portal_emulator, lead_id)) == 1
    record = await records.get(f"{UPDATE}:note:{lead_id}")
    assert record is not None
    assert record.state is WriteState.DONE


async def test_a_replayed_stage_move_with_its_reason_leaves_one_comment(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    db: Database,
    journal: WriteJournal,
    records: WriteRecordRepository,
    tr: Translator,
) -> None:
    leads = lead_service(portal, db, journal)
    lead_id = ivans_lead(portal_emulator)

    def move() -> Awaitable[object]:
        return leads.change_stage(IVAN, lead_id, "JUNK", "Wrong number", tr=tr)

    await in_update(UPDATE, move)
    await crash_after_write(records, f"{UPDATE}:stage:{lead_id}")
    await in_update(UPDATE, move)
    await in_update(UPDATE, move)
    assert portal_emulator.leads[lead_id]["STATUS_ID"] == "JUNK"
    assert len(comments_on(portal_emulator, lead_id)) == 1


async def test_a_replayed_note_from_capture_is_added_once(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    db: Database,
    journal: WriteJournal,
    records: WriteRecordRepository,
) -> None:
    capture = capture_service(portal, db, journal)
    lead_id = ivans_lead(portal_emulator)

    def note() -> Awaitable[str]:
        return capture.add_note(IVAN, lead_id, "Asked again about the windows")

    assert await in_update(UPDATE, note) == "Windows for the dacha"
    await crash_after_write(records, f"{UPDATE}:note:{lead_id}")
    assert await in_update(UPDATE, note) == "Windows for the dacha"
    await in_update(UPDATE, note)
    assert len(comments_on(portal_emulator, lead_id)) == 1


async def test_a_replayed_capture_creates_one_lead(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    db: Database,
    journal: WriteJournal,
    records: WriteRecordRepository,
) -> None:
    capture = capture_service(portal, db, journal)
    prefill = {"TITLE": "Doors for the office", "PHONE": "+79165550123"}
    form, draft = await capture.new_draft(IVAN, prefill, "RU")
    before = set(portal_emulator.leads)

    def create() -> Awaitable[int]:
        return capture.create_lead(IVAN, draft, form)

    lead_id = await in_update(UPDATE, create)
    assert await in_update(UPDATE, create) == lead_id
    await crash_after_write(records, f"{UPDATE}:lead:{draft.origin_id}")
    # The restarted process has a fresh service and the draft as it was stored before. The
    # replayed press is not stopped by the duplicate check (the lead it finds is its own).
    again = capture_service(portal, db, journal)
    check = await in_update(UPDATE, lambda: again.check_before_create(IVAN, draft, form))
    assert check.step is CreateStep.CREATE
    assert await in_update(UPDATE, lambda: again.create_lead(IVAN, draft, form)) == lead_id
    # A new press of Create on the same draft is a new update: the duplicate is shown.
    check = await in_update(UPDATE + 1, lambda: again.check_before_create(IVAN, draft, form))
    assert check.step is CreateStep.SHOW_DUPLICATES
    assert [match.id for match in check.duplicates.leads] == [lead_id]
    assert set(portal_emulator.leads) - before == {lead_id}
    assert portal_emulator.leads[lead_id]["ORIGIN_ID"] == draft.origin_id


async def test_a_replayed_contact_creation_makes_one_contact(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    db: Database,
    journal: WriteJournal,
    records: WriteRecordRepository,
) -> None:
    lead_id = ivans_lead(portal_emulator)
    first = LeadContactsService(portal, BotActionLog(db), default_region="RU", journal=journal)
    contact_id = await in_update(UPDATE, lambda: first.create_from_lead(IVAN, lead_id))
    assert await in_update(UPDATE, lambda: first.create_from_lead(IVAN, lead_id)) == contact_id
    await crash_after_write(records, f"{UPDATE}:contact:{lead_id}")
    # A restarted process remembers nothing in memory: the record and ORIGIN_ID find it.
    restarted = LeadContactsService(portal, BotActionLog(db), default_region="RU", journal=journal)
    found = await in_update(UPDATE, lambda: restarted.create_from_lead(IVAN, lead_id))
    assert found == contact_id
    assert list(portal_emulator.contacts) == [contact_id]
    assert [b["CONTACT_ID"] for b in portal_emulator.lead_contacts[lead_id]] == [contact_id]


async def test_a_replayed_product_row_is_added_once_without_a_conflict(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    db: Database,
    journal: WriteJournal,
) -> None:
    products = LeadProductsService(portal, BotActionLog(db), journal)
    lead_id = ivans_lead(portal_emulator)
    seen = await products.view(IVAN, lead_id)
    kit = next(
        pid for pid, row in portal_emulator.products.items() if row["NAME"] == "Sensor kit pro"
    )

    def add() -> Awaitable[None]:
        return products.add_row(
            IVAN,
            lead_id,
            product_id=kit,
            quantity=Decimal(2),
            price=Decimal(100),
            seen_signature=seen.signature,
        )

    await in_update(UPDATE, add)
    await in_update(UPDATE, add)  # recorded done: not written, no "rows changed" either
    assert len(portal_emulator.product_rows[lead_id]) == 1


async def test_a_phone_the_lead_has_is_not_added_again(
    portal_emulator: Bitrix24Emulator, portal: PortalClient, db: Database, journal: WriteJournal
) -> None:
    # The portal itself skips an exact duplicate (same type too); the bot adds its phones as
    # WORK, so a number the lead has as MOBILE is checked before the write.
    leads = lead_service(portal, db, journal)
    lead_id = ivans_lead(portal_emulator)

    def add(value: str) -> Awaitable[object]:
        return leads.edit_multifield(IVAN, lead_id, "PHONE", value=value)

    await in_update(UPDATE, lambda: add("8 903 555-01-01"))
    await in_update(UPDATE + 1, lambda: add("+7 916 555-12-34"))
    await in_update(UPDATE + 1, lambda: add("+7 916 555-12-34"))
    phones = [(p["VALUE"], p["VALUE_TYPE"]) for p in portal_emulator.leads[lead_id]["PHONE"]]
    assert phones == [("+79035550101", "MOBILE"), ("+79165551234", "WORK")]


# --- through the intake, as the bot runs it --------------------------------------------------


async def test_an_update_replayed_after_a_crash_mid_handler_writes_nothing_twice(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    db: Database,
    journal: WriteJournal,
    records: WriteRecordRepository,
) -> None:
    capture = capture_service(portal, db, journal)
    lead_id = ivans_lead(portal_emulator)
    router = Router()
    handled: list[int | None] = []

    @router.message(Command("note"))
    async def on_note(event: Message) -> None:
        handled.append(current_update_id())
        await capture.add_note(IVAN, lead_id, (event.text or "").removeprefix("/note "))

    dispatcher = TrackedDispatcher(in_flight=InFlightUpdates())
    dispatcher.include_router(router)
    updates = UpdateRepository(db)
    intake = UpdateIntake(
        dispatcher=dispatcher,
        bot=Bot(DEFAULT_TEST_TOKEN),
        updates=updates,
        claim_for=timedelta(0),
    )
    update = Update.model_validate(
        {
            "update_id": UPDATE,
            "message": {
                "message_id": 1,
                "date": 1_772_000_000,
                "chat": {"id": 2001, "type": "private"},
                "from": {"id": 2001, "is_bot": False, "first_name": "Ivan"},
                "text": "/note Brochure sent",
            },
        }
    )
    await intake.accept([update])
    await intake.accept([update])  # delivered twice: stored once, handled once
    async with asyncio.timeout(5):
        while await updates.waiting_count():
            await asyncio.sleep(0.01)
    assert handled == [UPDATE]
    # SIGKILL after the comment reached the portal, before either outcome was recorded.
    async with db.transaction() as conn:
        await execute(
            conn,
            "UPDATE telegram_updates SET handled_at = NULL, outcome = NULL, payload = ? "
            "WHERE update_id = ?",
            (encode_json(update_payload(update)), UPDATE),
        )
    await crash_after_write(records, f"{UPDATE}:note:{lead_id}")
    assert await intake.replay_waiting() == 1
    assert handled == [UPDATE, UPDATE]
    [text] = comments_on(portal_emulator, lead_id)
    assert text.startswith("Brochure sent")


async def test_a_replayed_follow_up_makes_one_todo(
    portal_emulator: Bitrix24Emulator,
    portal: PortalClient,
    db: Database,
    journal: WriteJournal,
    records: WriteRecordRepository,
) -> None:
    followups = FollowUpService(
        portal=portal,
        reminders=ReminderRepository(db),
        hours=HoursService(HoursRepository(db), default_zone=ZoneInfo("UTC")),
        clock=lambda: datetime.now(UTC),
        journal=journal,
    )
    lead_id = ivans_lead(portal_emulator)
    due = datetime.now(UTC) + timedelta(days=1)

    def todos() -> list[dict[str, object]]:
        return [
            row
            for row in portal_emulator.activities.values()
            if row["OWNER_TYPE_ID"] == "1" and row["OWNER_ID"] == str(lead_id)
        ]

    def plan() -> Awaitable[FollowUp]:
        return followups.create(IVAN, lead_id, due, title="Call back", text="Bring the samples")

    first = await in_update(UPDATE, plan)
    await in_update(UPDATE, plan)  # the same update delivered again
    [todo] = todos()
    assert str(todo["DESCRIPTION"]).startswith("Bring the samples")
    await crash_after_write(records, f"{UPDATE}:todo:{lead_id}")
    again = await in_update(UPDATE, plan)  # outcome unknown: found by its mark
    assert len(todos()) == 1
    assert again.activity_id == first.activity_id
    reminder = await ReminderRepository(db).get(int(str(todo["ID"])))
    assert reminder is not None
    assert reminder.note == "Bring the samples"  # the mark stays in the portal
    await in_update(UPDATE + 1, plan)  # planned again on purpose: a second to-do
    assert len(todos()) == 2
