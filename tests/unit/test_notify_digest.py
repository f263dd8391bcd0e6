"""Quiet hours: which notifications are urgent, and the digest of what waited."""

from __future__ import annotations

from datetime import UTC, datetime, time
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from bot.access.roles import Identity
from bot.i18n import Translations, Translator
from bot.notify.buttons import LeadButton
from bot.notify.diff import ChangedField, FieldChange, LeadChange
from bot.notify.digest import DigestWorker, QuietHours, render_digest, top_leads
from bot.notify.match import is_urgent
from bot.notify.render import MAX_MESSAGE_LENGTH, Links
from bot.schedule.service import HoursService
from bot.storage import Database, Role
from bot.storage.held import HeldNotification, HeldRepository
from bot.storage.hours import HoursRepository
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxRepository
from bot.storage.subscriptions import (
    EventKind,
    NewSubscription,
    Scope,
    Subscription,
    SubscriptionRepository,
)

LINKS = Links(bot_username="leads_bot", portal_base="https://portal.example")
IVAN = Identity(telegram_user_id=2001, portal_user_id=2, role=Role.REP)
GROUP = Subscription(id=1, chat_id=-100, thread_id=None, created_by=1, scope=Scope.ALL)
PRIVATE = Subscription(id=2, chat_id=2001, thread_id=None, created_by=2001, scope=Scope.MINE)
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday
NIGHT = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)


def change(kind: EventKind, assigned: int, *changes: FieldChange) -> LeadChange:
    return LeadChange(7, kind, {"ID": 7, "TITLE": "Pipes", "ASSIGNED_BY_ID": assigned}, changes)


def test_a_new_lead_is_urgent_in_a_group_and_a_change_is_not() -> None:
    assert is_urgent(change(EventKind.ADDED, 3), GROUP, IVAN)
    stage = FieldChange(ChangedField.STAGE, "NEW", "IN_PROCESS")
    assert not is_urgent(change(EventKind.CHANGED, 3, stage), GROUP, IVAN)
    assert not is_urgent(change(EventKind.DELETED, 3), GROUP, IVAN)


def test_a_lead_becoming_the_readers_own_is_urgent_in_their_private_chat() -> None:
    handed = FieldChange(ChangedField.RESPONSIBLE, 3, 2)
    assert is_urgent(change(EventKind.CHANGED, 2, handed), PRIVATE, IVAN)
    assert is_urgent(change(EventKind.ADDED, 2), PRIVATE, IVAN)
    stage = FieldChange(ChangedField.STAGE, "NEW", "IN_PROCESS")
    assert not is_urgent(change(EventKind.CHANGED, 2, stage), PRIVATE, IVAN)
    # Handed to somebody else: the reader may hear of it, but it can wait.
    away = FieldChange(ChangedField.RESPONSIBLE, 2, 3)
    assert not is_urgent(change(EventKind.CHANGED, 3, away), PRIVATE, IVAN)


def held(number: int, lead_id: int, kind: str, title: str = "Pipes") -> HeldNotification:
    return HeldNotification(number, -100, None, lead_id, kind, title, NOON)


def test_each_lead_is_listed_once_by_what_matters_most_newest_first() -> None:
    items = [
        held(1, 10, "changed"),
        held(2, 11, "stage"),
        held(3, 10, "added"),
        held(4, 12, "added"),
        held(5, 13, "deleted"),
        held(6, 11, "changed"),
    ]
    assert [(lead.lead_id, lead.kind) for lead in top_leads(items)] == [
        (12, EventKind.ADDED),
        (10, EventKind.ADDED),
        (11, EventKind.STAGE),
        (13, EventKind.DELETED),
    ]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag

    def handle_data(self, data: str) -> None:
        self.text += data


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_thousand_held_notifications_make_one_message_under_telegrams_limit(
    language: str,
) -> None:
    tr: Translator = Translations.load(strict=True).for_language(language)
    kinds = ("added", "stage", "changed", "deleted")
    title = "<b>Окна & двери</b> " * 40  # long, and HTML that must stay text
    items = [held(n, 1000 + n % 700, kinds[n % 4], title) for n in range(1, 1001)]
    text, buttons = render_digest(tr, items, LINKS, is_group=False, since="07.12 18:05")
    assert len(text) <= MAX_MESSAGE_LENGTH
    parser = Tags()
    parser.feed(text)
    parser.close()
    assert parser.open == []
    assert "&lt;b&gt;Окна &amp; двери" in text  # the title is text, not markup
    digits = parser.text.replace(",", "").replace("\u00a0", "").replace(" ", "")
    assert "1000" in digits  # updates
    assert "700" in digits  # leads
    assert digits.count(":250") == 4  # each kind a quarter of the thousand
    assert "#1300" in digits
    assert len(buttons[0]) == 5  # the top leads get buttons; the portal link below
    assert all(LeadButton.unpack(b.callback_data or "").lead_id > 1000 for b in buttons[0])
    assert buttons[-1][0].url == "https://portal.example/crm/lead/list/"


def test_a_groups_digest_links_to_the_private_chat_instead_of_buttons_for_the_bot() -> None:
    tr = Translations.load(strict=True).for_language("en")
    _, buttons = render_digest(tr, [held(1, 5, "added")], LINKS, is_group=True, since="x")
    assert buttons[0][0].url == "https://t.me/leads_bot?start=lead_5"


async def test_a_quiet_chat_holds_until_its_window_and_then_gets_one_digest(db: Database) -> None:
    now = [NIGHT]
    outbox = OutboxRepository(db)
    heldrepo = HeldRepository(db, outbox, clock=lambda: now[0])
    hours = HoursService(HoursRepository(db), default_zone=ZoneInfo("UTC"))
    subscriptions = SubscriptionRepository(db)
    await subscriptions.create(
        NewSubscription(chat_id=-100, thread_id=None, created_by=1, scope=Scope.ALL, language="ru")
    )
    await hours.set_quiet(-100, None, True)  # Mon–Fri 09:00–18:00 UTC
    quiet = QuietHours(hours, heldrepo, clock=lambda: now[0])
    queued: list[int] = []
    worker = DigestWorker(
        held=heldrepo,
        hours=hours,
        subscriptions=subscriptions,
        translations=Translations.load(strict=True),
        links=LINKS,
        on_queued=lambda: queued.append(1),
        clock=lambda: now[0],
    )
    steps = [("stage", False), ("added", True), ("changed", False)]
    for number, (kind, urgent) in enumerate(steps):
        await outbox.add(
            [
                NewOutboxMessage(
                    idempotency_key=f"k{number}",
                    chat_id=-100,
                    thread_id=None,
                    lead_id=40 + number,
                    notification=Notification(
                        text="t", subscriber=1, kind=kind, urgent=urgent, title=f"Lead {number}"
                    ),
                )
            ]
        )
    decisions = []
    for _ in steps:  # the chat's rows one at a time, as the sender takes them
        (row,) = await outbox.due(limit=10)
        decisions.append(await quiet.hold_if_off_work(row))
        if not decisions[-1]:
            await outbox.mark_sent(row.id)
    assert decisions == [True, False, True]  # the urgent new lead is not held

    assert await worker.send_due() == 0  # still night: nothing goes
    now[0] = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # Tuesday 09:00
    assert await worker.send_due() == 1
    assert queued == [1]
    assert await heldrepo.chats() == []
    digest = [r for r in await outbox.due(limit=10) if r.notification.kind == "digest"]
    assert len(digest) == 1
    assert "2 обновления по 2 лидам" in digest[0].notification.text
    assert "Lead 0" in digest[0].notification.text
    assert await worker.send_due() == 0  # sent once


async def test_a_chat_that_stops_being_quiet_gets_its_digest_at_once(db: Database) -> None:
    outbox = OutboxRepository(db)
    heldrepo = HeldRepository(db, outbox, clock=lambda: NIGHT)
    hours = HoursService(HoursRepository(db), default_zone=ZoneInfo("UTC"))
    await hours.set_quiet(2001, None, True)
    await hours.set_window(2001, None, time(9), time(18))
    await outbox.add(
        [
            NewOutboxMessage(
                "a", 2001, None, 5, Notification(text="t", subscriber=2001, kind="changed")
            )
        ]
    )
    (row,) = await outbox.due(limit=10)
    assert await QuietHours(hours, heldrepo, clock=lambda: NIGHT).hold_if_off_work(row)
    woken: list[int] = []
    hours.on_change(lambda: woken.append(1))
    await hours.set_quiet(2001, None, False)
    assert woken == [1]
    worker = DigestWorker(
        held=heldrepo,
        hours=hours,
        subscriptions=SubscriptionRepository(db),
        translations=Translations.load(strict=True),
        links=Links(bot_username="leads_bot", portal_base=None),
        on_queued=lambda: None,
        clock=lambda: NIGHT,
    )
    assert await worker.send_due() == 1
    (digest,) = await outbox.due(limit=10)
    assert digest.notification.text.startswith("🌅 <b>While you were off work: 1 update on 1 lead")
