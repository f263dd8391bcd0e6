"""The lead card's "Telegram" tab as the installer registers it (`placement.bind`)."""

from __future__ import annotations

from bot.portal.methods import BindPlacement

LEAD_TAB = "CRM_LEAD_DETAIL_TAB"
TAB_TITLES = {"en": "Telegram", "ru": "Telegram"}


def lead_tab_binding(public_url: str, tab_path: str) -> BindPlacement:
    """`placement.bind` of the tab: handler at APP__PUBLIC_URL + APP__TAB_PATH."""
    return BindPlacement(
        placement=LEAD_TAB,
        handler=f"{public_url}{tab_path}",
        title=TAB_TITLES["en"],
        lang_all={language: {"TITLE": title} for language, title in TAB_TITLES.items()},
    )
