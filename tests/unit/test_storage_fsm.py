"""aiogram FSM storage on SQLite: per-key isolation, strict JSON, survival across restarts."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Dispatcher, Router
from aiogram.exceptions import DataNotDictLikeError
from aiogram.filters import CommandStart
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Message
from aiogram_dialog import Dialog, DialogManager, StartMode, Window, setup_dialogs
from aiogram_dialog.test_tools import BotClient, MockMessageManager
from aiogram_dialog.widgets.input import ManagedTextInput, TextInput
from aiogram_dialog.widgets.text import Format

from bot.storage import Database, NotJsonError
from bot.storage.fsm import SQLiteStorage
from tests.fixtures_storage import Backend

KEY = StorageKey(bot_id=42, chat_id=-100500, user_id=7)


class LeadForm(StatesGroup):
    name = State()
    phone = State()
    done = State()


@pytest.fixture
def storage(db: Database) -> SQLiteStorage:
    return SQLiteStorage(db)


async def test_state_and_data_round_trip(storage: SQLiteStorage) -> None:
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}

    await storage.set_state(KEY, LeadForm.phone)
    await storage.set_data(KEY, {"name": "Ivan", "fields": {"UF_CRM_1": [1, 2]}, "ok": True})

    assert await storage.get_state(KEY) == "LeadForm:phone"
    assert await storage.get_data(KEY) == {
        "name": "Ivan",
        "fields": {"UF_CRM_1": [1, 2]},
        "ok": True,
    }
    await storage.set_state(KEY, "LeadForm:done")
    assert await storage.get_state(KEY) == "LeadForm:done"


async def test_get_data_returns_a_fresh_copy(storage: SQLiteStorage) -> None:
    await storage.set_data(KEY, {"items": [1]})
    data = await storage.get_data(KEY)
    data["items"].append(2)
    assert await storage.get_data(KEY) == {"items": [1]}


async def test_update_data_merges_and_value_reads_one_key(storage: SQLiteStorage) -> None:
    await storage.set_data(KEY, {"name": "Ivan", "phone": None})
    merged = await storage.update_data(KEY, {"phone": "+79990000000"})
    assert merged == {"name": "Ivan", "phone": "+79990000000"}
    assert await storage.get_data(KEY) == merged
    assert await storage.get_value(KEY, "name") == "Ivan"
    assert await storage.get_value(KEY, "missing", "default") == "default"


@pytest.mark.parametrize(
    "other",
    [
        StorageKey(bot_id=43, chat_id=-100500, user_id=7),
        StorageKey(bot_id=42, chat_id=-100501, user_id=7),
        StorageKey(bot_id=42, chat_id=-100500, user_id=8),
        StorageKey(bot_id=42, chat_id=-100500, user_id=7, thread_id=3),
        StorageKey(bot_id=42, chat_id=-100500, user_id=7, business_connection_id="bc1"),
        StorageKey(bot_id=42, chat_id=-100500, user_id=7, destiny="aiogd:stack:"),
        StorageKey(bot_id=42, chat_id=-100500, user_id=7, destiny="aiogd:context:abc"),
    ],
    ids=["bot", "chat", "user", "thread", "business", "stack-destiny", "context-destiny"],
)
async def test_every_key_field_keeps_records_apart(
    storage: SQLiteStorage, other: StorageKey
) -> None:
    await storage.set_state(KEY, LeadForm.name)
    await storage.set_data(KEY, {"who": "default"})
    await storage.set_state(other, LeadForm.done)
    await storage.set_data(other, {"who": "other"})

    assert await storage.get_state(KEY) == "LeadForm:name"
    assert await storage.get_data(KEY) == {"who": "default"}
    assert await storage.get_state(other) == "LeadForm:done"
    assert await storage.get_data(other) == {"who": "other"}


async def test_absent_thread_and_business_connection_match_aiogram_key_builder(
    storage: SQLiteStorage,
) -> None:
    # aiogram's DefaultKeyBuilder (Redis, Mongo) gives thread 0 and None the same key.
    await storage.set_data(KEY, {"a": 1})
    same = StorageKey(
        bot_id=42, chat_id=-100500, user_id=7, thread_id=0, business_connection_id=""
    )
    assert await storage.get_data(same) == {"a": 1}


async def test_cleared_key_leaves_no_row(db: Database, storage: SQLiteStorage) -> None:
    await storage.set_state(KEY, LeadForm.name)
    await storage.set_data(KEY, {"x": 1})
    await storage.set_data(KEY, {})
    await storage.set_state(KEY, None)
    row = await db.fetch_one("SELECT count(*) FROM fsm")
    assert row is not None
    assert row[0] == 0
    assert await storage.get_state(KEY) is None


@pytest.mark.parametrize(
    "data",
    [
        {"when": object()},
        {"pair": (1, 2)},
        {"ids": {1: "a"}},
        {"deep": [{"nan": float("inf")}]},
    ],
    ids=["object", "tuple", "int-key", "infinity"],
)
async def test_non_json_data_fails_loudly_and_keeps_old_data(
    storage: SQLiteStorage, data: dict[str, Any]
) -> None:
    await storage.set_data(KEY, {"kept": True})
    with pytest.raises(NotJsonError):
        await storage.set_data(KEY, data)
    with pytest.raises(NotJsonError):
        await storage.update_data(KEY, data)
    assert await storage.get_data(KEY) == {"kept": True}


async def test_data_must_be_a_dict(storage: SQLiteStorage) -> None:
    with pytest.raises(DataNotDictLikeError):
        await storage.set_data(KEY, [("a", 1)])  # type: ignore[arg-type]


async def test_state_and_data_survive_restart(backend: Backend) -> None:
    async with backend.database() as db:
        storage = SQLiteStorage(db, durable=True)
        await storage.set_state(KEY, LeadForm.phone)
        await storage.set_data(KEY, {"name": "Ivan"})
        await storage.close()
    async with backend.database() as db:
        storage = SQLiteStorage(db)
        assert await storage.get_state(KEY) == "LeadForm:phone"
        assert await storage.get_data(KEY) == {"name": "Ivan"}


# A real aiogram-dialog flow: the stack and the half-filled form must outlive a restart.


async def _on_name(
    message: Message, widget: ManagedTextInput[str], manager: DialogManager, name: str
) -> None:
    manager.dialog_data["name"] = name
    await manager.next()


async def _on_phone(
    message: Message, widget: ManagedTextInput[str], manager: DialogManager, phone: str
) -> None:
    manager.dialog_data["phone"] = phone
    await manager.next()


def _build_dispatcher(storage: SQLiteStorage, messages: MockMessageManager) -> Dispatcher:
    dialog = Dialog(
        Window(Format("Name?"), TextInput("name", on_success=_on_name), state=LeadForm.name),
        Window(Format("Phone?"), TextInput("phone", on_success=_on_phone), state=LeadForm.phone),
        Window(
            Format("Lead: {dialog_data[name]}, {dialog_data[phone]}"),
            state=LeadForm.done,
        ),
    )
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message, dialog_manager: DialogManager) -> None:
        await dialog_manager.start(LeadForm.name, mode=StartMode.RESET_STACK)

    dispatcher = Dispatcher(storage=storage)
    dispatcher.include_routers(router, dialog)
    setup_dialogs(dispatcher, message_manager=messages)
    return dispatcher


async def test_half_filled_dialog_form_survives_restart(backend: Backend) -> None:
    async with backend.database() as db:
        messages = MockMessageManager()
        client = BotClient(_build_dispatcher(SQLiteStorage(db), messages), user_id=7, chat_id=7)
        await client.send("/start")
        assert messages.last_message().text == "Name?"
        await client.send("Ivan")
        assert messages.last_message().text == "Phone?"
        destinies = await db.fetch_all("SELECT destiny FROM fsm ORDER BY destiny")
        assert {row["destiny"].split(":")[1] for row in destinies} >= {"stack", "context"}

    async with backend.database() as db:
        messages = MockMessageManager()
        client = BotClient(_build_dispatcher(SQLiteStorage(db), messages), user_id=7, chat_id=7)
        await client.send("+79990001122")
        assert messages.last_message().text == "Lead: Ivan, +79990001122"


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_prune_forgets_idle_chats_whole_and_keeps_active_ones(db: Database) -> None:
    clock = _Clock()
    storage = SQLiteStorage(db, clock=clock)
    idle_stack = StorageKey(bot_id=42, chat_id=1, user_id=1, destiny="aiogd:stack:")
    idle_context = StorageKey(bot_id=42, chat_id=1, user_id=1, destiny="aiogd:context:abc")
    busy_old = StorageKey(bot_id=42, chat_id=2, user_id=2, destiny="aiogd:context:old")
    busy_new = StorageKey(bot_id=42, chat_id=2, user_id=2, destiny="aiogd:stack:")
    for key in (idle_stack, idle_context, busy_old):
        await storage.set_data(key, {"card": "Ivan +79161234567"})
    clock.now += timedelta(hours=71)
    await storage.set_data(busy_new, {"intents": ["old"]})
    clock.now += timedelta(hours=2)

    assert await storage.prune(timedelta(hours=72)) == 2
    assert await storage.get_data(idle_stack) == {}
    assert await storage.get_data(idle_context) == {}
    # A chat touched within the window keeps every row, its older context included.
    assert await storage.get_data(busy_old) == {"card": "Ivan +79161234567"}
    assert await storage.get_data(busy_new) == {"intents": ["old"]}
    assert await storage.prune(timedelta(hours=72)) == 0


async def test_prune_forever_keeps_pruning_until_cancelled(db: Database) -> None:
    clock = _Clock()
    storage = SQLiteStorage(db, clock=clock)
    await storage.set_data(KEY, {"x": 1})
    clock.now += timedelta(hours=2)
    task = asyncio.create_task(storage.prune_forever(timedelta(hours=1), every=0.01))
    try:
        for _ in range(200):
            if await storage.get_data(KEY) == {}:
                break
            await asyncio.sleep(0.01)
        assert await storage.get_data(KEY) == {}
        await storage.set_data(KEY, {"x": 2})
        clock.now += timedelta(hours=2)
        for _ in range(200):
            if await storage.get_data(KEY) == {}:
                break
            await asyncio.sleep(0.01)
        assert await storage.get_data(KEY) == {}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
