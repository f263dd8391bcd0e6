"""The tab's HTML, rendered on the server from plain data (pure; every value is escaped).

No framework and no outside script: the page is styled like a Bitrix24 panel and works inside
the portal's frame without the BX24 library. Its forms post to the bot's own origin.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.i18n import Translator

NOTE_LIMIT = 1000
"""The longest note a ping carries (a textarea's `maxlength`, and checked on the server)."""


@dataclass(frozen=True, slots=True)
class ResponsibleStatus:
    """The lead's responsible as the bot knows them."""

    name: str
    signed_in: bool
    notifications_on: bool = False
    muted_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    """One message the bot sent about the lead: where (a chat's name) and when."""

    chat: str
    sent_at: datetime | None
    kind: str


@dataclass(frozen=True, slots=True)
class FollowUpLine:
    """One follow-up of the lead."""

    due_at: datetime
    state: str
    note: str
    person: str


@dataclass(frozen=True, slots=True)
class Notice:
    """The outcome of an action, shown above the panel."""

    text: str
    ok: bool


@dataclass(frozen=True, slots=True)
class TabView:
    """Everything the tab shows for one viewer and one lead."""

    lead_id: int
    lead_title: str
    viewer_name: str
    viewer_role: str
    """The viewer's role code (rep, manager, admin)."""
    responsible: ResponsibleStatus | None
    deliveries: Sequence[DeliveryLine]
    followups: Sequence[FollowUpLine]
    groups: Sequence[str]
    token: str
    ping_url: str
    group_url: str
    language: str
    notice: Notice | None = None
    note: str = ""
    zone_label: str = "UTC"


STYLE = """
*{box-sizing:border-box}
body{margin:0;background:#eef2f4;color:#333;font:14px/1.45 "Open Sans","Helvetica Neue",
Helvetica,Arial,sans-serif}
.tab{max-width:860px;margin:0 auto;padding:18px}
.head{display:flex;align-items:center;gap:12px;margin-bottom:14px}
.logo{width:36px;height:36px;border-radius:50%;background:#2fc6f6;color:#fff;display:flex;
align-items:center;justify-content:center;font-weight:700;font-size:18px}
h1{font-size:18px;font-weight:600;margin:0;color:#333}
.who{color:#828b95;font-size:12px}
.card{background:#fff;border-radius:12px;padding:16px 20px;margin-bottom:12px;
box-shadow:0 1px 2px rgba(0,0,0,.06)}
h2{margin:0 0 10px;font-size:11px;font-weight:600;letter-spacing:.06em;text-transform:uppercase;
color:#828b95}
.row{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.name{font-weight:600;font-size:15px}
.pill{display:inline-block;padding:2px 10px;border-radius:12px;font-size:12px;font-weight:600}
.on{background:#e5f9d0;color:#589309}.off{background:#f1f4f6;color:#828b95}
.warn{background:#fff4d9;color:#a8730e}
table{width:100%;border-collapse:collapse}
td{padding:7px 0;border-top:1px solid #edf0f2;vertical-align:top}
tr:first-child td{border-top:0}
td.when{color:#828b95;white-space:nowrap;text-align:right;padding-left:12px}
.kind{color:#828b95;font-size:12px;margin-left:6px}
.empty{color:#a8adb4}
label{display:block;font-size:12px;color:#525c69;margin-bottom:6px}
textarea{width:100%;min-height:72px;border:1px solid #c6cdd3;border-radius:6px;padding:8px 10px;
font:inherit;resize:vertical;margin-bottom:10px}
textarea:focus{outline:0;border-color:#2fc6f6}
.btn{display:inline-block;border:0;border-radius:20px;padding:0 22px;height:39px;font:600 13px
"Open Sans",Arial,sans-serif;text-transform:uppercase;cursor:pointer}
.btn-main{background:#bbed21;color:#535c69}.btn-main:hover{background:#d2f95f}
.btn-light{background:#fff;color:#535c69;border:1px solid #c6cdd3}
.btn-light:hover{border-color:#828b95}
.btn[disabled]{opacity:.45;cursor:default}
.hint{color:#828b95;font-size:12px;margin-top:6px}
.actions form+form{margin-top:14px;padding-top:14px;border-top:1px solid #edf0f2}
.notice{border-radius:10px;padding:10px 16px;margin-bottom:12px;font-weight:600}
.notice.ok{background:#e5f9d0;color:#4a7f06}.notice.bad{background:#ffe8e8;color:#c21b16}
.refused{max-width:560px;margin:48px auto;text-align:center}
.refused .card{padding:28px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%d.%m.%Y %H:%M") if moment is not None else ""


def _document(language: str, title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="{_e(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _responsible(tr: Translator, status: ResponsibleStatus | None) -> str:
    if status is None:
        return f'<p class="empty">{_e(tr.get("tab-responsible-none"))}</p>'
    signed = (
        f'<span class="pill on">{_e(tr.get("tab-responsible-signed-in"))}</span>'
        if status.signed_in
        else f'<span class="pill off">{_e(tr.get("tab-responsible-signed-out"))}</span>'
    )
    pills = [signed]
    if status.signed_in:
        if status.muted_until is not None:
            until = _when(status.muted_until)
            pills.append(
                f'<span class="pill warn">{_e(tr.get("tab-notifications-muted", until=until))}'
                "</span>"
            )
        elif status.notifications_on:
            pills.append(f'<span class="pill on">{_e(tr.get("tab-notifications-on"))}</span>')
        else:
            pills.append(f'<span class="pill off">{_e(tr.get("tab-notifications-off"))}</span>')
    return f'<div class="row"><span class="name">{_e(status.name)}</span>{"".join(pills)}</div>'


def _deliveries(tr: Translator, lines: Sequence[DeliveryLine]) -> str:
    if not lines:
        return f'<p class="empty">{_e(tr.get("tab-history-empty"))}</p>'
    rows = "".join(
        f'<tr><td>{_e(line.chat)}<span class="kind">{_e(tr.get(f"tab-kind-{line.kind}"))}'
        f'</span></td><td class="when">{_e(_when(line.sent_at))}</td></tr>'
        for line in lines
    )
    return f"<table>{rows}</table>"


def _followups(tr: Translator, lines: Sequence[FollowUpLine]) -> str:
    if not lines:
        return f'<p class="empty">{_e(tr.get("tab-followups-empty"))}</p>'
    rows = []
    for line in lines:
        who = f'<span class="kind">{_e(tr.get("tab-followup-for", name=line.person))}</span>'
        state = _e(tr.get(f"tab-followup-{line.state}"))
        rows.append(
            f"<tr><td>{_e(line.note) or '—'}{who}</td>"
            f'<td class="when">{state} {_e(_when(line.due_at))}</td></tr>'
        )
    return f"<table>{''.join(rows)}</table>"


def _actions(tr: Translator, view: TabView) -> str:
    token = f'<input type="hidden" name="token" value="{_e(view.token)}">'
    can_ping = view.responsible is not None and view.responsible.signed_in
    ping_hint = "" if can_ping else f'<p class="hint">{_e(tr.get("tab-ping-unavailable"))}</p>'
    ping = (
        f'<form method="post" action="{_e(view.ping_url)}" id="ping">{token}'
        f'<label for="note">{_e(tr.get("tab-note-label", limit=str(NOTE_LIMIT)))}</label>'
        f'<textarea id="note" name="note" maxlength="{NOTE_LIMIT}" '
        f'placeholder="{_e(tr.get("tab-note-placeholder"))}">{_e(view.note)}</textarea>'
        f'<button class="btn btn-main" type="submit" id="ping-button"'
        f"{'' if can_ping else ' disabled'}>{_e(tr.get('tab-ping-button'))}</button>"
        f"{ping_hint}</form>"
    )
    if view.groups:
        groups_hint = tr.get("tab-group-targets", chat=", ".join(view.groups))
    else:
        groups_hint = tr.get("tab-group-unavailable")
    group = (
        f'<form method="post" action="{_e(view.group_url)}" id="group">{token}'
        f'<button class="btn btn-light" type="submit" id="group-button"'
        f"{'' if view.groups else ' disabled'}>{_e(tr.get('tab-group-button'))}</button>"
        f'<p class="hint">{_e(groups_hint)}</p></form>'
    )
    return ping + group


def render_tab(tr: Translator, view: TabView) -> str:
    """The whole page of the tab."""
    notice = ""
    if view.notice is not None:
        kind = "ok" if view.notice.ok else "bad"
        notice = f'<div class="notice {kind}" role="status">{_e(view.notice.text)}</div>'
    heading = tr.get("tab-lead-heading", id=view.lead_id, title=view.lead_title)
    viewer = tr.get("tab-viewer", name=view.viewer_name, role=view.viewer_role)
    body = (
        '<main class="tab">'
        f'<div class="head"><div class="logo" aria-hidden="true">✈</div><div>'
        f'<h1>{_e(heading)}</h1><div class="who">{_e(viewer)}</div></div></div>'
        f"{notice}"
        f'<section class="card"><h2>{_e(tr.get("tab-responsible-heading"))}</h2>'
        f"{_responsible(tr, view.responsible)}</section>"
        f'<section class="card actions"><h2>{_e(tr.get("tab-actions-heading"))}</h2>'
        f"{_actions(tr, view)}</section>"
        f'<section class="card"><h2>{_e(tr.get("tab-history-heading"))} '
        f"({_e(view.zone_label)})</h2>{_deliveries(tr, view.deliveries)}"
        "</section>"
        f'<section class="card"><h2>{_e(tr.get("tab-followups-heading"))}</h2>'
        f"{_followups(tr, view.followups)}</section>"
        "</main>"
    )
    return _document(view.language, tr.get("tab-page-title"), body)


def render_refusal(tr: Translator, language: str, reason_key: str) -> str:
    """A page that says why the tab cannot show anything, and what to do."""
    body = (
        '<main class="tab refused"><section class="card">'
        '<div class="logo" style="margin:0 auto 12px" aria-hidden="true">✈</div>'
        f"<h1>{_e(tr.get('tab-refused-title'))}</h1>"
        f'<p id="reason">{_e(tr.get(reason_key))}</p></section></main>'
    )
    return _document(language, tr.get("tab-refused-title"), body)
