"""People and chats: admin-only services, subscription summaries and chat lines (no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.access.roles import Identity, Role
from bot.access.service import AccessDenied
from bot.admin.people import ChatEntry, PeopleService, clamp_page, page_count
from bot.i18n import Translations, Translator
from bot.leads.catalog import CatalogSnapshot
from bot.portal import Status
from bot.storage import Binding, BindingRepository, BindingSource, Database
from bot.storage.outbox import NewOutboxMessage, Notification, OutboxRepository
from bot.storage.subscriptions import (
    ChatSubscriptions,
    NewSubscription,
    Scope,
    Subscription,
    SubscriptionRepository,
)
from dialogs.admin_people import chat_state
from dialogs.subscriptions import filters_summary, subscription_keyboard, toggled

ADMIN = Identity(telegram_user_id=1001, portal_user_id=1, role=Role.ADMIN, name="Anna")
MANAGER = Identity(telegram_user_id=3001, portal_user_id=3, role=Role.MANAGER, name="Olga")
REP = Identity(telegram_user_id=2001, portal_user_id=2, role=Role.REP, name="Ivan")
GROUP = -4001


def status(status_id: str, name: str) -> Status:
    return Status.model_validate({"STATUS_ID": status_id, "NAME": name})


CATALOG = CatalogSnapshot(
    stages=(status("NEW", "New"), status("IN_PROCESS", "In progress"), status("JUNK", "Junk")),
    sources=(status("CALL", "Call"), status("WEB", "Web")),
)


@pytest.fixture(scope="module")
def tr() -> Translator:
    return Translations.load(strict=True).for_language("en")


def sub(**changes: object) -> Subscription:
    fields: dict[str, object] = {
        "id": 7,
        "chat_id": 3001,
        "thread_id": None,
        "created_by": 3001,
        "scope": Scope.ALL,
    }
    fields.update(changes)
    return Subscription(**fields)  # type: ignore[arg-type]


def test_summary_names_stages_and_sources_in_the_portals_order(tr: Translator) -> None:
    narrowed = sub(stages=frozenset({"IN_PROCESS", "NEW"}), sources=frozenset({"WEB"}))
    assert filters_summary(tr, narrowed, CATALOG, {}) == "Stages: New, In progress; Sources: Web"


def test_summary_without_filters_says_any(tr: Translator) -> None:
    assert filters_summary(tr, sub(), CATALOG, {}) == "any stage and source"


def test_summary_keeps_ids_the_portal_no_longer_has_and_works_without_a_catalog(
    tr: Translator,
) -> None:
    narrowed = sub(stages=frozenset({"UC_GONE", "NEW"}))
    assert filters_summary(tr, narrowed, CATALOG, {}) == "Stages: New, UC_GONE"
    assert filters_summary(tr, narrowed, None, {}) == "Stages: NEW, UC_GONE"


def test_summary_names_chosen_responsibles_or_warns_when_nobody_is_chosen(
    tr: Translator,
) -> None:
    people = sub(scope=Scope.USERS, responsible_ids=frozenset({2, 9}))
    assert filters_summary(tr, people, CATALOG, {2: "Ivan Petrov"}) == (
        "Responsibles: #9, Ivan Petrov"
    )
    nobody = filters_summary(tr, sub(scope=Scope.USERS), CATALOG, {})
    assert "nobody chosen" in nobody


def test_rep_card_has_filters_but_no_scope_switch(tr: Translator) -> None:
    rep_labels = [
        b.text
        for row in subscription_keyboard(tr, sub(), may_widen=False).inline_keyboard
        for b in row
    ]
    assert "🎯 Stages" in rep_labels
    assert not any(label.startswith(("🔁", "👥")) for label in rep_labels)
    manager = subscription_keyboard(tr, sub(scope=Scope.USERS), may_widen=True)
    data = [b.callback_data for row in manager.inline_keyboard for b in row]
    assert "sub:7:uv::0" in data
    assert all(d is not None and len(d.encode()) <= 64 for d in data)


def test_toggled_adds_and_removes() -> None:
    assert toggled(frozenset({"NEW"}), "WEB") == {"NEW", "WEB"}
    assert toggled(frozenset({"NEW", "WEB"}), "NEW") == {"WEB"}


def test_chat_state_prefers_disabled_then_all_paused() -> None:
    def entry(total: int, paused: int, disabled: int) -> ChatEntry:
        reason = "blocked" if disabled else None
        return ChatEntry(ChatSubscriptions(GROUP, None, total, paused, disabled, reason, 1))

    assert chat_state(entry(2, 2, 1)) == "disabled"
    assert chat_state(entry(2, 2, 0)) == "paused"
    assert chat_state(entry(2, 1, 0)) == "active"


def test_pages_are_counted_and_clamped() -> None:
    assert page_count(0, 5) == 1
    assert page_count(11, 5) == 3
    assert clamp_page(7, 11, 5) == 2
    assert clamp_page(-1, 11, 5) == 0


class Wakes:
    """Counts how often the sender was woken."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
def people(db: Database, wakes: Wakes) -> PeopleService:
    return PeopleService(
        subscriptions=SubscriptionRepository(db),
        outbox=OutboxRepository(db),
        bindings=BindingRepository(db),
        on_requeued=wakes,
        page_size=2,
    )


async def dead_letters(db: Database, chat_id: int, count: int) -> list[int]:
    outbox = OutboxRepository(db)
    await outbox.add(
        [
            NewOutboxMessage(f"event-{i}:{chat_id}", chat_id, None, 100 + i, Notification(f"#{i}"))
            for i in range(count)
        ]
    )
    rows = await db.fetch_all("SELECT id FROM outbox ORDER BY id")
    ids = [int(r[0]) for r in rows]
    for message_id in ids:
        await outbox.mark_dead(message_id, "TelegramServerError: Internal Server Error")
    return ids


@pytest.mark.parametrize("caller", [None, REP, MANAGER])
async def test_only_admins_get_people_and_chats(
    people: PeopleService, db: Database, wakes: Wakes, caller: Identity | None
) -> None:
    [message_id] = await dead_letters(db, 2001, 1)
    with pytest.raises(AccessDenied):
        await people.chats(caller)
    with pytest.raises(AccessDenied):
        await people.dead_letters(caller, 0)
    with pytest.raises(AccessDenied):
        await people.resend(caller, message_id)
    with pytest.raises(AccessDenied):
        await people.resend_all(caller)
    with pytest.raises(AccessDenied):
        await people.remove_disabled(caller, 2001)
    assert await OutboxRepository(db).count("dead") == 1
    assert wakes.count == 0


async def test_chats_are_grouped_by_topic_with_owner_names_and_disabled_reasons(
    people: PeopleService, db: Database
) -> None:
    subscriptions = SubscriptionRepository(db)
    await BindingRepository(db).upsert(
        Binding(
            telegram_user_id=2001,
            portal_user_id=2,
            role=Role.REP,
            bound_via=BindingSource.CONTACT,
            bound_at=datetime(2026, 3, 1, tzinfo=UTC),
            display_name="Ivan Petrov",
        )
    )
    for chat_id, thread_id in ((2001, None), (GROUP, 5), (GROUP, 5), (GROUP, None)):
        await subscriptions.create(NewSubscription(chat_id, thread_id, 1001, Scope.ALL))
    async with db.transaction() as conn:
        await subscriptions.disable_chat_in(conn, 2001, "Forbidden: bot was blocked by the user")

    entries = await people.chats(ADMIN)
    summary = {
        (e.chats.chat_id, e.chats.thread_id): (e.chats.total, e.chats.disabled, e.owner_name)
        for e in entries
    }
    assert summary == {
        (GROUP, None): (1, 0, None),
        (GROUP, 5): (2, 0, None),
        (2001, None): (1, 1, "Ivan Petrov"),
    }
    ivans = await people.chat(ADMIN, 2001, None)
    assert ivans is not None
    assert ivans.chats.disabled_reason == "Forbidden: bot was blocked by the user"

    assert await people.remove_disabled(ADMIN, GROUP) == 0
    assert await people.remove_disabled(ADMIN, 2001) == 1
    assert await people.chat(ADMIN, 2001, None) is None


async def test_dead_letters_come_newest_first_in_pages_and_go_back_to_the_queue(
    people: PeopleService, db: Database, wakes: Wakes
) -> None:
    ids = await dead_letters(db, 2001, 3)
    first = await people.dead_letters(ADMIN, 0)
    assert [letter.id for letter in first.letters] == [ids[2], ids[1]]
    assert (first.page, first.pages, first.total) == (0, 2, 3)
    assert first.letters[0].reason.endswith("Internal Server Error")
    last = await people.dead_letters(ADMIN, 9)
    assert (last.page, [letter.id for letter in last.letters]) == (1, [ids[0]])

    assert await people.resend(ADMIN, ids[0])
    assert not await people.resend(ADMIN, ids[0])
    row = await db.fetch_one("SELECT state, attempts FROM outbox WHERE id = ?", (ids[0],))
    assert row is not None
    assert (row["state"], row["attempts"]) == ("pending", 0)
    assert [m.id for m in await OutboxRepository(db).due(10)] == [ids[0]]
    assert await people.resend_all(ADMIN) == 2
    assert await OutboxRepository(db).count("dead") == 0
    assert wakes.count == 2
