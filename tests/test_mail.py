"""E-mail through a real SMTP server process: invitations, password reset, the dev mailbox of `up`.

The SMTP server is aiosmtpd started as a separate process (its Maildir handler);
the API sends to it exactly as it would to the firm's mail server.
"""

from __future__ import annotations

import mailbox
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.identity import passwords
from servanda.identity.auth_service import PASSWORD_RESET_MIN_S
from servanda.platform.config import load_settings
from tests.conftest import DbUnderTest

PASSWORD = "servanda-demo"
NEW_PASSWORD = "ein-neues-passwort-2026"
BASE = "https://servanda.example"
RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Smtp:
    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory

    def messages(self) -> list[Message]:
        return list(mailbox.Maildir(self.directory, create=False).values())

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Message]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.messages()
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} mails, got {len(self.messages())}")


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Smtp]:
    """aiosmtpd in its own process, storing every message in a Maildir."""
    port = _free_port()
    directory = tmp_path / "maildir"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("aiosmtpd did not start") from None
                time.sleep(0.05)
        yield Smtp(port, directory)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _app_client(clean_db: DbUnderTest, tmp_path: Path, smtp_port: int) -> Iterator[TestClient]:
    from servanda.app import create_app

    settings = load_settings(
        servanda_env="test",
        servanda_data_dir=tmp_path / "data",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_starttls=False,
        mail_from="Servanda Office <no-reply@servanda.example>",
        public_base_url=BASE,
    )
    with TestClient(create_app(settings, clean_db.app), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def mail_api(clean_db: DbUnderTest, tmp_path: Path, smtp: Smtp) -> Iterator[TestClient]:
    yield from _app_client(clean_db, tmp_path, smtp.port)


@pytest.fixture
def firm(su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]) -> uuid.UUID:
    tenant = make_tenant("kanzlei-demo")
    su.execute(
        "INSERT INTO users (tenant_id, email, display_name, role, status, password_hash) "
        "VALUES (%s, 'admin@kanzlei-demo.de', 'Anna Admin', 'admin', 'active', %s)",
        (tenant, passwords.hash_password(PASSWORD)),
    )
    return tenant


def login(api: TestClient, password: str = PASSWORD, email: str = "admin@kanzlei-demo.de"):  # type: ignore[no-untyped-def]
    return api.post(
        "/api/v1/auth/login", json={"tenant": "kanzlei-demo", "email": email, "password": password}
    )


def subject(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


def link_in(message: Message, path: str) -> str:
    lines = [line.strip() for line in text_of(message).splitlines() if line.strip().startswith(BASE + path)]
    assert len(lines) == 1, text_of(message)
    return lines[0]


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def actions(su: psycopg.Connection) -> list[str]:
    return [r[0] for r in su.execute("SELECT action FROM audit_events ORDER BY seq").fetchall()]


def test_invitation_goes_out_by_mail_with_a_working_link(
    mail_api: TestClient, smtp: Smtp, firm: uuid.UUID
) -> None:
    tokens = login(mail_api).json()
    invited = mail_api.post(
        "/api/v1/identity/users",
        json={"email": "neu@kanzlei-demo.de", "displayName": "Nina Neu", "role": "user"},
        headers={"Authorization": f"Bearer {tokens['accessToken']}"},
    )
    assert invited.status_code == 201, invited.text
    body = invited.json()
    (message,) = smtp.wait_for(1)
    assert message["To"] == "neu@kanzlei-demo.de"
    assert message["From"] == "Servanda Office <no-reply@servanda.example>"
    assert subject(message) == "Einladung zu Servanda Office"
    assert "Anna Admin hat Sie zu Servanda Office eingeladen" in text_of(message)
    link = link_in(message, "/einladung?token=")
    assert token_of(link) == body["inviteToken"]  # the response keeps the token too
    accepted = mail_api.post(
        "/api/v1/auth/accept-invite",
        json={"token": token_of(link), "password": NEW_PASSWORD, "displayName": "Nina Neu"},
    )
    assert accepted.status_code == 200, accepted.text


def test_password_reset_flow_ends_all_sessions_and_spends_the_link(
    mail_api: TestClient, smtp: Smtp, firm: uuid.UUID, su: psycopg.Connection
) -> None:
    first = login(mail_api).json()
    second = login(mail_api).json()

    requested = mail_api.post(RESET, json={"tenant": "kanzlei-demo", "email": "Admin@Kanzlei-Demo.de"})
    assert requested.status_code == 202, requested.text
    (message,) = smtp.wait_for(1)
    assert message["To"] == "admin@kanzlei-demo.de"
    assert subject(message) == "Servanda Office: Passwort zurücksetzen"
    token = token_of(link_in(message, "/passwort-zuruecksetzen?token="))
    assert token.startswith("pwr.")
    stored = su.execute("SELECT token_hash, expires_at - created_at FROM password_resets").fetchall()
    assert len(stored) == 1 and token not in stored[0][0]  # only the digest is stored
    assert stored[0][1].total_seconds() == pytest.approx(3600, abs=5)

    weak = mail_api.post(CONFIRM, json={"token": token, "password": "kurz"})
    assert weak.status_code == 422 and weak.json()["code"] == "user.password_policy"

    confirmed = mail_api.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
    assert confirmed.status_code == 204, confirmed.text

    for old in (first, second):
        me = mail_api.get("/api/v1/identity/me", headers={"Authorization": f"Bearer {old['accessToken']}"})
        assert me.status_code == 401
        refreshed = mail_api.post("/api/v1/auth/refresh", json={"refreshToken": old["refreshToken"]})
        assert refreshed.status_code == 401
    assert login(mail_api).status_code == 401
    assert login(mail_api, NEW_PASSWORD).status_code == 200

    again = mail_api.post(CONFIRM, json={"token": token, "password": "noch-ein-passwort-2026"})
    assert again.status_code == 400
    assert again.json()["code"] == "auth.reset_token_used"
    assert login(mail_api, NEW_PASSWORD).status_code == 200  # the spent link changed nothing

    trail = actions(su)
    assert "user.password_reset_requested" in trail
    assert "user.password_reset" in trail
    details = su.execute("SELECT details FROM audit_events WHERE action = 'user.password_reset'").fetchone()
    assert details is not None and details[0]["sessionsEnded"] == 2


def test_unknown_account_gets_the_same_answer_and_no_mail(
    mail_api: TestClient, smtp: Smtp, firm: uuid.UUID, su: psycopg.Connection
) -> None:
    answers = []
    for tenant, email in [
        ("kanzlei-demo", "niemand@kanzlei-demo.de"),
        ("gibt-es-nicht", "admin@kanzlei-demo.de"),
        ("kanzlei-demo", "admin@kanzlei-demo.de"),
        # a second request within the minute: same answer, no second mail
        ("kanzlei-demo", "admin@kanzlei-demo.de"),
    ]:
        started = time.monotonic()
        answers.append(mail_api.post(RESET, json={"tenant": tenant, "email": email}))
        # every outcome takes at least the floor, so the time does not tell a hit from a miss
        assert time.monotonic() - started >= PASSWORD_RESET_MIN_S
    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1
    time.sleep(1.0)  # give any wrongly sent mail time to arrive
    messages = smtp.wait_for(1)
    assert [m["To"] for m in messages] == ["admin@kanzlei-demo.de"]
    assert su.execute("SELECT count(*) FROM password_resets").fetchone() == (1,)


def test_invalid_and_expired_links_are_refused(
    mail_api: TestClient, smtp: Smtp, firm: uuid.UUID, su: psycopg.Connection
) -> None:
    for token in ("kein-token-ueberhaupt", f"pwr.{firm}.erfunden-und-falsch", f"inv.{firm}.x-y-z-abc"):
        refused = mail_api.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
        assert refused.status_code == 400 and refused.json()["code"] == "auth.invalid_reset_token"
    assert (
        mail_api.post(RESET, json={"tenant": "kanzlei-demo", "email": "admin@kanzlei-demo.de"}).status_code
        == 202
    )
    token = token_of(link_in(smtp.wait_for(1)[0], "/passwort-zuruecksetzen?token="))
    su.execute("UPDATE password_resets SET expires_at = now() - interval '1 second'")
    expired = mail_api.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
    assert expired.status_code == 400 and expired.json()["code"] == "auth.reset_token_expired"
    assert login(mail_api).status_code == 200  # the old password still works


def test_reset_requests_are_throttled_per_source(mail_api: TestClient, smtp: Smtp, firm: uuid.UUID) -> None:
    body = {"tenant": "kanzlei-demo", "email": "niemand@kanzlei-demo.de"}
    statuses = [mail_api.post(RESET, json=body).status_code for _ in range(11)]
    assert statuses[:10] == [202] * 10
    assert statuses[10] == 429
    refused = mail_api.post(RESET, json=body)
    assert refused.json()["code"] == "auth.rate_limited" and "retry-after" in refused.headers


def test_an_unreachable_mail_server_does_not_fail_the_invitation(
    clean_db: DbUnderTest, tmp_path: Path, firm: uuid.UUID
) -> None:
    for api in _app_client(clean_db, tmp_path, _free_port()):  # nothing listens there
        tokens = login(api).json()
        invited = api.post(
            "/api/v1/identity/users",
            json={"email": "neu@kanzlei-demo.de", "displayName": "Nina Neu", "role": "user"},
            headers={"Authorization": f"Bearer {tokens['accessToken']}"},
        )
        assert invited.status_code == 201, invited.text
        assert invited.json()["inviteLink"].startswith(f"{BASE}/einladung?token=")


def test_up_runs_a_development_mailbox_that_writes_eml_files(tmp_path: Path) -> None:
    import asyncio

    from servanda.cli import dev_mail
    from servanda.platform.mail import Mail, mailer_from_settings

    settings = load_settings(servanda_env="development", servanda_data_dir=tmp_path / "data")
    assert settings.smtp_host is None
    with dev_mail(settings) as effective:
        assert effective.smtp_host == "127.0.0.1" and effective.smtp_port != settings.smtp_port
        mail = Mail("neu@kanzlei-demo.de", "Einladung zu Servanda Office", "Guten Tag,\n\nLink\n")
        asyncio.run(mailer_from_settings(effective).send(mail))
    files = sorted((tmp_path / "data" / "mail").glob("*.eml"))
    assert len(files) == 1
    written = files[0].read_text()
    assert "To: neu@kanzlei-demo.de" in written and "Subject: Einladung zu Servanda Office" in written

    configured = load_settings(servanda_env="development", smtp_host="mail.example", smtp_port=25)
    with dev_mail(configured) as effective:
        assert effective is configured  # a configured server is used as it is
