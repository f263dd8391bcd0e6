"""Over TLS: the bot trusts the roots `SSL_CERT_FILE` names, for Telegram and the portal alike
(one context, `bot.tls`), and refuses a server that no trusted root vouches for."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import Application
from bot.config import PortalSettings, Settings, StorageSettings, TelegramSettings, WebSettings
from bot.portal import PortalClient, UnavailableError, WebhookAuth
from bot.portal.methods import GetCurrentUser
from bot.tls import client_tls
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, FAST_BACKOFF, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator


@dataclass(frozen=True)
class Certificates:
    """A test root and a certificate for 127.0.0.1 that it signed."""

    root: Path
    server: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """What the emulators serve TLS with."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server, self.key)
        return context


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    command = shutil.which("openssl")
    if command is None:
        pytest.skip("the openssl command, which makes the test root, is not installed")
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(  # noqa: S603 - the openssl found above, with fixed arguments
            [command, *args], cwd=folder, check=True, capture_output=True
        )

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "root.key", "-out", "root.pem", "-subj", "/CN=Test root",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=127.0.0.1",
    )  # fmt: skip
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "root.pem", "-CAkey", "root.key",
        "-CAcreateserial", "-days", "2", "-out", "server.pem", "-extfile", "server.ext",
    )  # fmt: skip
    return Certificates(folder / "root.pem", folder / "server.pem", folder / "server.key")


@pytest.fixture
def roots(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The shared context made afresh, from whatever the test puts in the environment."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    client_tls.cache_clear()
    yield monkeypatch
    client_tls.cache_clear()


async def test_the_bot_works_over_tls_with_the_root_ssl_cert_file_names(
    certificates: Certificates, roots: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    roots.setenv("SSL_CERT_FILE", str(certificates.root))
    telegram, portal = TelegramEmulator(DEFAULT_TEST_TOKEN), Bitrix24Emulator()
    await telegram.start(tls=certificates.server_context())
    await portal.start(tls=certificates.server_context())
    app = Application(
        Settings(
            _env_file=None,
            telegram=TelegramSettings(
                token=DEFAULT_TEST_TOKEN, api_base=telegram.base_url, admin_ids=[ADMIN_TELEGRAM_ID]
            ),
            portal=PortalSettings(webhook_url=portal.webhook_url, backoff_seconds=0.01),
            storage=StorageSettings(path=tmp_path / "bot.sqlite3"),
            web=WebSettings(host="127.0.0.1", port=0),
        ),
        polling_backoff=FAST_BACKOFF,
    )
    try:
        assert telegram.base_url.startswith("https://")
        assert portal.webhook_url.startswith("https://")
        await app.start()
        # Signing in reads the update over TLS, finds the phone among the portal's users over
        # TLS and answers over TLS.
        await sign_in(telegram, 2001, "Ivan", "+79161234567")
    finally:
        await app.stop()
        await portal.stop()
        await telegram.stop()


async def test_a_portal_no_trusted_root_vouches_for_is_refused(
    certificates: Certificates, roots: pytest.MonkeyPatch
) -> None:
    # No SSL_CERT_FILE: certifi's public roots, which never signed the test root.
    portal = Bitrix24Emulator()
    await portal.start(tls=certificates.server_context())
    client = PortalClient(auth=WebhookAuth(portal.webhook_url), max_retries=0)
    try:
        with pytest.raises(UnavailableError):
            await client(GetCurrentUser())
        assert portal.calls == []
    finally:
        await client.aclose()
        await portal.stop()
