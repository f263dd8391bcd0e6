"""The whole bot, started against both emulators over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiogram.utils.backoff import BackoffConfig

from bot.app import Application
from bot.config import (
    EventsSettings,
    NotifySettings,
    PortalSettings,
    RedisSettings,
    Settings,
    StorageSettings,
    TelegramSettings,
    WebSettings,
)
from bot.storage.timestamps import Clock, utc_now
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser
from tests.emulators.telegram_models import ChatMessage

ADMIN_TELEGRAM_ID = 1001
PICTURE_SECONDS = 30.0
"""How long a test waits for a chart: the first one a process draws imports matplotlib, which
takes seconds on a small machine while the other test worker is busy."""

# What must never reach a log line: credentials, and the personal data the scenarios use. The
# personal data is collected from both emulators when the test ends (see personal_data_of), so
# every phone, e-mail and name a scenario made up is checked, not only these.
NEVER_LOGGED = (
    DEFAULT_TEST_TOKEN,
    DEFAULT_TEST_TOKEN.split(":", 1)[1],
    "emusecret0001",
    "apptoken0001",
    "emuclientsecret",
    "s3cret-Token_1",
    "79160000001",
    "79161234567",
    "79162345678",
    "74951234567",
    "@example.test",
)

_PERSON_FIELDS = ("NAME", "LAST_NAME", "SECOND_NAME")
_PHONE_FIELDS = ("PERSONAL_MOBILE", "WORK_PHONE", "PERSONAL_PHONE")
_MIN_NAME_LENGTH = 3  # shorter tokens ("Al", "Li") match too much ordinary text
_MIN_PHONE_DIGITS = 7


def _values(row: Mapping[str, Any], key: str) -> list[str]:
    """A row's value(s) for `key`: plain fields and multifields (PHONE, EMAIL) alike."""
    value = row.get(key)
    if isinstance(value, list):
        return [str(v.get("VALUE", "")) if isinstance(v, Mapping) else str(v) for v in value]
    return [str(value)] if value else []


def personal_data_of(
    portal: Bitrix24Emulator | None, telegram: TelegramEmulator | None
) -> tuple[set[str], set[str]]:
    """Phones (as digits) and e-mails, and names, that a scenario put into the emulators.

    Portal users, leads and contacts; Telegram users, and the contacts they shared.
    """
    phones: set[str] = set()
    names: set[str] = set()
    raw_phones: list[str] = []
    emails: set[str] = set()
    rows: list[Mapping[str, Any]] = []
    if portal is not None:
        rows = [*portal.users.values(), *portal.leads.values(), *portal.contacts.values()]
    for row in rows:
        for key in _PERSON_FIELDS:
            names.update(_values(row, key))
        for key in (*_PHONE_FIELDS, "PHONE"):
            raw_phones.extend(_values(row, key))
        emails.update(_values(row, "EMAIL"))
    if telegram is not None:
        # The emulator keeps the users and phones it was given in these two maps.
        for user in telegram._users.values():
            names.update(str(user.get(k) or "") for k in ("first_name", "last_name"))
            if user.get("username"):
                names.add(str(user["username"]))
        raw_phones.extend(telegram._user_phones.values())
        for update in telegram.updates:
            contact = (update.get("message") or {}).get("contact") or {}
            raw_phones.append(str(contact.get("phone_number") or ""))
            names.update(str(contact.get(k) or "") for k in ("first_name", "last_name"))
    bot_words = set()
    if telegram is not None:
        bot_words = set(re.findall(r"\w+", " ".join(str(v) for v in telegram.bot_user.values())))
    for raw in raw_phones:
        digits = re.sub(r"\D", "", raw)
        if len(digits) >= _MIN_PHONE_DIGITS:
            phones.add(digits)
    secrets = phones | {e for e in emails if "@" in e}
    if portal is not None:
        secrets |= set(portal.issued_credentials)
    words = {
        word
        for name in names
        for word in re.findall(r"\w+", name)
        if len(word) >= _MIN_NAME_LENGTH and not word.isdigit() and word not in bot_words
    }
    return secrets, words


def leaks_in(
    lines: list[str], secrets: Iterable[str], names: Iterable[str]
) -> list[tuple[str, str]]:
    """(datum, line) for every line that carries a secret, a phone, an e-mail or a name."""
    name_pattern = (
        re.compile(r"\b(" + "|".join(sorted(map(re.escape, names))) + r")\b") if names else None
    )
    leaks = []
    for line in lines:
        digits = re.sub(r"\D", "", line)
        for secret in secrets:
            if secret in line or (secret.isdigit() and secret in digits and len(secret) >= 10):
                leaks.append((secret, line))
        if name_pattern is not None and (found := name_pattern.search(line)):
            leaks.append((found.group(1), line))
    return leaks


class _LineCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_secrets_in_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every scenario runs with DEBUG logging; no line may carry a secret or personal datum.

    The raw records are scanned (before any redaction), so this checks what our code and
    the libraries say, not only what the redacting filter leaves. Besides the fixed list, every
    phone, e-mail and name found in the emulators at the end of the test is looked for.
    """
    portal = (
        request.getfixturevalue("portal_emulator")
        if "portal_emulator" in request.fixturenames
        else None
    )
    telegram = (
        request.getfixturevalue("telegram_emulator")
        if "telegram_emulator" in request.fixturenames
        else None
    )
    collector = _LineCollector()
    collector.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(collector)
        root.setLevel(saved_level)
    secrets, names = personal_data_of(portal, telegram)
    leaks = leaks_in(collector.lines, {*NEVER_LOGGED, *secrets}, names)
    assert not leaks, f"log lines leak secrets or personal data: {leaks[:5]}"


FAST_BACKOFF = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=1.5, jitter=0.1)

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(
    tmp_path: Path,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    bot_redis: RedisSettings,
) -> SettingsFactory:
    """Settings pointing the bot at both emulators, with a fresh SQLite file per test (and
    the tests' Redis when `bot_redis` is parametrised with "redis")."""

    def build(*, web_port: int = 0, **telegram: object) -> Settings:
        return Settings(
            _env_file=None,
            telegram=TelegramSettings(
                token=DEFAULT_TEST_TOKEN,
                api_base=telegram_emulator.base_url,
                admin_ids=[ADMIN_TELEGRAM_ID],
                **telegram,
            ),
            portal=PortalSettings(webhook_url=portal_emulator.webhook_url, backoff_seconds=0.01),
            storage=StorageSettings(path=tmp_path / "bot.sqlite3"),
            web=WebSettings(host="127.0.0.1", port=web_port),
            redis=bot_redis,
        )

    return build


class BotRunner:
    """Starts and stops the application; a test may restart it on the same database."""

    def __init__(self, make_settings: SettingsFactory) -> None:
        self._make_settings = make_settings
        self.app: Application | None = None

    async def start(self, *, web_port: int = 0, **telegram: object) -> Application:
        """Start a fresh Application (stopping a running one first)."""
        await self.stop()
        settings = self._make_settings(web_port=web_port, **telegram)
        self.app = Application(settings, polling_backoff=FAST_BACKOFF)
        await self.app.start()
        return self.app

    async def stop(self) -> None:
        """Stop the running Application, if any."""
        if self.app is not None:
            app, self.app = self.app, None
            await app.stop()


@pytest.fixture
async def bot_runner(make_settings: SettingsFactory) -> AsyncIterator[BotRunner]:
    """A runner that is always stopped at the end of the test."""
    runner = BotRunner(make_settings)
    try:
        yield runner
    finally:
        await runner.stop()


@pytest.fixture
async def running_bot(bot_runner: BotRunner) -> Application:
    """The bot, running by long polling against both emulators."""
    return await bot_runner.start()


async def sign_in(
    telegram_emulator: TelegramEmulator, telegram_id: int, first_name: str, phone: str
) -> TelegramUser:
    """A user who opens the bot and signs in by sharing their own phone; returns at the menu."""
    user = telegram_emulator.user(telegram_id, first_name, phone=phone)
    await user.send("/start")
    await user.wait_for_message()
    await user.reply_keyboard_press("📱 Share my phone")
    await user.wait_for_message(lambda m: "Main menu" in (m.text or ""))
    return user


@contextlib.asynccontextmanager
async def notifying_app(
    tmp_path: Path,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
    notify: NotifySettings,
    storage: StorageSettings | None = None,
    clock: Clock = utc_now,
    redis: RedisSettings | None = None,
    events: EventsSettings | None = None,
) -> AsyncIterator[Application]:
    """The app with the portal's outgoing webhook pointed at its event endpoint; fast timings.

    `storage` defaults to a fresh SQLite file in `tmp_path`; `clock` is the clock of the
    app's schedules (deadlines, counters, reminders), for tests that move time; `redis`, the
    Redis the replicas share (none by default); `events`, the intake's settings (a catch-up
    poll every 0.2 s by default).
    """
    token = portal_emulator.add_outgoing_webhook("http://127.0.0.1:9/not-yet")
    settings = Settings(
        _env_file=None,
        telegram=TelegramSettings(
            token=DEFAULT_TEST_TOKEN,
            api_base=telegram_emulator.base_url,
            admin_ids=[ADMIN_TELEGRAM_ID],
        ),
        portal=PortalSettings(
            webhook_url=portal_emulator.webhook_url,
            backoff_seconds=0.01,
            application_token=token,
            member_id=portal_emulator.member_id,
            domain=portal_emulator.domain,
        ),
        storage=storage or StorageSettings(path=tmp_path / "bot.sqlite3"),
        web=WebSettings(host="127.0.0.1", port=0),
        events=events or EventsSettings(poll_interval_seconds=0.2, coalesce_seconds=0.05),
        notify=notify,
        redis=redis or RedisSettings(),
    )
    app = Application(settings, polling_backoff=FAST_BACKOFF, clock=clock)
    await app.start()
    for handler in portal_emulator.event_handlers:
        handler.handler = f"http://127.0.0.1:{app.port}{settings.web.event_path}"
    try:
        yield app
    finally:
        await app.stop()


async def dies_before_marking(app: Application, act: Callable[[], Awaitable[Any]]) -> int:
    """Do `act` (a user's message or press, and wait for its answer); the process dies once
    the handler is over, before the update is marked handled. Returns the update's id; the
    update stays stored, as a killed process leaves it, for the next start to replay."""
    dying: list[int] = []

    async def never_marks(update_id: int, _: object) -> bool:
        dying.append(update_id)
        await asyncio.Event().wait()
        return False

    app.updates.finish = never_marks  # type: ignore[method-assign,assignment]
    await act()

    async def reached() -> bool:
        return bool(dying)

    await eventually(reached)
    assert app.intake is not None
    await app.intake.close()  # its task is gone with the process
    return dying[0]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Wait until `check()` holds (the bot works in the background)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError("the condition did not hold in time")
        await asyncio.sleep(0.02)


def about(lead_id: int, word: str = "") -> Callable[[ChatMessage], bool]:
    """A notification about this lead (containing `word`)."""
    return lambda m: f"#{lead_id}" in (m.text or "") and word in (m.text or "")


def rewrite_stored_dialog_data(db_path: Path, rewrite: Callable[[dict[str, Any]], bool]) -> int:
    """Change every stored dialog's `dialog_data` in place with `rewrite` (True: it changed
    it), as an upgrade would find data an earlier version wrote; returns how many changed."""
    changed = 0
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT bot_id, chat_id, user_id, thread_id, business_connection_id, destiny, data"
            " FROM fsm"
        ).fetchall()
        for *key, text in rows:
            data = json.loads(text)
            dialog_data = data.get("dialog_data") if isinstance(data, dict) else None
            if not isinstance(dialog_data, dict) or not rewrite(dialog_data):
                continue
            conn.execute(
                "UPDATE fsm SET data = ? WHERE bot_id = ? AND chat_id = ? AND user_id = ?"
                " AND thread_id = ? AND business_connection_id = ? AND destiny = ?",
                (json.dumps(data), *key),
            )
            changed += 1
    return changed
