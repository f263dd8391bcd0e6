"""Composition root: builds the Telegram bot, the dispatcher, the web app and the workers.

This is the only module that wires things together; everything else receives what it needs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import ClientDecodeError, TelegramAPIError, TelegramUnauthorizedError
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.methods import Response, TelegramMethod
from aiogram.types import BotCommand
from aiogram.utils.backoff import BackoffConfig
from aiogram_dialog import setup_dialogs
from aiohttp import web

from bot.access.directory import PortalDirectory
from bot.access.middleware import IdentityMiddleware
from bot.access.service import AccessService
from bot.admin import CardSettingsService, CustomFieldService, FormFieldsService
from bot.admin.people import PeopleService
from bot.allocator import Allocator, trim_forever
from bot.collector import settle_forever
from bot.config import MISSING_TOKEN, ConfigurationError, Settings
from bot.events.audience import DirectoryAudience
from bot.events.poller import CatchUpPoller
from bot.events.processor import EventProcessor, ProcessorTiming
from bot.events.receiver import EventCredentials, EventReceiver
from bot.followups.scheduler import ReminderScheduler
from bot.followups.service import FollowUpService
from bot.followups.sync import FollowUpSync
from bot.i18n import DEFAULT_LANGUAGE, Translations
from bot.leads.actions import BotActionLog
from bot.leads.capture import CaptureService
from bot.leads.catalog import PortalCatalog
from bot.leads.contacts import LeadContactsService
from bot.leads.form import field_kind
from bot.leads.links import portal_origin
from bot.leads.nudges import NudgeService, NudgeWorker
from bot.leads.owner_requests import OwnerRequestService
from bot.leads.products import LeadProductsService
from bot.leads.service import LeadService
from bot.logs import configure_logging, quiet_leaky_loggers
from bot.metrics import (
    MetricsRegistry,
    UpdateMetricsMiddleware,
    portal_observer,
    register_bot_metrics,
    settle_observer,
    telegram_observer,
    throttle_observer,
    trim_observer,
    watch_collector,
    watch_event_loop,
)
from bot.notify.budget import SendBudget, SendBudgetMiddleware
from bot.notify.digest import DigestWorker, QuietHours
from bot.notify.mute import MuteService
from bot.notify.render import Links
from bot.notify.sender import OutboxSender
from bot.notify.take import TakeService
from bot.ops.leadership import Leadership, WorkerFactory, replica_name
from bot.ops.status import CrmModeWatch, StatusService
from bot.portal import (
    Lane,
    OAuthAuth,
    PortalClient,
    PortalError,
    PortalLimiter,
)
from bot.portal_credentials import build_portal_auth
from bot.readiness import Reachability, Readiness, TelegramReachabilityMiddleware
from bot.reports.service import ReportService
from bot.schedule.service import HoursService
from bot.speed.escalation import EscalationService, EscalationWorker
from bot.storage import (
    DATABASE_ERRORS,
    BindingRepository,
    Database,
    InviteRepository,
    KeyValueRepository,
)
from bot.storage.claims import RowClaims
from bot.storage.db import SqliteDatabase
from bot.storage.escalations import EscalationRepository
from bot.storage.fsm import SQLiteStorage
from bot.storage.held import HeldRepository
from bot.storage.hours import HoursRepository
from bot.storage.inbox import InboxRepository
from bot.storage.leases import LeaseRepository
from bot.storage.mutes import MuteRepository
from bot.storage.outbox import OutboxRepository
from bot.storage.owner_requests import OwnerRequestRepository
from bot.storage.reminders import ReminderRepository
from bot.storage.retention import Retention, RetentionPolicy
from bot.storage.revisions import TableRevisions
from bot.storage.snapshots import SnapshotRepository
from bot.storage.sql import POSTGRES
from bot.storage.subscriptions import SubscriptionRepository
from bot.storage.timestamps import Clock, utc_now
from bot.storage.updates import UpdateRepository
from bot.storage.writes import WriteRecordRepository
from bot.telegram_retry import FloodPause, TelegramRetryMiddleware
from bot.throttle import BucketRule, ThrottleMiddleware, UpdateKind, UserThrottle
from bot.tls import client_tls
from bot.updates import (
    InFlightUpdates,
    ReplyJournal,
    TrackedDispatcher,
    UpdateIntake,
    UpdatePoller,
)
from bot.web import TelegramWebhook, build_web_app, listen
from bot.write_journal import WriteJournal
from dialogs import build_routers
from dialogs.commands import AVAILABLE_COMMANDS
from dialogs.intent_ids import use_unique_intent_ids

if TYPE_CHECKING:
    from bot.events.offline import OfflineIntake
    from bot.install.endpoints import InstallEndpoints
    from bot.install.installation import InstallationStore
    from bot.install.robot import RobotEndpoint
    from bot.install.robot_calls import RobotCalls
    from bot.replicas.shared import SharedThroughRedis
    from bot.tab.endpoints import TabEndpoints

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5.0
DIRECTORY_REFRESH_SECONDS = 300.0
DIALOG_PRUNE_SECONDS = 3600.0
DEFAULT_POLLING_BACKOFF = BackoffConfig(min_delay=1.0, max_delay=30.0, factor=1.5, jitter=0.1)


_RESPONSE_TYPES: dict[Any, type[Response[Any]]] = {}
"""The `Response[...]` classes of the Telegram answers seen, by returning type."""


class TelegramSession(AiohttpSession):
    """aiogram's aiohttp session with the bot's one TLS context (`bot.tls`); closing it waits
    for TLS connections to wind down only when there are any (an https Bot API server), not
    for a plain-http one."""

    def __init__(self, api: TelegramAPIServer) -> None:
        super().__init__(api=api)
        # aiogram makes a context of its own per session and has no argument for it; the
        # connector is built from this dict when the session first opens.
        self._connector_init["ssl"] = client_tls()

    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str
    ) -> Response[Any]:
        """aiogram's check, with the answer's `Response[...]` class kept alive.

        aiogram asks pydantic for `Response[<returning type>]` at every answer. Pydantic
        keeps such classes only while something refers to them, so after each collection the
        next answer built the class again: about 370 times a minute in `bench.soak`, some
        milliseconds each, on the event loop. One per returning type is held here.
        """
        returning = method.__returning__
        if returning not in _RESPONSE_TYPES:
            _RESPONSE_TYPES[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)

    async def close(self) -> None:
        """Close the connections; the 0.25 s TLS grace only for https."""
        if self.api.base.startswith("https://"):
            await super().close()
        elif self._session is not None and not self._session.closed:
            await self._session.close()


def build_bot(
    settings: Settings,
    retry: TelegramRetryMiddleware,
    reachability: Reachability,
    *,
    replies: ReplyJournal | None = None,
) -> Bot:
    """The aiogram `Bot`, pointed at the configured Bot API server, sending HTML. `replies`,
    when given, is the outermost middleware: a reply it answers from its record waits on
    nothing else."""
    token = settings.telegram.token.get_secret_value()
    if not token:
        raise ConfigurationError(MISSING_TOKEN)
    session = TelegramSession(api=TelegramAPIServer.from_base(settings.telegram.api_base))
    if replies is not None:
        session.middleware(replies)
    session.middleware(retry)
    session.middleware(TelegramReachabilityMiddleware(reachability))
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


def build_dispatcher(
    *,
    storage: BaseStorage,
    access: AccessService,
    translations: Translations,
    services: dict[str, Any],
    gates: Sequence[BaseMiddleware] = (),
    after_identity: Sequence[BaseMiddleware] = (),
    isolation: BaseEventIsolation | None = None,
) -> tuple[Dispatcher, InFlightUpdates]:
    """The dispatcher with every router and dialog, and its middlewares.

    `services` become keyword data of every handler and dialog getter (`portal`, `catalog`...).
    `gates` are outer update middlewares that run before the caller is resolved (metrics,
    throttling), so a flood costs no storage or portal reads; `after_identity` run once the
    caller is known (the sign-in throttle).

    One update at a time per chat member: aiogram-dialog reads a press's context before it
    locks, so a press that came while the previous one was handled would see stale state.
    `isolation` keeps that across replicas; by default it holds within this process.
    """
    in_flight = InFlightUpdates()
    dispatcher = TrackedDispatcher(
        in_flight=in_flight,
        storage=storage,
        events_isolation=isolation or SimpleEventIsolation(),
        **services,
    )
    for gate in gates:
        dispatcher.update.outer_middleware(gate)
    dispatcher.update.outer_middleware(IdentityMiddleware(access, translations))
    for middleware in after_identity:
        dispatcher.update.outer_middleware(middleware)
    dispatcher.include_routers(*build_routers())
    setup_dialogs(dispatcher)
    use_unique_intent_ids()
    return dispatcher, in_flight


def warn_about_plain_http(settings: Settings) -> None:
    """Plain http:// to the portal works (a LAN or a test portal) but exposes the secret."""
    portal = settings.portal
    webhook_url = portal.webhook_url.get_secret_value() if portal.webhook_url else ""
    for name, url in (
        ("PORTAL__WEBHOOK_URL", webhook_url),
        ("PORTAL__OAUTH_ENDPOINT", portal.oauth_endpoint or ""),
    ):
        if url.startswith("http://"):
            log.warning(
                "%s uses plain http://: its secret and every lead travel unencrypted; "
                "use https:// unless the portal is on a trusted network",
                name,
            )


def portal_base_url(settings: Settings) -> str | None:
    """The portal's UI address (for "open in portal" buttons), never with a secret in it."""
    portal = settings.portal
    if portal.domain:
        return f"https://{portal.domain}"
    source = portal.webhook_url.get_secret_value() if portal.webhook_url else portal.oauth_endpoint
    if not source:
        return None
    scheme, _, rest = source.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else None


def event_credentials(settings: Settings) -> EventCredentials | None:
    """What genuine portal events carry; None when no application token is set (polling only)."""
    token = settings.portal.application_token
    if token is None or not token.get_secret_value():
        return None
    return EventCredentials(
        application_token=token.get_secret_value(),
        member_id=settings.portal.member_id or None,
        domain=settings.portal.domain or None,
    )


def catch_up_lane(settings: Settings) -> Lane:
    """The portal lane of the catch-up poll: routine while events come by themselves (by
    webhook or, in application mode, from the portal's queue), so it only takes the slots the
    processor leaves; background when the poll is the only intake."""
    if event_credentials(settings) is not None or settings.app.enabled:
        return Lane.ROUTINE
    return Lane.BACKGROUND


def build_retention(
    settings: Settings,
    inbox: InboxRepository,
    outbox: OutboxRepository,
    snapshots: SnapshotRepository,
    updates: UpdateRepository,
    writes: WriteRecordRepository,
) -> Retention:
    """The periodic pruning of processed events, sent messages, bot actions, claims, the
    ids of handled Telegram updates and the records of their writes."""
    days = settings.retention
    policy = RetentionPolicy(
        inbox=timedelta(days=days.inbox_days),
        outbox=timedelta(days=days.outbox_days),
        bot_actions=timedelta(days=days.bot_actions_days),
        lead_claims=timedelta(days=days.lead_claims_days),
        telegram_updates=timedelta(days=days.telegram_updates_days),
        chunk_rows=days.chunk_rows,
    )
    return Retention(
        inbox=inbox,
        outbox=outbox,
        snapshots=snapshots,
        policy=policy,
        updates=updates,
        writes=writes,
    )


class Application:
    """The running bot: storage, portal client, Telegram bot, dispatcher, web server, workers."""

    def __init__(
        self,
        settings: Settings,
        *,
        polling_backoff: BackoffConfig = DEFAULT_POLLING_BACKOFF,
        clock: Clock = utc_now,
        clock_speed: float = 1.0,
    ) -> None:
        self.settings = settings
        self._polling_backoff = polling_backoff
        # Follow-ups and their reminders read this clock; tests and benches move it.
        self.clock = clock
        self._clock_speed = clock_speed
        quiet_leaky_loggers()
        postgres_url = settings.storage.postgres_url()
        self.db: Database
        if postgres_url is not None:
            # Imported only here: a bot on SQLite has no use for the PostgreSQL driver's 3 MB.
            from bot.storage.postgres import PostgresDatabase

            self.db = PostgresDatabase(postgres_url)
        else:
            self.db = SqliteDatabase(settings.storage.path)
        self.translations = Translations.load()
        self.metrics = MetricsRegistry()
        register_bot_metrics(self.metrics)
        self.portal_reachability = Reachability()
        self.telegram_reachability = Reachability()
        # With Redis, replicas share dialog state, the request budgets and the pauses; without
        # it all of that stays in this process and its SQLite file.
        self.shared: SharedThroughRedis | None = None
        flood_pause = FloodPause()
        if settings.redis.url is not None:
            # Imported only here: a single process has no use for the Redis client's 4 MB.
            from bot.replicas.shared import SharedThroughRedis

            self.shared = SharedThroughRedis(settings.redis)
            flood_pause = self.shared.flood_pause()
        self.retry = TelegramRetryMiddleware(
            flood_pause, on_request=telegram_observer(self.metrics)
        )
        self.updates = UpdateRepository(self.db, clock)
        self.bot = build_bot(
            settings, self.retry, self.telegram_reachability, replies=ReplyJournal(self.updates)
        )
        # One send budget for the notifications and the bot's answers (shared through Redis).
        self.send_budget = self._send_budget()
        self.bot.session.middleware(SendBudgetMiddleware(self.send_budget))
        # Notifications go through their own session: same flood pause, no retries inside,
        # so the sender's scheduler alone decides when a message goes again.
        self.sender_bot = build_bot(
            settings,
            TelegramRetryMiddleware(
                self.retry.pause, max_attempts=1, on_request=telegram_observer(self.metrics)
            ),
            self.telegram_reachability,
        )
        self.receiver: EventReceiver | None = None
        self.processor: EventProcessor | None = None
        self.sender: OutboxSender | None = None
        self.leadership: Leadership | None = None
        self.replica = replica_name()
        """This process among the replicas: the holder of its leases and row claims."""
        self.poller: CatchUpPoller | None = None
        self.offline: OfflineIntake | None = None
        self.install: InstallEndpoints | None = None
        self.installation: InstallationStore | None = None
        self.tab: TabEndpoints | None = None
        self.robot: RobotEndpoint | None = None
        self.robot_calls: RobotCalls | None = None
        self.digests: DigestWorker | None = None
        self.nudges: NudgeWorker | None = None
        self.reminders: ReminderScheduler | None = None
        self.followup_sync: FollowUpSync | None = None
        self._unwatch_collector: Callable[[], None] | None = None
        self.escalation_worker: EscalationWorker | None = None
        self.escalations: EscalationService | None = None
        self.portal: PortalClient | None = None
        self.dispatcher: Dispatcher | None = None
        self.access: AccessService | None = None
        self.readiness: Readiness | None = None
        self.web_runner: web.AppRunner | None = None
        self.port: int | None = None
        self._in_flight: InFlightUpdates | None = None
        self.intake: UpdateIntake | None = None
        self._polling: asyncio.Task[None] | None = None
        self._started_dispatcher = False
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        """Open everything and start taking updates; raises ConfigurationError on bad setup."""
        settings = self.settings
        warn_about_plain_http(settings)
        await self._open_database()
        if self.shared is not None:
            await self.shared.check()
        kv = KeyValueRepository(self.db)
        auth = await build_portal_auth(settings, kv)
        self.portal = PortalClient(
            auth=auth,
            limiter=self._portal_limiter(),
            timeout=settings.portal.timeout_seconds,
            max_retries=settings.portal.max_retries,
            backoff_base=settings.portal.backoff_seconds,
            on_request=_both(
                portal_observer(self.metrics), self.portal_reachability.observe_portal
            ),
            auth_connector=settings.app.auth_connector if settings.app.enabled else None,
        )
        if settings.app.enabled:
            assert isinstance(auth, OAuthAuth)  # settings refuse a webhook in application mode
            self._build_install(auth, kv)
        directory = PortalDirectory(self.portal, default_region=settings.default_phone_region)
        self.access = AccessService(
            bindings=BindingRepository(self.db),
            invites=InviteRepository(self.db),
            directory=directory,
            admin_ids=settings.telegram.admin_ids,
            default_region=settings.default_phone_region,
        )
        self.crm_mode = CrmModeWatch(self.portal)
        self.catalog = PortalCatalog(self.portal)
        self.hours = HoursService(
            HoursRepository(self.db),
            default_zone=settings.zone,
            portal_zone=self.access.portal_time_zone,
            people_zones=self.access.portal_time_zones,
        )
        bot_actions = BotActionLog(self.db)
        journal = WriteJournal(WriteRecordRepository(self.db))
        lead_contacts = LeadContactsService(
            self.portal, bot_actions, default_region=settings.default_phone_region, journal=journal
        )
        lead_products = LeadProductsService(self.portal, bot_actions, journal)
        leads = LeadService(
            portal=self.portal,
            catalog=self.catalog,
            directory=directory,
            actions=bot_actions,
            default_region=settings.default_phone_region,
            portal_origin=portal_origin(settings.portal),
            journal=journal,
        )
        capture = CaptureService(
            portal=self.portal, catalog=self.catalog, kv=kv, actions=bot_actions, journal=journal
        )
        inbox = InboxRepository(self.db)
        outbox = OutboxRepository(self.db)
        snapshots = SnapshotRepository(self.db)
        subscriptions = SubscriptionRepository(self.db)
        escalation_store = EscalationRepository(self.db, self.clock)
        self._speed_audience = DirectoryAudience(
            bindings=BindingRepository(self.db),
            directory=self.access.directory,
            revisions=TableRevisions(self.db),
            admin_ids=settings.telegram.admin_ids,
        )
        portal_url = Links(bot_username="", portal_base=portal_base_url(settings)).portal_url
        self.escalations = EscalationService(
            portal=self.portal,
            store=escalation_store,
            outbox=outbox,
            directory=directory,
            bindings=BindingRepository(self.db),
            audience=self._speed_audience,
            actions=bot_actions,
            translations=self.translations,
            portal_url=portal_url,
            on_queued=self._wake_sender,
            on_ended=self._wake_escalations,
            clock=self.clock,
        )
        dialog_state, isolation = self._dialog_storage()
        reminders = ReminderRepository(self.db, clock=self.clock)
        self.dispatcher, self._in_flight = build_dispatcher(
            storage=dialog_state,
            isolation=isolation,
            access=self.access,
            translations=self.translations,
            services={
                "catalog": self.catalog,
                "settings": settings,
                "db": self.db,
                "crm_mode": self.crm_mode,
                "webhook_mode": bool(settings.telegram.webhook_url),
                "subscription_store": subscriptions,
                "snapshot_store": snapshots,
                "take": TakeService(
                    portal=self.portal,
                    snapshots=snapshots,
                    outbox=outbox,
                    subscriptions=subscriptions,
                    recorder=self.escalations,
                ),
                "escalations": self.escalations,
                "status": StatusService(
                    portal=self.portal,
                    crm=self.crm_mode,
                    db=self.db,
                    metrics=self.metrics,
                    subscriptions=subscriptions,
                    installation=self.installation,
                ),
                "lead_contacts": lead_contacts,
                "lead_products": lead_products,
                "leads": leads,
                "capture": capture,
                "custom_fields": CustomFieldService(self.portal, self.catalog),
                "form_fields": FormFieldsService(
                    kv, self.catalog, askable=lambda code, d: field_kind(code, d) is not None
                ),
                "card_settings": CardSettingsService(self.portal, kv),
                "people": PeopleService(
                    subscriptions=subscriptions,
                    outbox=outbox,
                    bindings=BindingRepository(self.db),
                    on_requeued=self._wake_sender,
                ),
                "metrics": self.metrics,
                "mutes": MuteService(
                    MuteRepository(self.db),
                    zone=settings.zone,
                    clock=utc_now,
                    chat_zone=self._chat_zone,
                ),
                "hours": self.hours,
                "nudges": NudgeService(kv),
                "followups": FollowUpService(
                    portal=self.portal,
                    reminders=reminders,
                    hours=self.hours,
                    clock=self.clock,
                    on_scheduled=self._wake_reminders,
                    journal=journal,
                ),
                "reports": ReportService(
                    portal=self.portal,
                    catalog=self.catalog,
                    actions=bot_actions,
                    user_name=leads.user_name,
                    zone=settings.zone,
                    clock=utc_now,
                    speed=escalation_store,
                ),
                "owner_requests": OwnerRequestService(
                    portal=self.portal,
                    bindings=BindingRepository(self.db),
                    audience=DirectoryAudience(
                        bindings=BindingRepository(self.db),
                        directory=self.access.directory,
                        revisions=TableRevisions(self.db),
                        admin_ids=settings.telegram.admin_ids,
                    ),
                    requests=OwnerRequestRepository(self.db),
                    outbox=outbox,
                    actions=bot_actions,
                    translations=self.translations,
                    user_name=leads.user_name,
                    on_queued=self._wake_sender,
                ),
            },
            **self._throttling(),
        )
        self.intake = UpdateIntake(
            dispatcher=self.dispatcher,
            bot=self.bot,
            updates=self.updates,
            claim_for=timedelta(seconds=settings.telegram.update_claim_seconds),
            in_flight=self._in_flight,
        )
        if not self._database_shared:
            # One process per SQLite file: what an earlier run claimed and left is replayed now.
            await self.updates.release_claims()
        try:
            me = await self.bot.get_me()
        except TelegramUnauthorizedError as exc:
            raise ConfigurationError(
                "TELEGRAM__TOKEN was refused by Telegram (401 Unauthorized): "
                "copy the token from @BotFather again"
            ) from exc
        except TelegramAPIError as exc:
            raise ConfigurationError(
                f"Telegram did not answer at {settings.telegram.api_base} "
                f"({type(exc).__name__}): check the network and TELEGRAM__API_BASE"
            ) from exc
        except ClientDecodeError as exc:
            raise ConfigurationError(
                f"the server at {settings.telegram.api_base} did not answer as Telegram's Bot "
                "API does: check TELEGRAM__API_BASE"
            ) from exc
        if settings.app.enabled and not await self._installed():
            log.warning(
                "application mode: waiting for the portal to install the application at %s",
                settings.app.install_path,
            )
        else:
            await self._start_directory(directory)
        try:
            if not await self.crm_mode.leads_enabled():
                log.warning("the portal is in simple CRM mode: lead capture is off")
        except PortalError as exc:
            log.warning("could not read the CRM mode: %s", exc.code)
        log.info("signed in to Telegram as @%s (id %d)", me.username, me.id)
        await self._set_commands()
        self._build_workers(
            me.username or "", inbox, outbox, snapshots, subscriptions, kv, escalation_store
        )
        self._build_reminders(reminders, outbox)
        if settings.app.enabled:
            self.tab = self._build_tab(me.username or "", kv, leads, outbox, subscriptions)
        self.readiness = Readiness(
            db=self.db,
            portal=self.portal_reachability,
            telegram=self.telegram_reachability,
            portal_probe=lambda: self.crm_mode.mode(lane=Lane.BACKGROUND, fresh=True),
            # The sender's bot makes one attempt: a probe must not sit in retries.
            telegram_probe=self.sender_bot.get_me,
            check_seconds=settings.web.ready_check_seconds,
            queue_age_seconds=settings.web.ready_queue_age_seconds,
            redis_probe=None if self.shared is None else self.shared.probe(),
        )
        await self._start_web()
        assert self.processor is not None
        assert self.sender is not None
        assert self.poller is not None
        retention = build_retention(
            settings, inbox, outbox, snapshots, self.updates, WriteRecordRepository(self.db)
        )
        processor, sender, poller = self.processor, self.sender, self.poller
        assert self.digests is not None
        assert self.reminders is not None
        assert self.followup_sync is not None
        assert self.nudges is not None
        assert self.escalation_worker is not None
        # The queues' workers run on every replica when the replicas can share them (see
        # `_queues_shared`); the others, each written to run alone, on the leader only.
        everywhere: list[WorkerFactory] = [processor.run, sender.run]
        workers: list[WorkerFactory] = [
            *([] if self._queues_shared else everywhere),
            poller.run,
            *([self.offline.run] if self.offline is not None else []),
            *([self.robot_calls.run] if self.robot_calls is not None else []),
            self.digests.run,
            self.reminders.run,
            self.followup_sync.run,
            self.nudges.run,
            self.escalation_worker.run,
            lambda: retention.run(settings.retention.interval_seconds),
        ]
        if isinstance(dialog_state, SQLiteStorage):
            # Redis expires dialog state by itself (the TTL set with every write).
            dialog_ttl = timedelta(hours=settings.storage.dialog_ttl_hours)
            storage = dialog_state
            workers.append(lambda: storage.prune_forever(dialog_ttl, every=DIALOG_PRUNE_SECONDS))
        if self._queues_shared:
            self._tasks.extend(asyncio.create_task(worker()) for worker in everywhere)
        if self._database_shared:
            # Several replicas may share this database: one of them runs the lone workers.
            self.leadership = Leadership(LeaseRepository(self.db), workers, holder=self.replica)
            self._tasks.append(asyncio.create_task(self.leadership.run()))
        else:
            self._tasks.extend(asyncio.create_task(worker()) for worker in workers)
        self._tasks.append(asyncio.create_task(self._refresh_directory(directory)))
        self._tasks.append(asyncio.create_task(watch_event_loop(self.metrics)))
        self._unwatch_collector = watch_collector(self.metrics)
        # Every replica replays what a dead one stored and left unhandled; what this one
        # receives waits until its first pass is over.
        self.intake.hold_new_updates()
        self._tasks.append(asyncio.create_task(self.intake.run()))
        await self.dispatcher.emit_startup(bot=self.bot, dispatcher=self.dispatcher)
        self._started_dispatcher = True
        if settings.telegram.webhook_url:
            await self._set_webhook()
        else:
            await self.bot.delete_webhook(drop_pending_updates=False)
            telegram_poller = UpdatePoller(
                bot=self.bot,
                intake=self.intake,
                allowed_updates=self._allowed_updates(),
                backoff=self._polling_backoff,
            )
            self._polling = asyncio.create_task(telegram_poller.run())

    async def _open_database(self) -> None:
        if not self._database_shared:
            await self.db.open()
            return
        try:
            await self.db.open()
        except DATABASE_ERRORS as exc:
            # Named by its type only: the driver's message may quote the URL's user and host.
            raise ConfigurationError(
                f"PostgreSQL at STORAGE__URL could not be used ({type(exc).__name__}): check "
                "that the server runs, the database exists and the user may connect to it"
            ) from exc

    @property
    def _queues_shared(self) -> bool:
        """Whether every replica drains the inbox and the outbox, claiming rows as it goes.

        That takes PostgreSQL (the replicas' shared queues) and Redis (their shared budgets:
        the portal's requests, Telegram's 30 a second and each chat's gap). On PostgreSQL
        without Redis every replica would pace itself alone, so the leader alone sends.
        """
        return self._database_shared and self.shared is not None

    @property
    def _database_shared(self) -> bool:
        """Whether other replicas may use this database too (PostgreSQL; an SQLite file is
        one process's)."""
        return self.db.dialect is POSTGRES

    def _build_workers(
        self,
        bot_username: str,
        inbox: InboxRepository,
        outbox: OutboxRepository,
        snapshots: SnapshotRepository,
        subscriptions: SubscriptionRepository,
        kv: KeyValueRepository,
        escalation_store: EscalationRepository,
    ) -> None:
        settings = self.settings
        assert self.portal is not None
        assert self.access is not None
        held = HeldRepository(self.db, outbox)
        links = Links(bot_username=bot_username, portal_base=portal_base_url(settings))
        claims = RowClaims(self.replica) if self._queues_shared else None
        self.sender = OutboxSender(
            bot=self.sender_bot,
            db=self.db,
            outbox=outbox,
            subscriptions=subscriptions,
            identify=self.access.identify,
            pause=self.retry.pause,
            settings=settings.notify,
            mutes=MuteRepository(self.db),
            quiet=QuietHours(self.hours, held),
            budget=self.send_budget,
            claims=claims,
        )
        self.digests = DigestWorker(
            held=held,
            hours=self.hours,
            subscriptions=subscriptions,
            translations=self.translations,
            links=links,
            on_queued=self.sender.wake,
        )
        self.hours.on_change(self.digests.wake)
        self.processor = EventProcessor(
            db=self.db,
            portal=self.portal,
            catalog=self.catalog,
            audience=DirectoryAudience(
                bindings=BindingRepository(self.db),
                directory=self.access.directory,
                revisions=TableRevisions(self.db),
                admin_ids=settings.telegram.admin_ids,
            ),
            translations=self.translations,
            inbox=inbox,
            outbox=outbox,
            snapshots=snapshots,
            subscriptions=subscriptions,
            kv=kv,
            links=links,
            timing=ProcessorTiming(
                coalesce_seconds=settings.events.coalesce_seconds,
                echo_window=timedelta(seconds=settings.events.echo_window_seconds),
                retry_seconds=settings.events.retry_seconds,
            ),
            on_queued=self.sender.wake,
            observer=self.escalations,
            escalations=escalation_store,
            claims=claims,
        )
        self.escalation_worker = EscalationWorker(
            db=self.db,
            portal=self.portal,
            store=escalation_store,
            outbox=outbox,
            subscriptions=subscriptions,
            bindings=BindingRepository(self.db),
            audience=self._speed_audience,
            catalog=self.catalog,
            translations=self.translations,
            portal_url=Links(bot_username, portal_base_url(settings)).portal_url,
            editor=self.sender,
            on_queued=self.sender.wake,
            clock=self.clock,
        )
        self.receiver = EventReceiver(
            inbox,
            event_credentials(settings),
            max_body_bytes=settings.events.max_body_bytes,
            on_catalog_changed=self.catalog.invalidate,
            on_stored=self.processor.wake,
        )
        if settings.app.enabled:
            # Application mode's parts are imported only when it is on (it is off by default).
            from bot.events.offline import OfflineIntake
            from bot.install.robot import RobotEndpoint
            from bot.install.robot_calls import RobotCalls, RobotCallStore, telegram_group_title

            self.offline = OfflineIntake(
                self.portal,
                inbox,
                kv,
                active=self._installed,
                interval=settings.app.offline_poll_seconds,
                batch=settings.app.offline_batch,
                on_stored=self.processor.wake,
                on_catalog_changed=self.catalog.invalidate,
            )
            assert self.installation is not None
            self.robot_calls = RobotCalls(
                portal=self.portal,
                store=RobotCallStore(self.db),
                outbox=outbox,
                bindings=BindingRepository(self.db),
                subscriptions=subscriptions,
                translations=self.translations,
                links=links,
                group_title=telegram_group_title(self.sender_bot),
                names=self._speed_audience.names,
                on_queued=self.sender.wake,
            )
            self.robot = RobotEndpoint(
                installation=self.installation.get,
                calls=RobotCallStore(self.db),
                on_stored=self.robot_calls.wake,
            )
        self.poller = CatchUpPoller(
            self.portal,
            self.db,
            inbox,
            kv,
            snapshots,
            interval=settings.events.poll_interval_seconds,
            overlap=timedelta(seconds=settings.events.poll_overlap_seconds),
            on_stored=self.processor.wake,
            lane=catch_up_lane(settings),
        )

    async def _start_directory(self, directory: PortalDirectory) -> None:
        try:
            await directory.start()
        except PortalError as exc:
            raise ConfigurationError(
                f"The portal did not answer user.get ({exc.code or type(exc).__name__}): "
                "check PORTAL__WEBHOOK_URL and that the webhook has the user and crm scopes"
            ) from exc

    def _build_install(self, auth: OAuthAuth, kv: KeyValueRepository) -> None:
        """The install/uninstall endpoints (the offline intake follows with the workers)."""
        from bot.install.endpoints import InstallEndpoints, app_info_reader
        from bot.install.installation import InstallationStore
        from bot.install.robot import robot_registrar
        from bot.install.tab import lead_tab_binding

        settings = self.settings
        assert self.portal is not None
        assert settings.portal.oauth_endpoint is not None
        public = settings.app.public_url
        self.installation = InstallationStore(kv)
        self.install = InstallEndpoints(
            store=self.installation,
            auth=auth,
            portal=self.portal,
            read_app_info=app_info_reader(
                settings.portal.oauth_endpoint, settings.portal.timeout_seconds
            ),
            expected_member_id=settings.portal.member_id or None,
            uninstall_url=f"{public}{settings.app.uninstall_path}" if public else None,
            on_changed=self._wake_offline,
            placements=[lead_tab_binding(public, settings.app.tab_path)] if public else [],
            on_installed=(
                robot_registrar(self.portal, f"{public}{settings.app.robot_path}")
                if public
                else None
            ),
        )

    def _build_tab(
        self,
        bot_username: str,
        kv: KeyValueRepository,
        leads: LeadService,
        outbox: OutboxRepository,
        subscriptions: SubscriptionRepository,
    ) -> TabEndpoints:
        """The lead card's "Telegram" tab (application mode)."""
        from bot.tab.build import build_tab

        assert self.portal is not None
        assert self.access is not None
        assert self.installation is not None
        return build_tab(
            self.settings,
            db=self.db,
            kv=kv,
            portal=self.portal,
            access=self.access,
            audience=self._speed_audience,
            installation=self.installation,
            leads=leads,
            outbox=outbox,
            subscriptions=subscriptions,
            translations=self.translations,
            links=Links(bot_username=bot_username, portal_base=portal_base_url(self.settings)),
            chat_title=self._group_title,
            on_queued=self._wake_sender,
        )

    async def _group_title(self, chat_id: int) -> str | None:
        try:
            chat = await self.bot.get_chat(chat_id)
        except TelegramAPIError:
            return None
        return chat.title

    async def _installed(self) -> bool:
        installation = await self.installation.get() if self.installation else None
        return installation is not None and installation.installed

    def _wake_offline(self) -> None:
        if self.offline is not None:
            self.offline.wake()

    def _portal_limiter(self) -> PortalLimiter:
        portal = self.settings.portal
        if self.shared is not None:
            return self.shared.portal_limiter(
                drain_per_second=portal.rate_per_second, burst=portal.burst
            )
        return PortalLimiter(drain_per_second=portal.rate_per_second, burst=portal.burst)

    def _send_budget(self) -> SendBudget:
        if self.shared is not None:
            return self.shared.send_budget(self.settings.notify)
        return SendBudget(self.settings.notify)

    def _dialog_storage(self) -> tuple[BaseStorage, BaseEventIsolation | None]:
        """Where dialog state is kept, and what keeps one update per member at a time across
        replicas (None: within this process is enough)."""
        if self.shared is None:
            return SQLiteStorage(self.db), None
        ttl = timedelta(hours=self.settings.storage.dialog_ttl_hours)
        storage = self.shared.dialog_storage(ttl)
        return storage, storage.member_isolation()

    def _build_reminders(self, reminders: ReminderRepository, outbox: OutboxRepository) -> None:
        assert self.portal is not None
        assert self.sender is not None
        self.followup_sync = FollowUpSync(
            portal=self.portal,
            bindings=BindingRepository(self.db),
            reminders=reminders,
            clock=self.clock,
            interval=self.settings.events.poll_interval_seconds,
            on_changed=self._wake_reminders,
        )
        self.reminders = ReminderScheduler(
            reminders=reminders,
            outbox=outbox,
            hours=self.hours,
            bindings=BindingRepository(self.db),
            translations=self.translations,
            clock=self.clock,
            on_queued=self.sender.wake,
            open_todos=self.followup_sync.open_among,
            speed=self._clock_speed,
        )
        self.nudges = NudgeWorker(
            portal=self.portal,
            catalog=self.catalog,
            bindings=BindingRepository(self.db),
            hours=self.hours,
            kv=KeyValueRepository(self.db),
            outbox=outbox,
            translations=self.translations,
            on_queued=self.sender.wake,
            clock=self.clock,
        )

    async def _chat_zone(self, chat_id: int, thread_id: int | None) -> tzinfo:
        return (await self.hours.hours_of(chat_id, thread_id)).zone

    def _wake_reminders(self) -> None:
        if self.reminders is not None:
            self.reminders.wake()

    def _wake_sender(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    def _wake_escalations(self) -> None:
        if self.escalation_worker is not None:
            self.escalation_worker.wake()

    def _throttling(self) -> dict[str, list[BaseMiddleware]]:
        limits = self.settings.throttle
        general = BucketRule(limits.updates, limits.updates_per_seconds, limits.updates_burst)
        sign_in = BucketRule(limits.sign_in, limits.sign_in_per_seconds, limits.sign_in_burst)
        throttle = (
            UserThrottle(general=general, sign_in=sign_in)
            if self.shared is None
            else self.shared.user_throttle(general, sign_in)
        )
        observe = throttle_observer(self.metrics)
        return {
            "gates": [
                UpdateMetricsMiddleware(self.metrics),
                ThrottleMiddleware(throttle, self.translations, on_limited=observe),
            ],
            "after_identity": [
                ThrottleMiddleware(
                    throttle, self.translations, kind=UpdateKind.SIGN_IN, on_limited=observe
                ),
            ],
        }

    def _allowed_updates(self) -> list[str]:
        # Inline queries are always taken so that unbound users get the sign-in button.
        assert self.dispatcher is not None
        return sorted({*self.dispatcher.resolve_used_update_types(), "inline_query"})

    async def _set_commands(self) -> None:
        for language in self.translations.languages:
            descriptions = self.translations.for_language(language).command_descriptions()
            commands = [
                BotCommand(command=c, description=descriptions[c]) for c in AVAILABLE_COMMANDS
            ]
            code = None if language == DEFAULT_LANGUAGE else language
            try:
                await self.bot.set_my_commands(commands, language_code=code)
            except TelegramAPIError as exc:
                log.warning("setMyCommands failed for %s: %s", language, type(exc).__name__)

    async def _set_webhook(self) -> None:
        settings = self.settings.telegram
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        assert self.dispatcher is not None
        await self.bot.set_webhook(
            url=settings.webhook_url or "",
            secret_token=secret,
            allowed_updates=self._allowed_updates(),
        )

    def build_web_app(self) -> web.Application:
        """The bot's HTTP server (`bot.web`), wired to this application's parts."""
        assert self.readiness is not None
        readiness = self.readiness

        async def portal_event(request: web.Request) -> web.Response:
            if self.receiver is None:
                return web.json_response({"ok": False, "error": "starting"}, status=503)
            return await self.receiver.handle(request)

        telegram = self.settings.telegram
        webhook = None
        if telegram.webhook_url and telegram.webhook_secret is not None:
            assert self.intake is not None
            webhook = TelegramWebhook(
                self.intake, self.bot, telegram.webhook_secret.get_secret_value()
            )
        return build_web_app(
            self.settings,
            metrics=self.metrics,
            readiness=readiness.report,
            portal_event=portal_event,
            telegram_webhook=webhook,
            install=self.install,
            tab=self.tab,
            robot=self.robot,
        )

    async def _start_web(self) -> None:
        host, port = self.settings.web.host, self.settings.web.port
        runner = web.AppRunner(self.build_web_app(), handle_signals=False)
        try:
            self.port = await listen(runner, host, port)
        except OSError as exc:
            raise ConfigurationError(
                f"The web server cannot listen on {host}:{port} ({exc.strerror or exc}): "
                "set WEB__HOST and WEB__PORT"
            ) from exc
        self.web_runner = runner
        log.info("web server on port %s", self.port)

    @property
    def _processor_runs_here(self) -> bool:
        """The processor works on this replica now: on every replica when they share the
        queues, otherwise on the one that leads (or the only one)."""
        if self._queues_shared or self.leadership is None:
            return True
        return self.leadership.leading

    async def _refresh_directory(self, directory: PortalDirectory) -> None:
        try:
            await directory.complete()  # the users start() left for later, off the start path
        except PortalError as exc:
            log.warning("portal directory read failed: %s", exc.code)
        else:
            if self.processor is not None and self._processor_runs_here:
                # A task of its own: whatever befalls the build, the timed re-reads go on.
                self._tasks.append(asyncio.create_task(self.processor.prepare()))
        while True:
            await asyncio.sleep(DIRECTORY_REFRESH_SECONDS)
            try:
                await directory.refresh()
            except PortalError as exc:
                log.warning("portal directory refresh failed: %s", exc.code)

    async def stop(self) -> None:
        """Stop taking updates, let in-flight ones finish briefly, close every connection."""
        if self._unwatch_collector is not None:
            unwatch, self._unwatch_collector = self._unwatch_collector, None
            unwatch()
        if self._polling is not None:
            polling, self._polling = self._polling, None
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
        if self._in_flight is not None:
            try:
                async with asyncio.timeout(SHUTDOWN_GRACE_SECONDS):
                    await self._in_flight.wait_idle()
            except TimeoutError:
                log.warning("shutting down with updates still in flight")
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            done, stuck = await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in done:
                failure = None if task.cancelled() else task.exception()
                if failure is not None:
                    log.warning("background task %s had failed: %r", task.get_name(), failure)
            for task in stuck:
                log.warning("background task %s did not stop; leaving it", task.get_name())
        self._tasks.clear()
        if self.web_runner is not None:
            await self.web_runner.cleanup()
        if self.intake is not None:
            await self.intake.close()  # what is cut short stays stored and is replayed
        if self.dispatcher is not None and self._started_dispatcher:
            self._started_dispatcher = False
            await self.dispatcher.emit_shutdown(bot=self.bot, dispatcher=self.dispatcher)
        if self.tab is not None:
            await self.tab.aclose()
        if self.portal is not None:
            await self.portal.aclose()
        await asyncio.gather(self.bot.session.close(), self.sender_bot.session.close())
        if self.shared is not None:
            await self.shared.close()
        await self.db.close()


def _both(
    first: Callable[[str, int, bool], None], second: Callable[[str, int, bool], None]
) -> Callable[[str, int, bool], None]:
    """One portal request hook calling two (metrics and readiness)."""

    def observe(method: str, status: int, limited: bool) -> None:
        first(method, status, limited)
        second(method, status, limited)

    return observe


async def run(settings: Settings, allocator: Allocator | None = None) -> None:
    """Run the bot until SIGTERM or SIGINT; `allocator` gives freed memory back now and then."""
    configure_logging(settings.log_level, settings.log_format)
    app = Application(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    trimming: asyncio.Task[None] | None = None
    settling: asyncio.Task[None] | None = None
    try:
        await app.start()
        # What starting made (aiogram's types, schemas, the catalogue) stays for the whole run:
        # frozen, the collector stops walking it, so its full passes no longer pause the loop.
        # (`python -m bot` starts with the collector off: it is on from here.) What the first
        # minutes read (the team, the subscriptions) follows on `settle_forever`'s schedule.
        gc.freeze()
        gc.enable()
        settling = asyncio.create_task(settle_forever(settle_observer(app.metrics)))
        if allocator is not None:
            observe = trim_observer(app.metrics)
            observe(allocator.trim())  # what starting freed (parsed locales, dropped schemas)
            trimming = asyncio.create_task(trim_forever(allocator, observe))
        await stop.wait()
        log.info("stopping")
    finally:
        for task in (trimming, settling):
            if task is not None:
                task.cancel()
        await app.stop()
