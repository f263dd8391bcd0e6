"""Composition root: builds the Telegram bot, the dispatcher, the web app and the workers."""

from __future__ import annotations

import logging

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from bot.config import Settings

log = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    """A setting is missing or wrong; the message names it in one sentence."""


def build_bot(settings: Settings) -> Bot:
    """Build the aiogram `Bot` pointed at the configured Bot API server."""
    token = settings.telegram.token.get_secret_value()
    if not token:
        raise ConfigurationError(
            "TELEGRAM__TOKEN is not set: put the token from @BotFather in .env"
        )
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram.api_base))
    return Bot(token=token, session=session)


def build_web_app() -> web.Application:
    """Build the bot's own HTTP server; it always answers `/healthz`."""
    app = web.Application()

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", healthz)
    return app


async def run(settings: Settings) -> None:
    """Run the bot until it is stopped."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    bot = build_bot(settings)
    dispatcher = Dispatcher()
    runner = web.AppRunner(build_web_app())
    await runner.setup()
    site = web.TCPSite(runner, settings.web.host, settings.web.port)
    await site.start()
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        await dispatcher.start_polling(bot, handle_signals=True)
    finally:
        await runner.cleanup()
        await bot.session.close()
