"""A rep who captures leads in the Telegram emulator without pause, for the benches.

Each capture: /new, the title, a first name and a phone typed, the other questions skipped,
Create pressed; then the new lead's contacts opened and a contact created from the lead.
`duplicates_made` counts, in the portal emulator, leads and contacts made more than once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator

ANSWER_TIMEOUT_SECONDS = 90.0
QUIET_SECONDS = 0.5


def percentile(values: list[float], q: float) -> float:
    """The q-quantile of the values (nearest rank); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class CaptureTally:
    """What the capturing rep did and got."""

    actions: int = 0
    lost: int = 0
    captures: int = 0
    leads_reported: int = 0
    contacts_reported: int = 0
    off_script: int = 0
    """Screens that were no step of a capture (an outdated button, the menu): a new one began."""
    off_script_screens: Counter[str] = field(default_factory=Counter)
    """The first line of each such screen, counted."""
    delays: list[float] = field(default_factory=list)


class Capturer:
    """A rep who captures leads without pause and makes a contact from each new lead.

    Every press or typed message waits for its answer (a message sent or edited in the chat,
    or for a press the callback's answer) up to `ANSWER_TIMEOUT_SECONDS`; one that gets none
    is a lost press. The next step is read from what the bot shows, so a replayed update that
    moved the form on is followed, not fought.
    """

    def __init__(
        self, telegram: TelegramEmulator, telegram_id: int, *, title: str, phone_prefix: str
    ) -> None:
        self._telegram = telegram
        self._title = title
        self._phone_prefix = phone_prefix
        self.user = telegram.user(telegram_id, "Cora")
        self.tally = CaptureTally()
        self.acted = asyncio.Event()
        self._making_contact = False

    async def _answer(self, query_id: str | None) -> list[str] | None:
        """Texts the bot showed in answer, once the chat is quiet; None when nothing came."""
        deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
        texts: list[str] = []
        while not texts:
            if query_id is not None and self._telegram.callback_answer(query_id) is not None:
                break
            with contextlib.suppress(TimeoutError):
                texts.append((await self.user.wait_for_message(timeout=0.05)).text or "")
            if time.monotonic() > deadline:
                return None
        while True:  # an answer may come as several messages: wait for a quiet moment
            try:
                texts.append((await self.user.wait_for_message(timeout=QUIET_SECONDS)).text or "")
            except TimeoutError:
                return texts

    async def _act(self, kind: str, value: str) -> list[str] | None:
        if kind == "wait":  # more of the last answer is due: nothing pressed
            return await self._answer(None)
        self.tally.actions += 1
        started = time.monotonic()
        query_id: str | None = None
        if kind == "press":
            query_id = await self.user.press(value)
        else:
            await self.user.send(value)
        self.acted.set()
        texts = await self._answer(query_id)
        if texts is None:
            self.tally.lost += 1
        else:
            self.tally.delays.append(time.monotonic() - started)
        return texts

    def _next_step(self, texts: list[str]) -> tuple[str, str]:
        """What the rep does next, from the bot's last answer and what the chat shows."""
        joined = "\n".join(texts)
        try:
            last = self.user.last_message()
        except LookupError:
            return ("send", "/new")
        labels, text = last.labels, last.text or ""
        # Earlier messages edited on the way (a closed dialog loses its buttons) repeat old
        # texts: a question on screen wins over them.
        asked = "step " in text
        if "contact is created" in joined and not asked:
            if not self._making_contact:
                # A late edit of the last contact's screen came before the answer to /new
                # (a slow one): that answer is still to come.
                return ("wait", "")
            self.tally.contacts_reported += 1
            self._making_contact = False
            return ("send", "/new")
        if "is created" in joined and not asked and not self._making_contact:
            self.tally.leads_reported += 1
            self._making_contact = True
        if self._making_contact:
            for label in ("👥 Contacts", "➕ Create from the lead", "✅ Create and link"):
                if label in labels:
                    return ("press", label)
            if "is created" in joined:
                return ("wait", "")  # the lead's card follows the message
        elif "check and send" in text:
            return ("press", "✅ Create lead")
        elif asked:
            number = self.tally.captures
            if "Lead Title" in text:
                return ("send", f"{self._title} {number}")
            if "First Name" in text:
                return ("send", "Maria")
            if "Send the phone number" in text:
                return ("send", f"{self._phone_prefix}{number:05d}")
            if "⏭ Skip" in labels:
                return ("press", "⏭ Skip")
            choices = [label for label in labels if "Cancel" not in label]
            if choices:
                return ("press", choices[0])
            if "Send the text" in text:
                return ("send", "Bench")
        self.tally.off_script += 1
        self.tally.off_script_screens[(texts[-1] if texts else text).split("\n")[0][:60]] += 1
        self._making_contact = False
        return ("send", "/new")

    async def run(self, stop: asyncio.Event) -> None:
        """Capture until `stop` is set (the current step is finished first)."""
        step = ("send", "/new")
        while not stop.is_set():
            if step == ("send", "/new"):
                self.tally.captures += 1
            try:
                texts = await self._act(*step)
            except LookupError:  # the button went away meanwhile
                texts = None
            step = ("send", "/new") if texts is None else self._next_step(texts)


@dataclass(frozen=True, slots=True)
class MadeTwice:
    """Leads of captures and contacts in the portal, and how many of them are extra copies."""

    leads: int
    duplicate_leads: int
    contacts: int
    duplicate_contacts: int


def duplicates_made(portal: Bitrix24Emulator, title: str) -> MadeTwice:
    """Leads whose title starts with `title` (one per capture: the title carries its number),
    and contacts (one per lead: by phones); each one beyond the first is a duplicate."""
    leads = Counter(
        str(lead["TITLE"])
        for lead in portal.leads.values()
        if str(lead.get("TITLE", "")).startswith(title)
    )
    contacts = Counter(
        tuple(sorted(str(phone.get("VALUE")) for phone in contact.get("PHONE") or []))
        for contact in portal.contacts.values()
    )
    return MadeTwice(
        leads=len(leads),
        duplicate_leads=sum(count - 1 for count in leads.values()),
        contacts=len(contacts),
        duplicate_contacts=sum(count - 1 for count in contacts.values()),
    )
