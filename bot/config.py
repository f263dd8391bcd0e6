"""Application settings read from the environment and `.env` (see `.env.example`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

WEBHOOK_SECRET_MIN_LENGTH = 32
"""Shortest Telegram webhook secret accepted: 32 characters of A-Za-z0-9_- (192 bits)."""
_WEBHOOK_SECRET_CHARS = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


MISSING_TOKEN = "TELEGRAM__TOKEN is not set: put the token from @BotFather in .env"  # noqa: S105 (a message)


class ConfigurationError(RuntimeError):
    """A setting is missing or wrong; the message names it in one sentence."""


class TelegramSettings(BaseModel):
    """How the bot reaches Telegram."""

    token: SecretStr = SecretStr("")
    api_base: str = "https://api.telegram.org"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    # NoDecode: the JSON is parsed below, so a malformed list gets a sentence naming the setting
    # instead of pydantic-settings' "error parsing value for field telegram".
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    update_claim_seconds: float = Field(default=8.0, ge=4.0)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids_json(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in parsed
        ):
            raise ValueError(
                "TELEGRAM__ADMIN_IDS must be a JSON list of Telegram user ids, e.g. [123456789]"
            )
        return parsed

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> TelegramSettings:
        if not self.webhook_url:
            return self
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if len(secret) < WEBHOOK_SECRET_MIN_LENGTH or not _WEBHOOK_SECRET_CHARS.match(secret):
            raise ValueError(
                "TELEGRAM__WEBHOOK_SECRET must be 32 to 256 characters of A-Z, a-z, 0-9, _ and - "
                'when TELEGRAM__WEBHOOK_URL is set (make one with: python3 -c "import secrets; '
                'print(secrets.token_urlsafe(32))")'
            )
        return self


class PortalSettings(BaseModel):
    """How the bot reaches the Bitrix24 portal and how hard it may push it."""

    webhook_url: SecretStr | None = None
    oauth_endpoint: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_access_token: SecretStr | None = None
    oauth_refresh_token: SecretStr | None = None
    oauth_token_url: str = "https://oauth.bitrix.info/oauth/token/"  # noqa: S105 - a URL
    rate_per_second: float = Field(default=2.0, gt=0)
    burst: int = Field(default=50, ge=1)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    backoff_seconds: float = Field(default=0.5, gt=0)
    application_token: SecretStr | None = None
    member_id: str | None = None
    domain: str | None = None

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        url = value.get_secret_value()
        if not url.startswith(("https://", "http://")) or "/rest/" not in url:
            raise ValueError(
                "PORTAL__WEBHOOK_URL must look like https://<portal>/rest/<user id>/<secret>/"
            )
        return SecretStr(url if url.endswith("/") else url + "/")

    @model_validator(mode="after")
    def _oauth_complete(self) -> PortalSettings:
        if self.oauth_access_token is not None and not self.oauth_endpoint:
            raise ValueError("PORTAL__OAUTH_ENDPOINT is required with PORTAL__OAUTH_ACCESS_TOKEN")
        return self


POSTGRES_SCHEMES = ("postgresql", "postgres")


def _storage_url_ok(url: str) -> bool:
    if any(char.isspace() for char in url):
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        return False
    if parts.scheme in POSTGRES_SCHEMES:
        return True
    return parts.scheme == "sqlite" and not parts.netloc and bool(parts.path.strip("/"))


class StorageSettings(BaseModel):
    """Where the bot keeps its state: an SQLite file (the default) or a PostgreSQL database."""

    path: Path = Path("data/bot.sqlite3")
    # Secret: a PostgreSQL URL may carry a password.
    url: SecretStr | None = None
    # Dialog state holds rendered cards, phones and search results: forget it once idle.
    dialog_ttl_hours: float = Field(default=72.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        url = value.get_secret_value().strip()
        if not _storage_url_ok(url):
            raise ValueError(
                "STORAGE__URL must be postgresql://user:password@host:5432/database or "
                "sqlite:///path/to/bot.sqlite3 (leave it empty to use STORAGE__PATH)"
            )
        return SecretStr(url)

    @model_validator(mode="after")
    def _sqlite_url_is_a_path(self) -> StorageSettings:
        if self.url is not None and urlsplit(self.url.get_secret_value()).scheme == "sqlite":
            # sqlite:///data/bot.sqlite3 is relative, sqlite:////var/bot.sqlite3 absolute.
            self.path = Path(urlsplit(self.url.get_secret_value()).path[1:])
            self.url = None
        return self

    def postgres_url(self) -> str | None:
        """The PostgreSQL database to use, or None for the SQLite file at `path`."""
        return None if self.url is None else self.url.get_secret_value()


class WebSettings(BaseModel):
    """The bot's own HTTP server (health check, portal events, Telegram webhook)."""

    # Loopback by default: a reverse proxy on the same host publishes the public paths;
    # containers set 0.0.0.0 explicitly.
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    event_path: str = "/bitrix/events"
    ready_check_seconds: float = Field(default=30.0, ge=0)
    ready_queue_age_seconds: float = Field(default=300.0, gt=0)


class EventsSettings(BaseModel):
    """Intake of portal events: the receiver's limits, the catch-up poller, the processor."""

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    poll_interval_seconds: float = Field(default=30.0, gt=0)
    poll_overlap_seconds: float = Field(default=30.0, ge=0)
    coalesce_seconds: float = Field(default=0.3, ge=0)
    echo_window_seconds: float = Field(default=120.0, ge=0)
    retry_seconds: float = Field(default=5.0, gt=0)


class RetentionSettings(BaseModel):
    """How long processed events, sent notifications, bot actions, lead claims and the ids of
    handled Telegram updates are kept."""

    inbox_days: float = Field(default=7.0, gt=0)
    outbox_days: float = Field(default=14.0, gt=0)
    bot_actions_days: float = Field(default=30.0, gt=0)
    lead_claims_days: float = Field(default=30.0, gt=0)
    telegram_updates_days: float = Field(default=7.0, gt=0)
    interval_seconds: float = Field(default=600.0, gt=0)
    chunk_rows: int = Field(default=200, ge=1)


class NotifySettings(BaseModel):
    """Delivery of notifications under Telegram's flood limits."""

    global_per_second: float = Field(default=28.0, gt=0)
    global_burst: int = Field(default=5, ge=1)
    private_interval_seconds: float = Field(default=1.0, ge=0)
    group_per_minute: int = Field(default=20, ge=1)
    in_flight: int = Field(default=16, ge=1)
    max_attempts: int = Field(default=6, ge=1)
    backoff_seconds: float = Field(default=1.0, gt=0)
    backoff_cap_seconds: float = Field(default=300.0, gt=0)


class ThrottleSettings(BaseModel):
    """Per-user limits on updates: every update, and sign-in tries (contacts, invite links)."""

    updates: float = Field(default=30.0, gt=0)
    updates_per_seconds: float = Field(default=10.0, gt=0)
    updates_burst: int = Field(default=60, ge=1)
    sign_in: float = Field(default=5.0, gt=0)
    sign_in_per_seconds: float = Field(default=600.0, gt=0)
    sign_in_burst: int = Field(default=5, ge=1)


class MetricsSettings(BaseModel):
    """The Prometheus text endpoint of the web server.

    Served only with a token, or without one while the web server listens on loopback only.
    """

    enabled: bool = True
    path: str = "/metrics"
    token: SecretStr | None = None

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("METRICS__PATH must start with /")
        return value


REDIS_URL_SCHEMES = ("redis://", "rediss://", "unix://")


class RedisSettings(BaseModel):
    """Redis shared by several replicas of the bot (dialog state, request budgets, pauses).

    Without a URL the bot keeps all of it in its own process and SQLite file, as one replica.
    """

    url: SecretStr | None = None
    key_prefix: str = Field(default="b24bot:", min_length=1)

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        url = value.get_secret_value()
        try:
            parsed = urlsplit(url)
            port = parsed.port
        except ValueError:
            parsed, port = None, None
        shaped = (
            parsed is not None
            and url.startswith(REDIS_URL_SCHEMES)
            and (bool(parsed.hostname) if parsed.scheme != "unix" else bool(parsed.path))
            and (port is None or port > 0)
            and (
                parsed.scheme == "unix"
                or parsed.path.strip("/").isdigit()
                or not parsed.path.strip("/")
            )
        )
        if not shaped:
            raise ValueError(
                "REDIS__URL must look like redis://<host>:6379/0 (rediss:// for TLS, "
                "unix:///path/to/redis.sock for a socket)"
            )
        return value


class AppSettings(BaseModel):
    """The bot as a Bitrix24 local application: install callback and offline events.

    The OAuth client id and secret are PORTAL__OAUTH_CLIENT_ID / PORTAL__OAUTH_CLIENT_SECRET,
    the portal's REST address PORTAL__OAUTH_ENDPOINT; the tokens arrive with the installation.
    """

    enabled: bool = False
    public_url: str | None = None
    """Where the portal reaches this bot (for the uninstall event); no trailing path."""
    install_path: str = "/bitrix/app/install"
    uninstall_path: str = "/bitrix/app/uninstall"
    tab_path: str = "/bitrix/app/lead-tab"
    """The "Telegram" tab of the lead card (placement CRM_LEAD_DETAIL_TAB); its actions
    are `<tab path>/ping` and `<tab path>/group`."""
    # ONOFFLINEEVENT's documented minimum notification interval (minTimeout) is 1 second.
    offline_poll_seconds: float = Field(default=1.0, gt=0)
    offline_batch: int = Field(default=50, ge=1, le=1000)
    auth_connector: str = Field(default="telegram_bot", pattern=r"^[A-Za-z0-9_.-]{0,64}$")
    """The source key of the bot's own CRM writes, so they come back through the offline
    queue (read without a key); empty: no key, and the portal does not queue them for us."""
    robot_path: str = "/b24/robot"
    """Where the portal calls the "Send to Telegram" automation rule."""

    @field_validator("public_url")
    @classmethod
    def _public_url_shape(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            parts = urlsplit(value)
            _ = parts.port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(
                "APP__PUBLIC_URL must look like https://bot.example.com (the address the "
                "portal reaches this bot at)"
            )
        return value.rstrip("/")

    @field_validator("install_path", "uninstall_path", "tab_path", "robot_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(
                "APP__INSTALL_PATH, APP__UNINSTALL_PATH, APP__TAB_PATH and APP__ROBOT_PATH "
                "must start with /"
            )
        return value


class Settings(BaseSettings):
    """Every setting of the bot; nested sections use `__` in environment names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        # `SETTING=` in .env (as .env.example has it) means "not set", nested ones included.
        env_ignore_empty=True,
        extra="ignore",
    )

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    portal: PortalSettings = Field(default_factory=PortalSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    events: EventsSettings = Field(default_factory=EventsSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    throttle: ThrottleSettings = Field(default_factory=ThrottleSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    app: AppSettings = Field(default_factory=AppSettings)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    default_phone_region: str = "RU"
    timezone: str = "UTC"
    """IANA name of the time zone that reports count days in (e.g. Europe/Moscow)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"TIMEZONE {value!r} is not a known time zone: use an IANA name such as "
                "Europe/Moscow or UTC"
            ) from None
        return value

    @model_validator(mode="after")
    def _application_mode_complete(self) -> Settings:
        if not self.app.enabled:
            return self
        portal = self.portal
        if portal.webhook_url is not None:
            raise ValueError(
                "APP__ENABLED=true works with the application's OAuth tokens: leave "
                "PORTAL__WEBHOOK_URL empty"
            )
        for name, value in (
            ("PORTAL__OAUTH_ENDPOINT", portal.oauth_endpoint),
            ("PORTAL__OAUTH_CLIENT_ID", portal.oauth_client_id),
            ("PORTAL__OAUTH_CLIENT_SECRET", portal.oauth_client_secret),
        ):
            if not value or (isinstance(value, SecretStr) and not value.get_secret_value()):
                raise ValueError(
                    f"{name} is required with APP__ENABLED=true (see the local application's "
                    "form in the portal)"
                )
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The time zone reports count days in."""
        return ZoneInfo(self.timezone)
