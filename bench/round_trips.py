"""Database round trips per request on the hot paths: `me`, a catalog page, an autosave.

Counts, inside the API process, every statement sent to PostgreSQL plus every
BEGIN, COMMIT and ROLLBACK, per request. Runs the app in-process on a fresh
embedded database; content is loaded with the real CLI, users and sessions
with SQL, so only the HTTP interface of the API is relied on.

    .venv/bin/python -m bench.round_trips
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import event

from bench.common import bench_database, write_results
from servanda.app import create_app
from servanda.platform.config import load_settings
from servanda.platform.tokens import LocalTokens

ROOT = Path(__file__).resolve().parent.parent
REPEAT = 20


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []

    def attach(self, engine: Any) -> None:
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def _statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            self.count += 1
            self.statements.append(" ".join(statement.split())[:90])

        for name in ("begin", "commit", "rollback"):
            event.listen(sync, name, self._marker(name.upper()))

    def _marker(self, name: str) -> Any:
        def _count(conn: Any) -> None:
            if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
                return  # the driver sends no BEGIN/COMMIT in autocommit mode
            self.count += 1
            self.statements.append(name)

        return _count


def user(su: psycopg.Connection, tenant: Any, email: str, role: str) -> tuple[Any, Any]:
    row = su.execute(
        "INSERT INTO users (tenant_id, email, display_name, role, status) VALUES (%s, %s, %s, %s, 'active') "
        "RETURNING id",
        (tenant, email, email.split("@")[0], role),
    ).fetchone()
    assert row is not None
    session = su.execute(
        "INSERT INTO auth_sessions (tenant_id, user_id, expires_at) VALUES (%s, %s, now() + interval '1 day') "
        "RETURNING id",
        (tenant, row[0]),
    ).fetchone()
    assert session is not None
    return row[0], session[0]


def main() -> None:
    with bench_database("servanda_bench_round_trips") as db, tempfile.TemporaryDirectory() as data:
        with psycopg.connect(db.superuser, autocommit=True) as su:
            vendor = su.execute(
                "INSERT INTO tenants (slug, name, type) VALUES ('verlag-demo', 'Verlag', 'vendor') RETURNING id"
            ).fetchone()[0]  # type: ignore[index]
            firm = su.execute(
                "INSERT INTO tenants (slug, name, type) VALUES ('kanzlei-demo', 'Kanzlei', 'lawfirm') RETURNING id"
            ).fetchone()[0]  # type: ignore[index]
            user(su, vendor, "admin@verlag.de", "admin")
            lawyer, session = user(su, firm, "anwalt@kanzlei.de", "user")
        imported = subprocess.run(
            [
                sys.executable,
                "-m",
                "servanda",
                "content",
                "import",
                "--tenant",
                "verlag-demo",
                "--publish",
                str(ROOT / "content-packs" / "nda.json"),
            ],
            env={**os.environ, "DATABASE_URL": db.app, "DATABASE_ADMIN_URL": db.owner},
            capture_output=True,
            text=True,
            check=False,
        )
        assert imported.returncode == 0, imported.stderr
        settings = load_settings(servanda_env="test", servanda_data_dir=Path(data))
        app = create_app(settings, db.app)
        with TestClient(app) as client:
            tokens: LocalTokens = client.app.state.local_tokens  # type: ignore[attr-defined]
            token = tokens.issue(
                user_id=lawyer, tenant_id=firm, email="anwalt@kanzlei.de", role="user", session_id=session
            )
            headers = {"Authorization": f"Bearer {token}"}
            catalog = client.get("/api/v1/catalog/templates", headers=headers)
            assert catalog.status_code == 200, catalog.text
            template_id = catalog.json()["items"][0]["id"]
            created = client.post(
                "/api/v1/contracts", json={"templateId": template_id, "title": "NDA"}, headers=headers
            )
            assert created.status_code == 201, created.text
            contract = created.json()
            question = next(q for q in contract["interview"] if q["type"] == "text")
            counter = Counter()
            counter.attach(client.app.state.db.engine)  # type: ignore[attr-defined]

            def measure(name: str, call: Any) -> dict[str, Any]:
                counts = []
                for i in range(REPEAT):
                    counter.count = 0
                    counter.statements = []
                    response = call(i)
                    assert response.status_code == 200, response.text
                    counts.append(counter.count)
                print(f"{name:<10} {max(counts):>3} round trips: {' | '.join(counter.statements)}")
                return {"operation": name, "round_trips": max(counts), "statements": counter.statements}

            rows = [
                measure("me", lambda i: client.get("/api/v1/identity/me", headers=headers)),
                measure("catalog", lambda i: client.get("/api/v1/catalog/templates", headers=headers)),
                measure(
                    "autosave",
                    lambda i: client.patch(
                        f"/api/v1/contracts/{contract['id']}",
                        json={"answers": {question["key"]: f"Muster GmbH {i}"}},
                        headers=headers,
                    ),
                ),
            ]
        print(f"results: {write_results('round_trips', {'rows': rows})}")


if __name__ == "__main__":
    main()
