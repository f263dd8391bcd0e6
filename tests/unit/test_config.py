"""Settings come from the environment with nested sections and stay secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from bot.__main__ import describe_validation_error
from bot.config import Settings, TelegramSettings


def test_nested_settings_come_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM__TOKEN", "123:abc")
    monkeypatch.setenv("PORTAL__WEBHOOK_URL", "https://example.bitrix24.com/rest/1/s3cr3t")
    monkeypatch.setenv("PORTAL__BURST", "250")
    monkeypatch.setenv("TELEGRAM__ADMIN_IDS", "[42, 43]")
    settings = Settings(_env_file=None)
    assert settings.telegram.admin_ids == [42, 43]
    assert settings.portal.burst == 250
    webhook = settings.portal.webhook_url
    assert webhook is not None
    assert webhook.get_secret_value() == "https://example.bitrix24.com/rest/1/s3cr3t/"
    assert "s3cr3t" not in repr(settings)
    assert "123:abc" not in repr(settings)


def test_malformed_portal_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL__WEBHOOK_URL", "example.bitrix24.com")
    with pytest.raises(ValidationError, match="PORTAL__WEBHOOK_URL"):
        Settings(_env_file=None)


def _setting_names(model: type[BaseModel], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _setting_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def test_env_example_documents_exactly_the_settings() -> None:
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    assert documented == _setting_names(Settings)


def test_empty_values_in_the_env_file_count_as_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "PORTAL__WEBHOOK_URL=https://example.bitrix24.com/rest/1/s3cr3t/\n"
        "PORTAL__OAUTH_ACCESS_TOKEN=\nWEB__PORT=\nTELEGRAM__WEBHOOK_URL=\nMETRICS__TOKEN=\n"
    )
    monkeypatch.setenv("PORTAL__BURST", "")
    settings = Settings(_env_file=env)
    assert settings.portal.oauth_access_token is None
    assert settings.portal.burst == 50
    assert settings.web.port == 8080
    assert settings.telegram.webhook_url is None


def test_web_server_listens_on_loopback_by_default() -> None:
    assert Settings(_env_file=None).web.host == "127.0.0.1"


@pytest.mark.parametrize("secret", [None, "", "x" * 31, "ü" * 32, "has space" * 4])
def test_webhook_url_needs_a_strong_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="TELEGRAM__WEBHOOK_SECRET must be 32 to 256"):
        TelegramSettings(webhook_url="https://bot.example.test/hook", webhook_secret=secret)


def test_a_strong_webhook_secret_is_accepted() -> None:
    secret = "A" * 32
    settings = TelegramSettings(webhook_url="https://bot.example.test/hook", webhook_secret=secret)
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == secret


@pytest.mark.parametrize(
    "url", ["localhost:6379", "http://redis:6379/0", "redis://redis:port/0", "redis://:6379/x"]
)
def test_malformed_redis_url_is_one_sentence_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("REDIS__URL", url)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    message = describe_validation_error(caught.value)
    assert message.startswith("Configuration error: REDIS__URL must look like redis://")
    assert "\n" not in message
    assert url not in message  # the URL may hold a password


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://:pw@redis.internal:6380/2", "unix:///run/r.sock"]
)
def test_redis_url_is_optional_and_secret(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    assert Settings(_env_file=None).redis.url is None
    monkeypatch.setenv("REDIS__URL", url)
    settings = Settings(_env_file=None)
    assert settings.redis.url is not None
    assert settings.redis.url.get_secret_value() == url
    assert "pw@" not in repr(settings)


def test_storage_url_chooses_postgres_and_keeps_its_password_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORAGE__URL", "postgresql://bot:pa55word@db.internal:5432/bot")
    settings = Settings(_env_file=None)
    assert settings.storage.postgres_url() == "postgresql://bot:pa55word@db.internal:5432/bot"
    assert "pa55word" not in repr(settings)


def test_no_storage_url_or_an_sqlite_one_means_the_sqlite_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(_env_file=None).storage.postgres_url() is None
    assert Settings(_env_file=None).storage.path == Path("data/bot.sqlite3")
    monkeypatch.setenv("STORAGE__URL", "sqlite:////var/lib/bot/bot.sqlite3")
    storage = Settings(_env_file=None).storage
    assert storage.postgres_url() is None
    assert storage.path == Path("/var/lib/bot/bot.sqlite3")


@pytest.mark.parametrize(
    "url",
    [
        "mysql://bot@db/bot",
        "data/bot.sqlite3",
        "postgresql://bot@db:port/bot",
        "postgresql://bot@db/my bot",
        "sqlite://",
    ],
)
def test_a_malformed_storage_url_is_one_sentence_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("STORAGE__URL", url)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    message = describe_validation_error(caught.value)
    assert message.startswith("Configuration error: STORAGE__URL must be postgresql://")
    assert message.count(". ") == 0
