"""Inline mode: `@bot query` in any chat lists the caller's matching leads as compact cards."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Bot, Router
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InlineQueryResultUnion,
    InputTextMessageContent,
)

from bot.access.roles import Identity
from bot.i18n import Translator
from bot.leads.query import parse_query
from bot.leads.render import age_text, cut, lead_title, render_compact_card
from bot.leads.service import LeadService
from dialogs.deeplinks import lead_payload

INLINE_RESULTS = 20
# Results are personal and leads change: Telegram may reuse an answer only briefly.
INLINE_CACHE_SECONDS = 5


async def on_inline_query(
    query: InlineQuery, identity: Identity | None, tr: Translator, leads: LeadService, bot: Bot
) -> None:
    """Answer with the caller's leads matching the query (the newest when it is empty)."""
    if identity is None:
        await query.answer([], cache_time=0, is_personal=True)
        return
    parsed = parse_query(query.query, leads.default_region)
    if parsed is None:
        found = await leads.recent(identity)
    else:
        found = await leads.search(identity, parsed)
    snapshot = await leads.catalog.get()
    me = await bot.me()
    now = datetime.now(UTC)
    results: list[InlineQueryResultUnion] = []
    for lead in found.leads[:INLINE_RESULTS]:
        if lead.id is None or not identity.may_see_lead(lead.assigned_by_id):
            continue
        view = await leads.compact_view(lead)
        link = f"https://t.me/{me.username}?start={lead_payload(lead.id)}"
        description = (
            f"{snapshot.stage_name(lead.status_id)} · {age_text(tr, lead.date_create, now)}"
        )
        results.append(
            InlineQueryResultArticle(
                id=f"lead{lead.id}",
                title=cut(lead_title(tr, lead.title, lead.id), 100),
                description=cut(description, 100),
                input_message_content=InputTextMessageContent(
                    message_text=render_compact_card(tr, view), parse_mode="HTML"
                ),
                reply_markup=InlineKeyboardMarkup(
                    inline_keyboard=[
                        [InlineKeyboardButton(text=tr.get("inline-open-button"), url=link)]
                    ]
                ),
            )
        )
    button = None
    if not results:
        button = InlineQueryResultsButton(
            text=tr.get("inline-nothing-button"), start_parameter="find"
        )
    await query.answer(results, cache_time=INLINE_CACHE_SECONDS, is_personal=True, button=button)


def build_inline_router() -> Router:
    """A fresh router for inline queries."""
    router = Router(name="lead_inline")
    router.inline_query.register(on_inline_query)
    return router
