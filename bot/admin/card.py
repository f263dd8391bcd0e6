"""The portal's common lead card layout: show, reset, force for all, save and apply again."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from pydantic import TypeAdapter, ValidationError

from bot.access.roles import Action, Identity
from bot.access.service import AccessDenied
from bot.portal import CardSection, FieldDescriptor, PortalClient
from bot.storage import KeyValueRepository

log = logging.getLogger(__name__)

SAVED_LAYOUT_KEY = "card.saved_layout"
COMMON_SCOPE: Final = "C"
_SECTIONS = TypeAdapter(list[CardSection])


class NoSavedLayout(Exception):
    """Nothing was saved to apply (or what was stored no longer reads as a layout)."""


class NoCommonLayout(Exception):
    """The portal has no common layout to save: it uses its default card."""


@dataclass(frozen=True, slots=True)
class SectionView:
    """One card section as text lines: its title and its fields' names."""

    title: str
    fields: tuple[str, ...]


def describe_layout(
    sections: Sequence[CardSection], fields: Mapping[str, FieldDescriptor]
) -> list[SectionView]:
    """Sections with human field names (the code when the catalog does not know a field)."""

    def name(code: str) -> str:
        descriptor = fields.get(code)
        if descriptor is None:
            return code
        if descriptor.is_dynamic:
            return descriptor.form_label or descriptor.title or code
        return descriptor.title or code

    return [
        SectionView(s.title or s.name, tuple(name(e.name) for e in s.elements)) for s in sections
    ]


def layout_text(sections: Sequence[SectionView]) -> str:
    """Plain text of a layout: a title line per section, then its fields indented."""
    lines = []
    for section in sections:
        lines.append(f"▪️ {section.title}")
        lines.extend(f"    {field}" for field in section.fields)
    return "\n".join(lines)


class CardSettingsService:
    """Common lead card settings in the portal; every call re-checks `MANAGE_CARD`."""

    def __init__(self, portal: PortalClient, kv: KeyValueRepository) -> None:
        self._portal = portal
        self._kv = kv

    @staticmethod
    def authorize(identity: Identity | None) -> None:
        """Raise `AccessDenied` unless the caller's role allows these tools."""
        if identity is None or not identity.may(Action.MANAGE_CARD):
            raise AccessDenied(Action.MANAGE_CARD.value)

    async def common_layout(self, identity: Identity | None) -> list[CardSection] | None:
        """The common layout; None when the portal uses its default card."""
        self.authorize(identity)
        return await self._portal.get_lead_card(scope=COMMON_SCOPE)

    async def reset(self, identity: Identity | None) -> None:
        """Return the common card to the portal's default."""
        self.authorize(identity)
        await self._portal.reset_lead_card(scope=COMMON_SCOPE)
        log.info("common lead card reset")

    async def force_common(self, identity: Identity | None) -> None:
        """Make everybody use the common card (personal layouts are dropped)."""
        self.authorize(identity)
        await self._portal.force_common_lead_card()
        log.info("common lead card forced for all users")

    async def saved_layout(self, identity: Identity | None) -> list[CardSection] | None:
        """The layout saved in the bot, if any."""
        self.authorize(identity)
        stored = await self._kv.get(SAVED_LAYOUT_KEY)
        if stored is None:
            return None
        try:
            return _SECTIONS.validate_python(stored)
        except ValidationError:
            log.warning("the saved card layout is unreadable; ignoring it")
            return None

    async def save_current(self, identity: Identity | None) -> int:
        """Keep the portal's common layout in the bot; returns its number of sections."""
        sections = await self.common_layout(identity)
        if not sections:
            raise NoCommonLayout
        await self._kv.set(SAVED_LAYOUT_KEY, [s.to_portal() for s in sections], durable=True)
        log.info("common lead card saved: %d sections", len(sections))
        return len(sections)

    async def apply_saved(self, identity: Identity | None) -> int:
        """Make the saved layout the common one; returns its number of sections."""
        sections = await self.saved_layout(identity)
        if not sections:
            raise NoSavedLayout
        await self._portal.set_lead_card(sections, scope=COMMON_SCOPE)
        log.info("saved lead card applied: %d sections", len(sections))
        return len(sections)
