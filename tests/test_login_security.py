"""Login without account-state leaks, a back-off a stranger cannot turn against the real user,
and attempt limits on the code and password checks of signed-in users (issue 8, defects 4 and 7).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pyotp
import pytest
from fastapi.testclient import TestClient
from psycopg import errors

from servanda.identity import passwords
from servanda.identity.auth_service import LoginThrottle
from tests.auth_helpers import bearer
from tests.conftest import APP

PASSWORD = "servanda-demo-passwort"
WRONG = "falsch-falsch-falsch"
LOGIN = "/api/v1/auth/login"
# Headers that differ between any two responses, whatever they answer.
VOLATILE_HEADERS = ("x-request-id", "date")


@contextmanager
def source(api: TestClient, address: str) -> Iterator[None]:
    """Send the requests inside from ``address`` (the peer address the API sees)."""
    transport: Any = api._transport  # the test client's only per-client address knob
    before = transport.client
    transport.client = (address, 50000)
    try:
        yield
    finally:
        transport.client = before


def add_user(su: psycopg.Connection, tenant: uuid.UUID, email: str, status: str = "active") -> uuid.UUID:
    row = su.execute(
        "INSERT INTO users (tenant_id, email, display_name, role, status, password_hash) "
        "VALUES (%s, %s, %s, 'admin', %s, %s) RETURNING id",
        (tenant, email, email.split("@")[0], status, passwords.hash_password(PASSWORD)),
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


@pytest.fixture
def world(su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]) -> dict[str, uuid.UUID]:
    firm = make_tenant("kanzlei-demo")
    resting = make_tenant("kanzlei-ruhend", status="suspended")
    return {
        "firm": firm,
        "resting": resting,
        "admin": add_user(su, firm, "admin@kanzlei-demo.de"),
        "disabled": add_user(su, firm, "weg@kanzlei-demo.de", status="disabled"),
        "resting_admin": add_user(su, resting, "admin@kanzlei-ruhend.de"),
    }


def login(
    api: TestClient,
    email: str = "admin@kanzlei-demo.de",
    password: str = PASSWORD,
    tenant: str = "kanzlei-demo",
) -> Any:
    return api.post(LOGIN, json={"tenant": tenant, "email": email, "password": password})


def shape(response: Any) -> tuple[int, bytes, dict[str, str]]:
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in VOLATILE_HEADERS}
    return response.status_code, response.content, headers


# Each failure cause as (tenant, e-mail, password); "locked" is an account a stranger hammered.
CAUSES: dict[str, tuple[str, str, str]] = {
    "unknown tenant": ("gibt-es-nicht", "admin@kanzlei-demo.de", PASSWORD),
    "suspended tenant": ("kanzlei-ruhend", "admin@kanzlei-ruhend.de", PASSWORD),
    "unknown e-mail": ("kanzlei-demo", "niemand@kanzlei-demo.de", PASSWORD),
    "wrong password": ("kanzlei-demo", "admin@kanzlei-demo.de", WRONG),
    "disabled user": ("kanzlei-demo", "weg@kanzlei-demo.de", PASSWORD),
    "locked account": ("kanzlei-demo", "admin@kanzlei-demo.de", WRONG + "!"),
}


def hammer(api: TestClient, address: str, times: int, **who: str) -> list[int]:
    with source(api, address):
        return [login(api, password=WRONG, **who).status_code for _ in range(times)]


class TestOneAnswer:
    def test_every_failure_cause_gives_byte_identical_answers(
        self, api: TestClient, world: dict[str, uuid.UUID]
    ) -> None:
        hammer(api, "203.0.113.66", 6)  # a stranger "locks" the admin from elsewhere
        answers = {}
        for i, (cause, (tenant, email, password)) in enumerate(CAUSES.items()):
            with source(api, f"198.51.100.{i + 1}"):
                answers[cause] = shape(login(api, email, password, tenant))
        reference = answers["wrong password"]
        assert reference[0] == 401
        assert b'"code":"auth.invalid_credentials"' in reference[1]
        for cause, answer in answers.items():
            assert answer == reference, cause

    def test_the_back_off_answer_does_not_tell_whether_the_account_exists(
        self, api: TestClient, world: dict[str, uuid.UUID]
    ) -> None:
        delayed = {}
        for who in (
            {"email": "admin@kanzlei-demo.de"},
            {"email": "niemand@kanzlei-demo.de"},
            {"tenant": "gibt-es-nicht", "email": "admin@kanzlei-demo.de"},
        ):
            assert hammer(api, "192.0.2.7", 5, **who) == [401] * 5
            with source(api, "192.0.2.7"):
                delayed[str(who)] = login(api, password=PASSWORD, **who)
        retry_after = {int(r.headers["Retry-After"]) for r in delayed.values()}
        assert retry_after <= {1, 2}, retry_after  # 2 s after the fifth failure
        shapes = {
            (s, body, tuple(sorted((k, v) for k, v in h.items() if k != "retry-after")))
            for s, body, h in map(shape, delayed.values())
        }
        assert len(shapes) == 1
        status, body, _ = next(iter(shapes))
        assert status == 429
        assert b'"code":"auth.rate_limited"' in body

    def test_failed_logins_take_comparable_time(self, api: TestClient, world: dict[str, uuid.UUID]) -> None:
        timings: dict[str, list[float]] = {c: [] for c in CAUSES if c != "locked account"}
        for round in range(10):
            for i, cause in enumerate(timings):
                tenant, email, password = CAUSES[cause]
                with source(api, f"10.{round}.{i}.1"):
                    started = time.perf_counter()
                    response = login(api, email, password, tenant)
                    timings[cause].append(time.perf_counter() - started)
                assert response.status_code == 401, cause
        medians = {cause: statistics.median(t) for cause, t in timings.items()}
        assert max(medians.values()) < 3 * min(medians.values()), medians

    def test_the_audit_log_records_the_real_reason(
        self, api: TestClient, world: dict[str, uuid.UUID], su: psycopg.Connection
    ) -> None:
        for i, cause in enumerate(CAUSES):
            if cause != "locked account":
                tenant, email, password = CAUSES[cause]
                with source(api, f"198.51.100.{i + 1}"):
                    login(api, email, password, tenant)
        rows = su.execute(
            "SELECT tenant_id, details->>'email', details->>'reason', host(ip_address) FROM audit_events "
            "WHERE action = 'user.login_failed' ORDER BY created_at"
        ).fetchall()
        firm, resting = world["firm"], world["resting"]
        assert [(r[0], r[1], r[2]) for r in rows] == [
            (resting, "admin@kanzlei-ruhend.de", "tenant.suspended"),
            (firm, "niemand@kanzlei-demo.de", "auth.unknown_user"),
            (firm, "admin@kanzlei-demo.de", "auth.wrong_password"),
            (firm, "weg@kanzlei-demo.de", "auth.user_disabled"),
        ]
        assert [r[3] for r in rows] == ["198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5"]


class TestBackOff:
    def test_a_stranger_cannot_lock_out_the_real_user(
        self, api: TestClient, world: dict[str, uuid.UUID], su: psycopg.Connection
    ) -> None:
        answers = hammer(api, "203.0.113.66", 6)
        assert answers == [401] * 5 + [429]  # the stranger is delayed after five failures ...
        # The first delay is 2 s; stretch it so the rest of the test does not race the clock on a
        # loaded machine (what is tested: every attempt inside the delay is refused unchecked).
        su.execute("UPDATE login_backoff SET blocked_until = now() + interval '60 seconds'")
        assert hammer(api, "203.0.113.66", 14) == [429] * 14
        with source(api, "198.51.100.20"):
            assert login(api).status_code == 200  # ... the real user is not
        with source(api, "203.0.113.66"):
            still = login(api)  # even the right password waits on the stranger's address
        assert (still.status_code, still.json()["code"]) == (429, "auth.rate_limited")
        reasons = su.execute(
            "SELECT details FROM audit_events WHERE action = 'user.login_failed' ORDER BY seq"
        ).fetchall()
        assert len(reasons) == 5  # refusals in back-off check nothing and are not audited
        assert reasons[-1][0]["backoffSeconds"] == 2

    def test_the_delay_doubles_up_to_fifteen_minutes_and_holds_across_processes(
        self, api: TestClient, world: dict[str, uuid.UUID], su: psycopg.Connection
    ) -> None:
        def expire() -> None:
            su.execute("UPDATE login_backoff SET blocked_until = now() - interval '1 second'")

        hammer(api, "203.0.113.9", 5)
        delays = []
        for _ in range(3):
            expire()
            api.app.state.local_auth.throttle = LoginThrottle()  # type: ignore[attr-defined]  # a new process
            assert hammer(api, "203.0.113.9", 1) == [401]
            with source(api, "203.0.113.9"):
                delays.append(int(login(api).headers["Retry-After"]))
        assert [d in (n - 1, n) for d, n in zip(delays, (4, 8, 16), strict=True)] == [True] * 3
        su.execute("UPDATE login_backoff SET failures = 40")
        expire()
        hammer(api, "203.0.113.9", 1)
        with source(api, "203.0.113.9"):
            assert int(login(api).headers["Retry-After"]) in (899, 900)

    def test_a_success_clears_the_count(
        self, api: TestClient, world: dict[str, uuid.UUID], su: psycopg.Connection
    ) -> None:
        hammer(api, "198.51.100.30", 4)
        with source(api, "198.51.100.30"):
            assert login(api).status_code == 200
        assert su.execute("SELECT count(*) FROM login_backoff").fetchone() == (0,)
        assert hammer(api, "198.51.100.30", 5) == [401] * 5

    def test_only_digests_are_stored_and_the_app_role_cannot_read_them(
        self, api: TestClient, world: dict[str, uuid.UUID], su: psycopg.Connection, connect_as: Any
    ) -> None:
        hammer(api, "198.51.100.31", 2)
        rows = su.execute("SELECT key, failures FROM login_backoff").fetchall()
        assert len(rows) == 1
        assert rows[0][1] == 2
        assert len(rows[0][0]) == 64 and "kanzlei" not in rows[0][0]
        conn = connect_as(APP)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM login_backoff")


def other_code(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    valid = {totp.at(time.time() + step) for step in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def attempts(su: psycopg.Connection, user: uuid.UUID) -> tuple[int, bool]:
    row = su.execute(
        "SELECT failed_check_count, failed_check_since IS NOT NULL FROM users WHERE id = %s", (user,)
    ).fetchone()
    assert row is not None
    return int(row[0]), bool(row[1])


def restart_window(su: psycopg.Connection, user: uuid.UUID) -> None:
    su.execute("UPDATE users SET failed_check_since = now() - interval '16 minutes' WHERE id = %s", (user,))


class TestAttemptLimits:
    def test_mfa_enable_allows_five_wrong_codes_then_waits(
        self, api: TestClient, world: dict[str, uuid.UUID], su: psycopg.Connection
    ) -> None:
        user = world["admin"]
        headers = bearer(api, su, world["firm"], user)
        secret = api.post("/api/v1/auth/mfa/setup", headers=headers).json()["secret"]
        enable = "/api/v1/auth/mfa/enable"
        for _ in range(4):
            assert api.post(enable, json={"code": other_code(secret)}, headers=headers).status_code == 422
        assert api.post(enable, json={"code": pyotp.TOTP(secret).now()}, headers=headers).status_code == 204
        disable = "/api/v1/auth/mfa/disable"  # the success reset the count: five more wrong codes
        for _ in range(5):
            wrong = api.post(disable, json={"code": other_code(secret)}, headers=headers)
            assert (wrong.status_code, wrong.json()["code"]) == (422, "auth.invalid_totp")
        blocked = api.post(disable, json={"code": pyotp.TOTP(secret).now()}, headers=headers)
        assert (blocked.status_code, blocked.json()["code"]) == (429, "auth.too_many_attempts")
        assert 0 < int(blocked.headers["Retry-After"]) <= 900
        assert su.execute("SELECT mfa_enabled FROM users WHERE id = %s", (user,)).fetchone() == (True,)
        assert attempts(su, user) == (5, True)  # counted in the database: every API process sees it
        events = su.execute(
            "SELECT details FROM audit_events WHERE action = 'user.verification_failed' ORDER BY seq"
        ).fetchall()
        assert [e[0]["check"] for e in events] == ["mfa.enable"] * 4 + ["mfa.disable"] * 5
        restart_window(su, user)
        assert api.post(disable, json={"code": pyotp.TOTP(secret).now()}, headers=headers).status_code == 204
        assert attempts(su, user) == (0, False)

    def test_mfa_enable_is_limited_too(
        self, api: TestClient, world: dict[str, uuid.UUID], su: psycopg.Connection
    ) -> None:
        headers = bearer(api, su, world["firm"], world["admin"])
        secret = api.post("/api/v1/auth/mfa/setup", headers=headers).json()["secret"]
        for _ in range(5):
            api.post("/api/v1/auth/mfa/enable", json={"code": other_code(secret)}, headers=headers)
        right = api.post("/api/v1/auth/mfa/enable", json={"code": pyotp.TOTP(secret).now()}, headers=headers)
        assert (right.status_code, right.json()["code"]) == (429, "auth.too_many_attempts")
        assert su.execute("SELECT mfa_enabled FROM users").fetchall() == [(False,)] * 3

    def test_password_change_checks_the_current_password_with_a_limit(
        self, api: TestClient, world: dict[str, uuid.UUID], su: psycopg.Connection
    ) -> None:
        user = world["admin"]
        headers = bearer(api, su, world["firm"], user)
        other_session = bearer(api, su, world["firm"], user)
        change = "/api/v1/auth/password"
        new = "ein-ganz-neues-passwort"
        weak = api.post(change, json={"currentPassword": PASSWORD, "newPassword": "kurz"}, headers=headers)
        assert (weak.status_code, weak.json()["code"]) == (422, "user.password_policy")
        for _ in range(5):
            wrong = api.post(change, json={"currentPassword": WRONG, "newPassword": new}, headers=headers)
            assert (wrong.status_code, wrong.json()["code"]) == (422, "auth.invalid_password")
            assert wrong.json()["errors"][0]["field"] == "currentPassword"
        blocked = api.post(change, json={"currentPassword": PASSWORD, "newPassword": new}, headers=headers)
        assert (blocked.status_code, blocked.json()["code"]) == (429, "auth.too_many_attempts")
        assert "Retry-After" in blocked.headers
        with source(api, "198.51.100.40"):
            assert login(api).status_code == 200  # unchanged
        restart_window(su, user)
        done = api.post(change, json={"currentPassword": PASSWORD, "newPassword": new}, headers=headers)
        assert done.status_code == 204, done.text
        assert attempts(su, user) == (0, False)
        with source(api, "198.51.100.41"):
            assert login(api).status_code == 401
            assert login(api, password=new).status_code == 200
        assert api.get("/api/v1/identity/me", headers=headers).status_code == 200
        ended = api.get("/api/v1/identity/me", headers=other_session)
        assert (ended.status_code, ended.json()["code"]) == (401, "auth.session_revoked")
        event = su.execute(
            "SELECT details FROM audit_events WHERE action = 'user.password_change'"
        ).fetchone()
        assert (
            event is not None and event[0]["sessionsEnded"] == 2
        )  # the other one and the 198.51.100.40 login
