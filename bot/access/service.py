"""Binding Telegram accounts to portal users, and every permission check that needs storage."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.access.directory import DirectoryUser, PortalDirectory
from bot.access.roles import Action, Identity, Role
from bot.phones import normalize_contact_phone, normalize_phone
from bot.storage import (
    Binding,
    BindingRepository,
    BindingSource,
    Clock,
    Invite,
    InviteRepository,
    IssuedInvite,
    RedeemFailure,
    utc_now,
)
from bot.storage.invites import hash_token

log = logging.getLogger(__name__)


class AccessDenied(Exception):
    """The caller's role does not allow the action."""


class BindOutcome(StrEnum):
    """What became of an attempt to bind by a shared contact."""

    BOUND = "bound"
    ALREADY_BOUND = "already_bound"
    NOT_YOURS = "not_yours"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"
    BLOCKED = "blocked"
    PHONE_REQUIRED = "phone_required"
    PHONE_MISMATCH = "phone_mismatch"


@dataclass(frozen=True, slots=True)
class BindResult:
    """The outcome of a binding attempt, with the identity when one was made."""

    outcome: BindOutcome
    identity: Identity | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """The sender of an update as the bot knows them."""

    identity: Identity | None
    language: str | None
    lost_access: bool = False
    blocked: bool = False


class ChangeRefused(StrEnum):
    """Why an admin's change to a binding was refused."""

    SELF = "self"
    LAST_ADMIN = "last_admin"
    UNKNOWN = "unknown"


class AccessService:
    """Who a Telegram account is in the portal, and the admin operations on bindings."""

    def __init__(
        self,
        *,
        bindings: BindingRepository,
        invites: InviteRepository,
        directory: PortalDirectory,
        admin_ids: Iterable[int],
        default_region: str,
        invite_ttl: timedelta = timedelta(hours=24),
        clock: Clock = utc_now,
    ) -> None:
        self._bindings = bindings
        self._invites = invites
        self._directory = directory
        self._admin_ids = frozenset(admin_ids)
        self._region = default_region
        self.invite_ttl = invite_ttl
        self._clock = clock

    @property
    def directory(self) -> PortalDirectory:
        """The cached list of active portal users."""
        return self._directory

    def _role_of(self, binding: Binding) -> Role:
        return Role.ADMIN if binding.telegram_user_id in self._admin_ids else binding.role

    async def resolve(self, telegram_user_id: int) -> Caller:
        """Who the caller is: identity (None when unbound), language, and lost access."""
        binding = await self._bindings.get(telegram_user_id)
        if binding is None:
            return Caller(identity=None, language=None)
        if not binding.active:
            return Caller(identity=None, language=binding.language, blocked=binding.blocked)
        user = await self._directory.active_user(binding.portal_user_id)
        if user is None:
            await self._bindings.deactivate(telegram_user_id)
            log.info(
                "binding of telegram user %d removed: portal user %d is not active",
                telegram_user_id,
                binding.portal_user_id,
            )
            return Caller(identity=None, language=binding.language, lost_access=True)
        identity = Identity(
            telegram_user_id=telegram_user_id,
            portal_user_id=binding.portal_user_id,
            role=self._role_of(binding),
            name=user.full_name or binding.display_name or "",
        )
        return Caller(identity=identity, language=binding.language)

    async def portal_time_zone(self, telegram_user_id: int) -> str | None:
        """The time zone the user set in their portal profile (None: unbound, or none set)."""
        binding = await self._bindings.get(telegram_user_id)
        return None if binding is None else await self._zone_of(binding)

    async def portal_time_zones(self, people: Sequence[Binding]) -> dict[int, str | None]:
        """`portal_time_zone` of people whose bindings the caller has just read, by Telegram
        user id, without reading them again."""
        return {binding.telegram_user_id: await self._zone_of(binding) for binding in people}

    async def _zone_of(self, binding: Binding) -> str | None:
        if not binding.active:
            return None
        user = await self._directory.active_user(binding.portal_user_id)
        return (user.time_zone or None) if user is not None else None

    async def identify(self, telegram_user_id: int) -> Identity | None:
        """The caller's identity, or None when unbound; a deactivated portal user loses it here."""
        return (await self.resolve(telegram_user_id)).identity

    async def bind_by_contact(
        self, *, sender_id: int, contact_user_id: int | None, phone: str, language: str | None
    ) -> BindResult:
        """Bind the sender by their own shared contact; a colleague's contact never binds."""
        if contact_user_id is None or contact_user_id != sender_id:
            return BindResult(BindOutcome.NOT_YOURS)
        current = await self.identify(sender_id)
        if current is not None:
            return BindResult(BindOutcome.ALREADY_BOUND, current)
        previous = await self._bindings.get(sender_id)
        if previous is not None and previous.blocked:
            log.info("telegram user %d was revoked by an admin: phone sign-in refused", sender_id)
            return BindResult(BindOutcome.BLOCKED)
        e164 = normalize_contact_phone(phone, self._region)
        if e164 is None:
            return BindResult(BindOutcome.NOT_FOUND)
        users = await self._directory.users_with_phone(e164)
        if not users:
            return BindResult(BindOutcome.NOT_FOUND)
        if len(users) > 1:
            return BindResult(BindOutcome.AMBIGUOUS)
        user = users[0]
        assert user.id is not None
        await self._bindings.upsert(
            Binding(
                telegram_user_id=sender_id,
                portal_user_id=user.id,
                # A role is an admin's decision about one binding: a new binding starts over.
                role=Role.REP,
                bound_via=BindingSource.CONTACT,
                bound_at=self._clock(),
                language=language if previous is None else previous.language or language,
                display_name=user.full_name,
            )
        )
        log.info("telegram user %d bound to portal user %d by contact", sender_id, user.id)
        return BindResult(BindOutcome.BOUND, await self.identify(sender_id))

    async def redeem_invite(
        self, token: str, telegram_user_id: int, language: str | None
    ) -> Identity | RedeemFailure | BindOutcome:
        """Bind by an invite token; returns the identity, or why it failed.

        An invite bound to the invitee's phone is not used here: PHONE_REQUIRED asks the caller
        to have the account share its phone and then call `redeem_invite_by_phone`.
        """
        current = await self.identify(telegram_user_id)
        if current is not None:
            return BindOutcome.ALREADY_BOUND
        found = await self._invites.find(hash_token(token))
        if isinstance(found, RedeemFailure):
            log.info("invite refused for telegram user %d: %s", telegram_user_id, found.value)
            return found
        if found.phone_check:
            return BindOutcome.PHONE_REQUIRED
        return await self._redeem(hash_token(token), telegram_user_id, language)

    async def redeem_invite_by_phone(
        self,
        *,
        token_hash: str,
        sender_id: int,
        contact_user_id: int | None,
        phone: str,
        language: str | None,
    ) -> Identity | RedeemFailure | BindOutcome:
        """Redeem an invite bound to a phone: the sender's own contact must carry that phone."""
        if contact_user_id is None or contact_user_id != sender_id:
            return BindOutcome.NOT_YOURS
        if await self.identify(sender_id) is not None:
            return BindOutcome.ALREADY_BOUND
        found = await self._invites.find(token_hash)
        if isinstance(found, RedeemFailure):
            return found
        user = await self._directory.active_user(found.portal_user_id)
        e164 = normalize_contact_phone(phone, self._region)
        if user is None or e164 is None or e164 not in self.phones_of(user):
            log.info("invite refused for telegram user %d: not the invitee's phone", sender_id)
            return BindOutcome.PHONE_MISMATCH
        return await self._redeem(token_hash, sender_id, language)

    def phones_of(self, user: DirectoryUser) -> set[str]:
        """The portal user's phones in E.164 form."""
        raw = (user.personal_mobile, user.work_phone, user.personal_phone)
        return {e164 for p in raw if p and (e164 := normalize_phone(p, self._region))}

    async def _redeem(
        self, token_hash: str, telegram_user_id: int, language: str | None
    ) -> Identity | RedeemFailure | BindOutcome:
        result = await self._invites.redeem_hash(token_hash, telegram_user_id, language=language)
        if isinstance(result, RedeemFailure):
            log.info("invite refused for telegram user %d: %s", telegram_user_id, result.value)
            return result
        identity = await self.identify(telegram_user_id)
        if identity is None:
            return BindOutcome.NOT_FOUND
        log.info(
            "telegram user %d bound to portal user %d by invite %d",
            telegram_user_id,
            result.portal_user_id,
            result.id,
        )
        return identity

    @staticmethod
    def _require(identity: Identity, action: Action) -> None:
        if not identity.may(action):
            raise AccessDenied(action.value)

    async def create_invite(
        self, admin: Identity, portal_user_id: int, role: Role, *, phone_check: bool = False
    ) -> IssuedInvite | None:
        """An invite for an active portal user; None when that user is not active.

        With `phone_check` it binds only an account that shares one of the user's phones (None
        when the user has no phone in the portal).
        """
        self._require(admin, Action.MANAGE_BINDINGS)
        user = await self._directory.active_user(portal_user_id)
        if user is None or (phone_check and not self.phones_of(user)):
            return None
        return await self._invites.create(
            portal_user_id,
            role,
            admin.telegram_user_id,
            self.invite_ttl,
            phone_check=phone_check,
        )

    async def pending_invites(self, admin: Identity) -> list[Invite]:
        """Invites that can still be used."""
        self._require(admin, Action.MANAGE_BINDINGS)
        return await self._invites.list_pending()

    async def revoke_invite(self, admin: Identity, invite_id: int) -> bool:
        """Withdraw a pending invite."""
        self._require(admin, Action.MANAGE_BINDINGS)
        return await self._invites.revoke(invite_id)

    async def list_bindings(self, admin: Identity) -> list[Binding]:
        """Every active binding, with roles as they apply (config admins shown as admins)."""
        self._require(admin, Action.MANAGE_BINDINGS)
        bindings = await self._bindings.list_bindings()
        return [self._effective(b) for b in bindings]

    async def binding(self, admin: Identity, telegram_user_id: int) -> Binding | None:
        """One active binding as it applies."""
        self._require(admin, Action.MANAGE_BINDINGS)
        found = await self._bindings.get(telegram_user_id)
        return None if found is None or not found.active else self._effective(found)

    def _effective(self, binding: Binding) -> Binding:
        role = self._role_of(binding)
        if role is binding.role:
            return binding
        return Binding(
            telegram_user_id=binding.telegram_user_id,
            portal_user_id=binding.portal_user_id,
            role=role,
            bound_via=binding.bound_via,
            bound_at=binding.bound_at,
            active=binding.active,
            language=binding.language,
            display_name=binding.display_name,
            blocked=binding.blocked,
        )

    async def _admins_left_without(self, telegram_user_id: int) -> int:
        bindings = await self._bindings.list_bindings()
        return sum(
            1
            for b in bindings
            if b.telegram_user_id != telegram_user_id and self._role_of(b) is Role.ADMIN
        )

    async def change_role(
        self, admin: Identity, telegram_user_id: int, role: Role
    ) -> ChangeRefused | None:
        """Give a bound account another role; None on success, else why not."""
        self._require(admin, Action.MANAGE_BINDINGS)
        if telegram_user_id == admin.telegram_user_id:
            return ChangeRefused.SELF
        target = await self._bindings.get(telegram_user_id)
        if target is None or not target.active:
            return ChangeRefused.UNKNOWN
        if (
            self._role_of(target) is Role.ADMIN
            and role is not Role.ADMIN
            and not await self._admins_left_without(telegram_user_id)
        ):
            return ChangeRefused.LAST_ADMIN
        await self._bindings.set_role(telegram_user_id, role)
        log.info("telegram user %d now has role %s", telegram_user_id, role.value)
        return None

    async def revoke_binding(self, admin: Identity, telegram_user_id: int) -> ChangeRefused | None:
        """Remove a binding; the account sees nothing until it binds again."""
        self._require(admin, Action.MANAGE_BINDINGS)
        if telegram_user_id == admin.telegram_user_id:
            return ChangeRefused.SELF
        if not await self._bindings.deactivate(telegram_user_id, block=True):
            return ChangeRefused.UNKNOWN
        log.info("binding of telegram user %d revoked and blocked", telegram_user_id)
        return None

    async def blocked_bindings(self, admin: Identity) -> list[Binding]:
        """Accounts an admin revoked: they cannot sign in by phone until the block is lifted."""
        self._require(admin, Action.MANAGE_BINDINGS)
        return await self._bindings.list_blocked()

    async def lift_block(self, admin: Identity, telegram_user_id: int) -> bool:
        """Let a revoked account sign in again by phone (as a rep); False if it was not blocked."""
        self._require(admin, Action.MANAGE_BINDINGS)
        lifted = await self._bindings.unblock(telegram_user_id)
        if lifted:
            log.info("block of telegram user %d lifted", telegram_user_id)
        return lifted

    async def set_language(self, telegram_user_id: int, language: str) -> bool:
        """Remember the language a bound user chose; False when the account is not bound."""
        return await self._bindings.set_language(telegram_user_id, language)
