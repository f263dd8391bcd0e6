"""Placement side of the Bitrix24 emulator: widget handlers and opening a lead card's tab.

`placement.bind` keeps one registration per (placement, handler); the docs do not say what a
second bind of the same pair answers, so the emulator keeps the newer title. Opening a tab is
what the portal does when a user clicks it: a form POST to the handler, with `DOMAIN`,
`PROTOCOL`, `LANG` and `APP_SID` in the query string, and in the body a fresh OAuth pair of
that user (`AUTH_ID`, `REFRESH_ID`), `member_id`, `APPLICATION_TOKEN`, `PLACEMENT` and
`PLACEMENT_OPTIONS` (a JSON string with the lead's `ID`).
"""

from __future__ import annotations

import html
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.emulators.bitrix24_state import EmulatorState

LEAD_TAB = "CRM_LEAD_DETAIL_TAB"
KNOWN_PLACEMENTS = frozenset(
    {
        LEAD_TAB,
        "CRM_DEAL_DETAIL_TAB",
        "CRM_CONTACT_DETAIL_TAB",
        "CRM_COMPANY_DETAIL_TAB",
        "CRM_LEAD_DETAIL_TOOLBAR",
        "CRM_LEAD_LIST_MENU",
        "LEFT_MENU",
        "REST_APP_URI",
    }
)


@dataclass
class PlacementRow:
    """One registered widget handler."""

    placement: str
    handler: str
    title: str = ""
    description: str = ""
    lang_all: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_result(self) -> dict[str, Any]:
        """The row as `placement.get` lists it."""
        return {
            "placement": self.placement,
            "userId": 0,
            "handler": self.handler,
            # A detail tab keeps no OPTIONS: the docs say placement.get returns an empty array.
            "options": [],
            "title": self.title,
            "description": self.description,
            "langAll": self.lang_all,
        }


@dataclass(frozen=True)
class OpenedTab:
    """What the application's handler answered when the tab was opened."""

    status: int
    body: str
    headers: dict[str, str]
    form: dict[str, str]


class PlacementArea(EmulatorState):
    """Widget handlers of the application, and the portal opening them."""

    @property
    def placements(self) -> list[PlacementRow]:
        """Registered handlers, oldest first."""
        rows: list[PlacementRow] | None = self.__dict__.get("_placements")
        if rows is None:
            rows = self.__dict__["_placements"] = []
        return rows

    def placement_handler(self, placement: str = LEAD_TAB) -> str:
        """The handler URL bound for a placement; KeyError when none is."""
        for row in self.placements:
            if row.placement == placement:
                return row.handler
        raise KeyError(placement)

    def tab_form(
        self, user_id: int, lead_id: int | str, *, placement: str = LEAD_TAB
    ) -> dict[str, str]:
        """The body the portal POSTs when `user_id` opens the tab of a lead (fresh tokens)."""
        access, refresh = self.portal.issue_oauth_tokens(user_id)
        return {
            "AUTH_ID": access,
            "AUTH_EXPIRES": "3600",
            "REFRESH_ID": refresh,
            "SERVER_ENDPOINT": "https://oauth.bitrix.info/rest/",
            "APPLICATION_TOKEN": self.application_token,
            "APPLICATION_SCOPE": ",".join(sorted(self.oauth_scopes - {"basic"})),
            "member_id": self.member_id,
            "status": "L",
            "PLACEMENT": placement,
            "PLACEMENT_OPTIONS": json.dumps(
                {
                    "ID": str(lead_id),
                    "URI": f"/crm/lead/details/{lead_id}/?IFRAME=Y&IFRAME_TYPE=SIDE_SLIDER",
                }
            ),
        }

    def tab_query(self, language: str = "en") -> dict[str, str]:
        """The query string the portal adds to the handler URL."""
        return {
            "DOMAIN": self.domain,
            "PROTOCOL": "1",
            "LANG": language,
            "APP_SID": secrets.token_hex(16),
        }

    def tab_url(self, language: str = "en", placement: str = LEAD_TAB) -> str:
        """The bound handler with the portal's query string."""
        handler = self.placement_handler(placement)
        separator = "&" if "?" in handler else "?"
        return handler + separator + urlencode(self.tab_query(language))

    async def open_tab(
        self,
        user_id: int,
        lead_id: int | str,
        *,
        language: str = "en",
        form: dict[str, str] | None = None,
    ) -> OpenedTab:
        """`user_id` opens the lead's tab: the form POST to the bound handler."""
        body = form if form is not None else self.tab_form(user_id, lead_id)
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self.tab_url(language), data=body) as response,
        ):
            return OpenedTab(response.status, await response.text(), dict(response.headers), body)

    def tab_frame_page(self, user_id: int, lead_id: int | str, *, language: str = "en") -> str:
        """A tiny page of "the portal": the lead card whose tab frame loads the handler.

        The form posts itself into the iframe, as the portal's card does; nothing is loaded
        from outside.
        """
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in self.tab_form(user_id, lead_id).items()
        )
        action = html.escape(self.tab_url(language))
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Lead card</title>"
            "<style>body{margin:0;font-family:sans-serif;background:#eef2f4}"
            "header{padding:14px 20px;background:#fff;border-bottom:1px solid #dfe3e6}"
            "iframe{border:0;width:100%;height:900px;background:#fff}</style></head><body>"
            f"<header>Lead #{html.escape(str(lead_id))} · Telegram</header>"
            f'<form id="open" method="post" target="tab" action="{action}">{fields}</form>'
            '<iframe name="tab" title="Telegram"></iframe>'
            "<script>document.getElementById('open').submit();</script></body></html>"
        )
