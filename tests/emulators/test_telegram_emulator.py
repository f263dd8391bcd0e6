"""The Telegram emulator as a real aiogram Bot sees it over sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from aiogram.utils.text_decorations import html_decoration as html
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from tests.emulators.telegram import FloodLimits, TelegramEmulator

USER_ID = 100
GROUP_ID = -1001234567


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    """One row of callback buttons."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=d) for t, d in buttons]]
    )


class ManualClock:
    """A clock the test moves by hand, so flood limits never depend on wall time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_bot_messages_are_stored_edited_and_deleted(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    emu = telegram_emulator
    emu.user(USER_ID, "Ivan", language_code="ru")

    first = await telegram_bot.send_message(
        USER_ID,
        "<b>Lead</b> #7 &lt;ACME&gt;",
        parse_mode="HTML",
        reply_markup=keyboard(("Open", "lead:7")),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    second = await telegram_bot.send_message(USER_ID, "plain")

    assert (first.message_id, second.message_id) == (1, 2)
    assert first.from_user is not None
    assert first.from_user.id == emu.bot_id
    assert first.chat.id == USER_ID
    assert first.chat.type == "private"
    assert first.text == "Lead #7 <ACME>"
    assert first.entities is not None
    assert first.entities[0].type == "bold"
    assert isinstance(first.reply_markup, InlineKeyboardMarkup)
    assert first.reply_markup.inline_keyboard[0][0].callback_data == "lead:7"
    stored = emu.message(USER_ID, 1)
    assert stored.html == "<b>Lead</b> #7 &lt;ACME&gt;"
    assert stored.buttons[0][0].callback_data == "lead:7"
    assert emu.calls_of("sendMessage")[0].params["link_preview_options"] == {"is_disabled": True}
    assert emu.calls_of("sendMessage")[0].params["chat_id"] == USER_ID

    edited = await telegram_bot.edit_message_text(
        "Lead #7 <i>taken</i>",
        chat_id=USER_ID,
        message_id=1,
        parse_mode="HTML",
        reply_markup=keyboard(("Open", "lead:7")),
    )
    assert isinstance(edited, Message)
    assert edited.text == "Lead #7 taken"
    assert edited.edit_date is not None

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await telegram_bot.edit_message_text(
            "Lead #7 <i>taken</i>",
            chat_id=USER_ID,
            message_id=1,
            parse_mode="HTML",
            reply_markup=keyboard(("Open", "lead:7")),
        )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await telegram_bot.edit_message_reply_markup(
            chat_id=USER_ID, message_id=1, reply_markup=keyboard(("Open", "lead:7"))
        )
    # An edit without reply_markup drops the keyboard, as Telegram does.
    await telegram_bot.edit_message_text("Lead #7 closed", chat_id=USER_ID, message_id=1)
    assert emu.message(USER_ID, 1).labels == []

    assert await telegram_bot.delete_message(USER_ID, 2) is True
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await telegram_bot.delete_message(USER_ID, 2)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await telegram_bot.edit_message_text("x", chat_id=USER_ID, message_id=99)

    assert [(m.message_id, m.text) for m in emu.transcript(USER_ID)] == [(1, "Lead #7 closed")]
    assert emu.count("editMessageText") == 4
    assert emu.count("editMessageText", ok=False) == 2


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<b>open", "can't parse entities: Can't find end tag corresponding to start tag \"b\""),
        ("<b>x</i>", "can't parse entities: Unmatched end tag at byte offset 4"),
        ("<blink>x</blink>", 'can\'t parse entities: Unsupported start tag "blink"'),
        ("1 < 2", "can't parse entities: Unexpected end of name token"),
        ("x" * 4097, "message is too long"),
        ("<b></b>", "message text is empty"),
    ],
)
async def test_html_and_length_are_validated(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot, text: str, error: str
) -> None:
    with pytest.raises(TelegramBadRequest) as raised:
        await telegram_bot.send_message(USER_ID, text, parse_mode="HTML")
    assert raised.value.message == f"Bad Request: {error}" or raised.value.message.startswith(
        f"Bad Request: {error}"
    )
    assert telegram_emulator.transcript(USER_ID) == []


async def test_callback_data_over_64_bytes_is_rejected(telegram_bot: Bot) -> None:
    # 33 Cyrillic letters are 66 bytes.
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await telegram_bot.send_message(USER_ID, "x", reply_markup=keyboard(("Go", "л" * 33)))
    sent = await telegram_bot.send_message(USER_ID, "x", reply_markup=keyboard(("Go", "л" * 32)))
    assert sent.message_id == 1


async def test_flood_limits_answer_429_with_retry_after(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    emu = telegram_emulator
    clock = ManualClock()
    emu.clock = clock
    emu.enable_flood_limits(FloodLimits(per_chat_burst=3, per_group_per_minute=20))

    for _ in range(3):
        await telegram_bot.send_message(USER_ID, "burst")
    with pytest.raises(TelegramRetryAfter) as raised:
        await telegram_bot.send_message(USER_ID, "one too many")
    assert raised.value.retry_after == 1
    assert raised.value.message.endswith("Too Many Requests: retry after 1")
    clock.now += 1.0
    await telegram_bot.send_message(USER_ID, "after the pause")

    # A group: 20 a minute even when spaced a second apart.
    for _ in range(20):
        clock.now += 1.0
        await telegram_bot.send_message(GROUP_ID, "news")
    clock.now += 1.0
    with pytest.raises(TelegramRetryAfter) as group_raised:
        await telegram_bot.send_message(GROUP_ID, "news")
    assert group_raised.value.retry_after == 40

    assert [call.parameters for call in emu.flood_errors] == [
        {"retry_after": 1},
        {"retry_after": 40},
    ]
    assert len(emu.transcript(USER_ID)) == 4

    emu.disable_flood_limits()
    for _ in range(5):
        await telegram_bot.send_message(USER_ID, "unlimited")


async def test_global_limit_is_thirty_a_second(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    telegram_emulator.clock = ManualClock()
    telegram_emulator.enable_flood_limits()
    for chat_id in range(1, 31):
        await telegram_bot.send_message(chat_id, "broadcast")
    with pytest.raises(TelegramRetryAfter):
        await telegram_bot.send_message(31, "broadcast")


def _blocked(emu: TelegramEmulator) -> None:
    emu.block(USER_ID)


def _kicked(emu: TelegramEmulator) -> None:
    emu.kick(GROUP_ID)


def _chat_lost(emu: TelegramEmulator) -> None:
    emu.lose_chat(USER_ID)


def _server_500(emu: TelegramEmulator) -> None:
    emu.fail_next(status=500)


def _server_502(emu: TelegramEmulator) -> None:
    emu.fail_next(status=502)


def _flood(emu: TelegramEmulator) -> None:
    emu.rate_limit_next(retry_after=5)


def _revoked(emu: TelegramEmulator) -> None:
    emu.revoke_token()


@pytest.mark.parametrize(
    ("inject", "chat_id", "exception", "description"),
    [
        (_blocked, USER_ID, TelegramForbiddenError, "Forbidden: bot was blocked by the user"),
        (
            _kicked,
            GROUP_ID,
            TelegramForbiddenError,
            "Forbidden: bot was kicked from the supergroup chat",
        ),
        (_chat_lost, USER_ID, TelegramBadRequest, "Bad Request: chat not found"),
        (_server_500, USER_ID, TelegramServerError, "Internal Server Error"),
        (_server_502, USER_ID, TelegramServerError, "Bad Gateway"),
        (_flood, USER_ID, TelegramRetryAfter, "Too Many Requests: retry after 5"),
        (_revoked, USER_ID, TelegramUnauthorizedError, "Unauthorized"),
    ],
)
async def test_injected_errors_reach_aiogram_as_its_exceptions(
    telegram_emulator: TelegramEmulator,
    telegram_bot: Bot,
    inject: Callable[[TelegramEmulator], None],
    chat_id: int,
    exception: type[Exception],
    description: str,
) -> None:
    inject(telegram_emulator)
    with pytest.raises(exception) as raised:
        await telegram_bot.send_message(chat_id, "hello")
    # aiogram prefixes its own words to a 429's description; the original ends the message.
    assert str(getattr(raised.value, "message", "")).endswith(description)
    assert telegram_emulator.calls[-1].description == description
    assert telegram_emulator.transcript(chat_id) == []


async def test_faults_last_the_given_number_of_calls(telegram_bot: Bot, telegram_emulator) -> None:
    telegram_emulator.fail_next(2, status=502, method="sendMessage")
    await telegram_bot.get_me()  # another method is not affected
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await telegram_bot.send_message(USER_ID, "retry me")
    await telegram_bot.send_message(USER_ID, "third time lucky")
    telegram_emulator.block(USER_ID, times=1)
    with pytest.raises(TelegramForbiddenError):
        await telegram_bot.send_chat_action(USER_ID, "typing")
    await telegram_bot.send_chat_action(USER_ID, "typing")
    assert telegram_emulator.chat_actions == [(USER_ID, "typing")]


async def test_migrated_group_answers_with_the_new_id(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    telegram_emulator.add_group(-4001, "Sales")
    new_id = telegram_emulator.migrate_group(-4001)
    with pytest.raises(TelegramMigrateToChat) as raised:
        await telegram_bot.send_message(-4001, "stage changed")
    assert raised.value.migrate_to_chat_id == new_id == -1004001
    sent = await telegram_bot.send_message(new_id, "stage changed")
    assert sent.chat.type == "supergroup"
    assert sent.chat.title == "Sales"


async def test_wrong_token_is_unauthorized_and_unknown_method_not_found(
    telegram_emulator: TelegramEmulator,
) -> None:
    bot = telegram_emulator.make_bot("654321:TEST-wrong-token-abcdefghijklmnopqrst")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await bot.get_me()
    finally:
        await bot.session.close()
    url = f"{telegram_emulator.base_url}/bot{telegram_emulator.token}/sendTelepathy"
    async with aiohttp.ClientSession() as http, http.post(url, data={"chat_id": "1"}) as resp:
        assert resp.status == 404
        assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_long_poll_returns_when_a_user_writes_and_offset_confirms(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    emu = telegram_emulator
    user = emu.user(USER_ID, "Ivan", language_code="ru")
    poll = asyncio.create_task(telegram_bot.get_updates(timeout=30))
    sent = await user.send_command("find", "7916")

    updates = await asyncio.wait_for(poll, 5)  # a long poll that ignores updates would hang

    assert len(updates) == 1
    message = updates[0].message
    assert message is not None
    assert message.text == "/find 7916"
    assert message.message_id == sent.message_id
    assert message.from_user is not None
    assert message.from_user.language_code == "ru"
    assert message.entities is not None
    assert message.entities[0].type == "bot_command"
    assert emu.pending_updates  # not confirmed until the next offset

    again = await telegram_bot.get_updates(offset=updates[0].update_id + 1, timeout=0)
    assert again == []
    assert emu.pending_updates == []


async def test_two_pollers_and_webhook_conflict(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    first = asyncio.create_task(telegram_bot.get_updates(timeout=30))
    await telegram_emulator.wait_for_poll()
    second = asyncio.create_task(telegram_bot.get_updates(timeout=0))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 5)
    assert await second == []

    await telegram_bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook"):
        await telegram_bot.get_updates()
    await telegram_bot.delete_webhook()
    assert await telegram_bot.get_updates() == []


async def test_get_updates_429_storm(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    telegram_emulator.flood_get_updates(2, retry_after=3)
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as raised:
            await telegram_bot.get_updates()
        assert raised.value.retry_after == 3
    assert await telegram_bot.get_updates() == []
    assert len(telegram_emulator.flood_errors) == 2


def echo_router() -> Router:
    """An echo bot with one button that edits its own message."""
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(
            f"<b>You said:</b> {html.quote(message.text or '')}",
            reply_markup=keyboard(("Ping", "ping:1")),
        )

    @router.callback_query(F.data.startswith("ping:"))
    async def ping(query: CallbackQuery) -> None:
        await query.answer("pong")
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"ponged {query.data}")

    return router


@pytest.fixture
async def polling_bot(telegram_emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    """A Dispatcher with the echo router polling the emulator until the test ends."""
    bot = telegram_emulator.make_bot(default=DefaultBotProperties(parse_mode="HTML"))
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    try:
        yield bot
    finally:
        await dispatcher.stop_polling()
        await polling
        await bot.session.close()


async def test_dispatcher_answers_text_and_button_press(
    telegram_emulator: TelegramEmulator, polling_bot: Bot
) -> None:
    emu = telegram_emulator
    user = emu.user(USER_ID, "Ivan", language_code="ru")

    await user.send_text("hello <world>")
    reply = await user.wait_for_message()
    assert reply.text == "You said: hello <world>"
    assert reply.html == "<b>You said:</b> hello &lt;world&gt;"
    assert reply.labels == ["Ping"]

    query_id = await user.press("Ping")
    answer = await emu.wait_for_callback_answer(query_id)
    assert answer.text == "pong"
    edited = await user.wait_for_message()
    assert edited.message_id == reply.message_id
    assert edited.text == "ponged ping:1"
    assert emu.message(USER_ID, reply.message_id).labels == []

    await user.send_text("again")
    second = await user.wait_for_message()
    assert (await user.press_and_wait("Ping")).text == "pong"
    assert (await user.wait_for_message()).message_id == second.message_id
    assert emu.last_message(USER_ID).labels == []
    assert emu.count("getMe") == 1

    with pytest.raises(LookupError, match="Ping"):
        await user.press("Ping")


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]], list[int]]]:
    """A loopback endpoint answering the queued statuses (then 200) and recording requests."""
    received: list[dict[str, Any]] = []
    statuses: list[int] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            {
                "secret": request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                "body": await request.json(),
            }
        )
        return web.Response(status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", received, statuses
    finally:
        await runner.cleanup()


async def test_webhook_posts_updates_with_secret_and_retries(
    telegram_emulator: TelegramEmulator,
    telegram_bot: Bot,
    webhook_receiver: tuple[str, list[dict[str, Any]], list[int]],
) -> None:
    url, received, statuses = webhook_receiver
    statuses.append(500)
    await telegram_bot.set_webhook(url, secret_token="test-secret_1", drop_pending_updates=True)
    info = await telegram_bot.get_webhook_info()
    assert info.url == url

    user = telegram_emulator.user(USER_ID, "Ivan")
    await user.send("/start")
    await telegram_emulator.wait_until_delivered()

    assert [r["secret"] for r in received] == ["test-secret_1", "test-secret_1"]
    assert received[0]["body"] == received[1]["body"]
    update = Update.model_validate(received[1]["body"])
    assert update.message is not None
    assert update.message.text == "/start"
    assert [d.status for d in telegram_emulator.webhook_deliveries] == [500, 200]
    info = await telegram_bot.get_webhook_info()
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500"

    await telegram_bot.delete_webhook()
    assert (await telegram_bot.get_webhook_info()).url == ""


async def test_driver_contacts_forwards_and_reply_keyboard(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    emu = telegram_emulator
    ivan = emu.user(USER_ID, "Ivan", phone="+79161234567")
    olga = emu.user(101, "Olga", username="olga")
    await telegram_bot.send_message(
        USER_ID,
        "Who are you?",
        reply_markup=ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text="Share my phone", request_contact=True)]],
            one_time_keyboard=True,
        ),
    )

    await ivan.reply_keyboard_press("Share my phone")
    await ivan.share_contact("+79990001122", first_name="Client", user_id=None)
    await ivan.share_contact("+79990001123", user_id=olga.id)
    await ivan.forward("call me", from_user=olga)
    await ivan.forward("from a hidden one", sender_name="Anna K.")
    await ivan.forward("from the team", from_chat={"id": -100777, "type": "channel", "title": "T"})

    updates = [Update.model_validate(u) for u in emu.updates]
    messages = [u.message for u in updates if u.message is not None]
    contacts = [m.contact for m in messages if m.contact is not None]
    assert [(c.phone_number, c.user_id) for c in contacts] == [
        ("+79161234567", USER_ID),
        ("+79990001122", None),
        ("+79990001123", 101),
    ]
    origins = [m.forward_origin for m in messages if m.forward_origin is not None]
    assert [o.type for o in origins] == ["user", "hidden_user", "channel"]
    assert emu.reply_keyboard(USER_ID) is None  # one-time keyboard hidden after the tap
    with pytest.raises(LookupError, match="Share my phone"):
        await ivan.reply_keyboard_press("Share my phone")


async def test_inline_query_returns_the_bots_answer(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    user = telegram_emulator.user(USER_ID, "Ivan")
    asking = asyncio.create_task(user.inline_query("7916"))
    updates = await telegram_bot.get_updates(timeout=5)
    query = updates[0].inline_query
    assert query is not None
    assert query.query == "7916"
    await telegram_bot.answer_inline_query(
        query.id,
        results=[
            InlineQueryResultArticle(
                id="lead-7",
                title="ACME",
                input_message_content=InputTextMessageContent(message_text="Lead 7"),
            )
        ],
        cache_time=0,
        is_personal=True,
    )
    answer = await asking
    assert [r["id"] for r in answer.results] == ["lead-7"]
    assert answer.is_personal is True
    assert answer.cache_time == 0
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await telegram_bot.answer_inline_query(query.id, results=[])


async def test_callback_queries_forged_and_answered(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    user = telegram_emulator.user(USER_ID, "Ivan")
    sent = await telegram_bot.send_message(
        USER_ID, "Lead 7", reply_markup=keyboard(("Take", "take:7"), ("Open", "open:7"))
    )
    with pytest.raises(LookupError, match=r"\['Take', 'Open'\]"):
        await user.press("Delete")
    forged = await user.press_data(sent.message_id, "take:999")
    updates = await telegram_bot.get_updates()
    query = updates[0].callback_query
    assert query is not None
    assert query.id == forged
    assert query.data == "take:999"
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    await telegram_bot.answer_callback_query(forged, text="Not yours", show_alert=True)
    assert telegram_emulator.answered_callbacks[0].show_alert is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await telegram_bot.answer_callback_query(forged)


async def test_groups_topics_admins_and_commands(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    emu = telegram_emulator
    emu.add_group(GROUP_ID, "Sales team", admins=[USER_ID], creator=1, forum=True)
    ivan = emu.user(USER_ID, "Ivan")
    petr = emu.user(102, "Petr")
    await petr.in_group(GROUP_ID, thread_id=5).send_command("leads", mention_bot=True)
    update = (await telegram_bot.get_updates())[0]
    assert update.message is not None
    assert update.message.text == "/leads@leads_test_bot"
    assert update.message.message_thread_id == 5
    assert update.message.is_topic_message

    sent = await telegram_bot.send_message(GROUP_ID, "in topic", message_thread_id=5)
    assert sent.message_thread_id == 5
    assert (await telegram_bot.get_chat_member(GROUP_ID, USER_ID)).status == "administrator"
    assert (await telegram_bot.get_chat_member(GROUP_ID, 102)).status == "member"
    assert (await telegram_bot.get_chat_member(GROUP_ID, 555)).status == "left"
    admins = await telegram_bot.get_chat_administrators(GROUP_ID)
    assert [(a.user.id, a.status) for a in admins] == [(1, "creator"), (USER_ID, "administrator")]
    chat = await telegram_bot.get_chat(GROUP_ID)
    assert chat.title == "Sales team"
    assert chat.is_forum
    assert ivan.id == USER_ID

    await telegram_bot.set_my_commands([BotCommand(command="start", description="Menu")])
    await telegram_bot.set_my_commands(
        [BotCommand(command="leads", description="Лиды")],
        scope=BotCommandScopeAllGroupChats(),
        language_code="ru",
    )
    assert [c.command for c in await telegram_bot.get_my_commands()] == ["start"]
    ru_group = await telegram_bot.get_my_commands(
        scope=BotCommandScopeAllGroupChats(), language_code="ru"
    )
    assert [c.description for c in ru_group] == ["Лиды"]
    assert await telegram_bot.get_my_commands(scope=BotCommandScopeAllGroupChats()) == []
    await telegram_bot.delete_my_commands()
    assert await telegram_bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await telegram_bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])


async def test_photos_and_documents_upload_by_multipart(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    photo = await telegram_bot.send_photo(
        USER_ID,
        BufferedInputFile(b"\x89PNG fake", filename="card.png"),
        caption="<b>Card</b>",
        parse_mode="HTML",
    )
    assert photo.photo is not None
    assert photo.caption == "Card"
    file_id = photo.photo[-1].file_id
    assert telegram_emulator.files[file_id].content == b"\x89PNG fake"
    again = await telegram_bot.send_photo(USER_ID, file_id)
    assert again.photo is not None
    assert again.photo[-1].file_id == file_id

    document = await telegram_bot.send_document(
        USER_ID, BufferedInputFile(b"a;b\n1;2\n", filename="leads.csv")
    )
    assert document.document is not None
    assert document.document.file_name == "leads.csv"
    downloaded = await telegram_bot.download(document.document.file_id)
    assert downloaded is not None
    assert downloaded.read() == b"a;b\n1;2\n"
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await telegram_bot.send_document(USER_ID, "no-such-file-id")
    assert [m.kind for m in telegram_emulator.transcript(USER_ID)] == [
        "photo",
        "photo",
        "document",
    ]


async def test_aiogram_webhook_handler_can_answer_in_the_reply_body(
    telegram_emulator: TelegramEmulator,
) -> None:
    bot = telegram_emulator.make_bot()
    dispatcher = Dispatcher()
    router = Router()

    @router.message(F.text == "/start")
    async def start(message: Message) -> Any:
        return message.answer("Welcome")  # not awaited: aiogram puts it in the reply body

    dispatcher.include_router(router)
    app = web.Application()
    SimpleRequestHandler(
        dispatcher, bot, secret_token="hook-secret", handle_in_background=False
    ).register(app, path="/hook")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="hook-secret")
        user = telegram_emulator.user(USER_ID, "Ivan")
        await user.send("/start")
        welcome = await user.wait_for_message()
        assert welcome.text == "Welcome"
        assert [d.status for d in telegram_emulator.webhook_deliveries] == [200]

        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="wrong-secret")
        await user.send("/start")
        await telegram_emulator.wait_until_delivered()
        # aiogram refuses a wrong secret with 401; the emulator retried and gave up.
        assert [d.status for d in telegram_emulator.webhook_deliveries[1:]] == [401, 401, 401]
    finally:
        await bot.delete_webhook()
        await runner.cleanup()
        await bot.session.close()


async def test_blocking_editing_and_group_membership_produce_updates(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    emu = telegram_emulator
    user = emu.user(USER_ID, "Ivan")
    note = await user.send("call back at 5")
    await user.edit(note.message_id, "call back at 6")
    await user.block_bot()
    with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
        await telegram_bot.send_message(USER_ID, "new lead")
    await user.unblock_bot()
    await telegram_bot.send_message(USER_ID, "new lead")
    team = user.in_group(-5001, "Team")
    await team.remove_bot()
    with pytest.raises(TelegramForbiddenError, match="kicked from the group chat"):
        await telegram_bot.send_message(-5001, "stage changed")

    updates = await telegram_bot.get_updates(
        allowed_updates=["message", "edited_message", "my_chat_member"]
    )
    kinds = [
        next(k for k, v in u.model_dump(exclude_none=True).items() if k != "update_id" and v)
        for u in updates
    ]
    assert kinds == [
        "message",
        "edited_message",
        "my_chat_member",
        "my_chat_member",
        "my_chat_member",
    ]
    assert updates[1].edited_message is not None
    assert updates[1].edited_message.text == "call back at 6"
    statuses = [
        u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member is not None
    ]
    assert statuses == ["kicked", "member", "left"]


async def test_wait_for_message_consumes_messages_in_order(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    emu = telegram_emulator
    user = emu.user(USER_ID, "Ivan")
    await telegram_bot.send_message(USER_ID, "old news")
    await user.send("/start")  # the user's action: older bot messages count as read
    await telegram_bot.send_message(USER_ID, "one")
    await telegram_bot.send_message(USER_ID, "two")
    await telegram_bot.edit_message_text("two, edited", chat_id=USER_ID, message_id=4)

    assert (await user.wait_for_message()).text == "one"
    assert (await user.wait_for_message()).text == "two"
    assert (await user.wait_for_message()).text == "two, edited"
    with pytest.raises(TimeoutError, match="no matching bot message"):
        await emu.wait_for_message(USER_ID, timeout=0.05)
    assert emu.message(USER_ID, 4).text == "two, edited"


async def test_setting_a_webhook_ends_a_waiting_long_poll(
    telegram_emulator: TelegramEmulator, telegram_bot: Bot
) -> None:
    poll = asyncio.create_task(telegram_bot.get_updates(timeout=30))
    await telegram_emulator.wait_for_poll()
    await telegram_bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await asyncio.wait_for(poll, 5)
    await telegram_bot.delete_webhook()


async def test_sequential_polling_confirms_an_update_only_after_handling(
    telegram_emulator: TelegramEmulator,
) -> None:
    handled: list[str] = []
    router = Router()

    @router.message(F.text)
    async def remember(message: Message) -> None:
        await asyncio.sleep(0.05)  # a handler that awaits storage before it is done
        handled.append(message.text or "")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    bot = telegram_emulator.make_bot()
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_signals=False, close_bot_session=False, handle_as_tasks=False
        )
    )
    try:
        user = telegram_emulator.user(USER_ID, "Ivan")
        await user.send_text("first")
        await user.send_text("second")
        await telegram_emulator.wait_until_delivered()
        assert handled == ["first", "second"]
    finally:
        await dispatcher.stop_polling()
        await polling
        await bot.session.close()
