"""The operator CLI, run as a real process against the test database (and its own embedded one for `up`)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from tests.conftest import DbUnderTest


def servanda(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "servanda", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def create_user(
    tenant: str, email: str, role: str, password: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    arguments = ["--tenant", tenant, "--email", email, "--role", role, "--password", password]
    return servanda("user", "create", *arguments, env=env)


@pytest.fixture
def db_env(clean_db: DbUnderTest) -> dict[str, str]:
    return {"DATABASE_URL": clean_db.app, "DATABASE_ADMIN_URL": clean_db.owner}


def test_tenant_lifecycle_is_audited(db_env: dict[str, str], su: psycopg.Connection) -> None:
    created = servanda(
        "tenant",
        "create",
        "--slug",
        "kanzlei-nord",
        "--name",
        "Kanzlei Nord",
        "--type",
        "lawfirm",
        env=db_env,
    )
    assert created.returncode == 0, created.stderr
    assert "created tenant kanzlei-nord" in created.stdout
    assert (
        servanda("tenant", "suspend", "kanzlei-nord", env=db_env).stdout.strip()
        == "tenant kanzlei-nord is suspended"
    )
    listed = servanda("tenant", "list", env=db_env).stdout
    assert "kanzlei-nord" in listed and "suspended" in listed
    assert (
        servanda("tenant", "activate", "kanzlei-nord", env=db_env).stdout.strip()
        == "tenant kanzlei-nord is active"
    )
    actions = [r[0] for r in su.execute("SELECT action FROM audit_events ORDER BY created_at").fetchall()]
    assert actions == ["tenant.create", "tenant.suspend", "tenant.activate"]

    duplicate = servanda(
        "tenant", "create", "--slug", "kanzlei-nord", "--name", "X", "--type", "lawfirm", env=db_env
    )
    assert duplicate.returncode == 1
    assert "[tenant.slug_taken]" in duplicate.stderr
    bad = servanda(
        "tenant", "create", "--slug", "Nicht Gültig", "--name", "X", "--type", "lawfirm", env=db_env
    )
    assert bad.returncode == 1
    assert "[request.validation_failed]" in bad.stderr
    assert su.execute("SELECT count(*) FROM tenants").fetchone() == (1,)


def test_user_create_hashes_with_argon2id_and_applies_the_password_policy(
    db_env: dict[str, str], su: psycopg.Connection
) -> None:
    su.execute("INSERT INTO tenants (slug, name, type) VALUES ('kanzlei-demo', 'Kanzlei Demo', 'lawfirm')")
    weak = create_user("kanzlei-demo", "a@kanzlei.de", "admin", "kurz", db_env)
    assert weak.returncode == 1
    assert "[user.password_policy]" in weak.stderr
    assert su.execute("SELECT count(*) FROM users").fetchone() == (0,)
    ok = create_user("kanzlei-demo", "Anwalt@Kanzlei.de", "user", "servanda-demo", db_env)
    assert ok.returncode == 0, ok.stderr
    row = su.execute("SELECT email, role, status, password_hash FROM users").fetchone()
    assert row is not None
    assert row[:3] == ("Anwalt@Kanzlei.de", "user", "active")
    assert row[3].startswith("$argon2id$")
    again = create_user("kanzlei-demo", "anwalt@kanzlei.de", "user", "servanda-demo", db_env)
    assert again.returncode == 1
    assert "[user.email_taken]" in again.stderr
    unknown = create_user("gibt-es-nicht", "x@y.de", "user", "servanda-demo", db_env)
    assert unknown.returncode == 1
    assert "[tenant.not_found]" in unknown.stderr


def test_user_create_sso_makes_an_invited_user_that_the_first_oidc_sign_in_links(
    db_env: dict[str, str], su: psycopg.Connection
) -> None:
    su.execute("INSERT INTO tenants (slug, name, type) VALUES ('kanzlei-sso', 'Kanzlei SSO', 'lawfirm')")
    base = ["user", "create", "--tenant", "kanzlei-sso", "--email", "chefin@kanzlei.de", "--role", "admin"]
    neither = servanda(*base, env=db_env)
    both = servanda(*base, "--sso", "--password", "servanda-demo", env=db_env)
    assert neither.returncode == both.returncode == 2
    assert "either --password" in neither.stderr and "either --password" in both.stderr
    assert su.execute("SELECT count(*) FROM users").fetchone() == (0,)
    created = servanda(*base, "--sso", env=db_env)
    assert created.returncode == 0, created.stderr
    assert "created invited user chefin@kanzlei.de (admin)" in created.stdout
    # Exactly the row the first OIDC sign-in binds (identity/principal.py _link_first_oidc_login):
    # invited, no subject yet, and no password anyone could sign in with locally.
    row = su.execute("SELECT status, password_hash, external_subject FROM users").fetchone()
    assert row == ("invited", None, None)


def test_check_rls_is_a_gate(db_env: dict[str, str], su: psycopg.Connection) -> None:
    passed = servanda("db", "check-rls", env=db_env)
    assert passed.returncode == 0, passed.stderr
    su.execute("CREATE TABLE notes (id int, tenant_id uuid)")
    try:
        failed = servanda("db", "check-rls", env=db_env)
        assert failed.returncode == 1
        assert "table notes: row-level security is not FORCEd" in failed.stderr
    finally:
        su.execute("DROP TABLE notes")


def test_migrate_needs_the_owner_role(db_env: dict[str, str]) -> None:
    migrated = servanda("migrate", env=db_env)
    assert migrated.returncode == 0, migrated.stderr
    assert "RLS coverage gate passed" in migrated.stdout
    without_owner = servanda(
        "migrate", env={"DATABASE_URL": db_env["DATABASE_URL"], "DATABASE_ADMIN_URL": ""}
    )
    assert without_owner.returncode == 2
    assert "DATABASE_ADMIN_URL" in without_owner.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postmasters(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(cmdline):
            found.append(proc)
    return found


def test_up_serves_embedded_defaults_and_shares_its_database(tmp_path: Path) -> None:
    port = _free_port()
    data_dir = tmp_path / "data"
    env = {**os.environ, "SERVANDA_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "servanda", "up", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "servanda up did not become ready"
            time.sleep(0.3)
        assert httpx.get(f"http://127.0.0.1:{port}/health/startup").json() == {"status": "started"}
        # An idle keep-alive connection outlives uvicorn's default 5 s (cli._serve): the second
        # request goes over the same socket (http.client does not reconnect a closed one).
        keep_alive = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        keep_alive.request("GET", "/health/live")
        keep_alive.getresponse().read()
        socket_before = keep_alive.sock
        time.sleep(7)
        keep_alive.request("GET", "/health/live")
        assert keep_alive.getresponse().status == 200
        assert keep_alive.sock is socket_before
        keep_alive.close()
        pgdata = (data_dir / "pg").resolve()
        assert len(_postmasters(pgdata)) == 1

        created = servanda(
            "tenant",
            "create",
            "--slug",
            "kanzlei-sued",
            "--name",
            "Süd",
            "--type",
            "lawfirm",
            "--data-dir",
            str(data_dir),
            env={"SERVANDA_DATA_DIR": ""},
        )
        assert created.returncode == 0, created.stderr
        assert len(_postmasters(pgdata)) == 1, "the CLI must join the running embedded server"
        assert "servanda_active_tenants_total 4.0" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"tenant": "kanzlei-demo", "email": "anwalt@kanzlei-demo.de", "password": "servanda-demo"},
        )
        assert login.status_code == 200, login.text
        catalog = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/catalog/templates",
            headers={"Authorization": f"Bearer {login.json()['accessToken']}"},
        ).json()
        assert catalog["total"] == 3, catalog  # the shipped packs, published in verlag-demo
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output
    for line in (
        "verlag-demo    pruefer@verlag-demo.de",
        "kanzlei-nord   redakteur@kanzlei-nord.de",
        "demo content published in verlag-demo: arbeitsvertrag.json",
    ):
        assert line in output
    assert _postmasters(pgdata) == [], "the embedded server stops with the last process using it"
