"""/status: who you are and whether the portal answers; for admins, the bot's whole health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.access.roles import Action, Identity
from bot.i18n import Translator
from bot.leads.render import age_text
from bot.ops.status import StatusReport, StatusService, WebhookState
from bot.portal import CrmMode


def render_status(
    tr: Translator, identity: Identity, report: StatusReport, subscriptions: int
) -> str:
    """The /status message (HTML); the operational part only for admins."""
    lines = [
        tr.get_html("status-title"),
        tr.get_html("status-signed-in", name=identity.name, role=identity.role.value),
    ]
    if report.portal_ok:
        lines.append(tr.get_html("status-portal-online"))
    else:
        lines.append(tr.get_html("status-portal-problem", reason=report.portal_problem or "?"))
    if report.crm_mode is CrmMode.SIMPLE:
        lines.append(tr.get_html("status-crm-simple"))
    if report.application_mode:
        lines.append(application_line(tr, report))
    lines.append(tr.get_html("status-subscriptions", count=subscriptions))
    if not identity.may(Action.MANAGE_BINDINGS):
        return "\n".join(lines)
    lines.append("")
    if report.crm_mode is CrmMode.CLASSIC:
        lines.append(tr.get_html("status-crm-classic"))
    lines.append(
        tr.get_html(
            "status-budget",
            used=round(report.budget_used),
            burst=report.burst,
            rate=f"{report.drain_per_second:g}",
            refused=report.rate_limited_total,
        )
    )
    if report.last_event_at is None:
        lines.append(tr.get_html("status-events-none"))
    else:
        ago = age_text(tr, report.last_event_at, report.checked_at)
        lines.append(tr.get_html("status-events", pending=report.inbox_pending, ago=ago))
    if report.watermark is None:
        lines.append(tr.get_html("status-watermark-none"))
    else:
        when = report.watermark.strftime("%Y-%m-%d %H:%M")
        lines.append(tr.get_html("status-watermark", when=when))
    lines.append(
        tr.get_html("status-outbox", pending=report.outbox_pending, dead=report.dead_letters)
    )
    if report.webhook is not None:
        lines.append(
            tr.get_html(
                "status-webhook", url=report.webhook.url, pending=report.webhook.pending_updates
            )
        )
        if report.webhook.last_error:
            lines.append(tr.get_html("status-webhook-error", error=report.webhook.last_error))
    return "\n".join(lines)


def application_line(tr: Translator, report: StatusReport) -> str:
    """Whether the Bitrix24 application is installed, so events come (application mode)."""
    installation = report.installation
    if installation is None:
        return tr.get_html("status-app-waiting")
    if not installation.installed:
        return tr.get_html("status-app-uninstalled", domain=installation.domain)
    trouble = report.offline_trouble
    if trouble is None:
        return tr.get_html("status-app-installed", domain=installation.domain)
    return tr.get_html(
        "status-app-refused" if trouble.refused else "status-app-failing",
        failures=trouble.failures,
        when=trouble.since.strftime("%Y-%m-%d %H:%M"),
        code=trouble.code,
        domain=installation.domain,
    )


def webhook_reader(bot: Bot) -> Callable[[], Awaitable[WebhookState]]:
    """Reads Telegram's view of our webhook."""

    async def read() -> WebhookState:
        info = await bot.get_webhook_info()
        return WebhookState(
            url=info.url,
            pending_updates=info.pending_update_count,
            last_error=info.last_error_message,
        )

    return read


async def on_status(
    message: Message,
    identity: Identity,
    tr: Translator,
    bot: Bot,
    status: StatusService,
    webhook_mode: bool,
    **_: Any,
) -> None:
    """Answer /status."""
    report = await status.report(webhook_reader(bot) if webhook_mode else None)
    subscriptions = await status.live_subscriptions(message.chat.id)
    await message.answer(render_status(tr, identity, report, subscriptions))


def build_status_router() -> Router:
    """A fresh router for /status (private chats, bound users)."""
    router = Router(name="status")
    router.message.filter(F.chat.type == "private")
    router.message.register(on_status, Command("status"))
    return router
