"""The export worker as a real process (`python -m servanda worker`) on the real queue.

Jobs are written the way the API writes them (row + queue job in one transaction) and the
worker process renders them: DOCX in-process, ODT and PDF through its warm LibreOffice.
Covered: the files and what a consumer reads from them, reproducibility across restarts and
newer published versions, probes and metrics on the worker's own port, retries with backoff
and the dead-letter state, non-retriable failures, SIGTERM (the in-flight job finishes) and
SIGKILL (another worker picks the job up again), a converter killed mid-conversion.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.export.models import ExportJob
from servanda.export.queueing import enqueue_job
from servanda.platform.db import Database
from servanda.platform.storage import S3Storage
from tests.conftest import DbUnderTest
from tests.test_contract_documents import ANSWERS, PACK, create, lawyer, patch  # noqa: F401 - fixture
from tests.test_contracts import K, publish_pack
from tests.test_storage import _raw_client, s3_endpoint  # noqa: F401 - fixture


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Worker:
    """A `servanda worker` child process with fast test timings."""

    def __init__(
        self, db: DbUnderTest, data_dir: Path, log: Path, *, prefix: Sequence[str] = (), **env: str
    ) -> None:
        self.port = _free_port()
        self.log = log
        self.env = {
            **os.environ,
            "DATABASE_URL": db.app,
            "SERVANDA_DATA_DIR": str(data_dir),
            "SERVANDA_ENV": "test",
            "EXPORT_WORKER_HOST": "127.0.0.1",
            "EXPORT_WORKER_PORT": str(self.port),
            "EXPORT_RETRY_BASE_S": "0.2",
            "EXPORT_POLL_INTERVAL_S": "0.2",
            "EXPORT_HEARTBEAT_S": "0.5",
            "EXPORT_STALLED_AFTER_S": "3",
            "EXPORT_SHUTDOWN_GRACE_S": "30",
            **env,
        }
        self.env.pop("DATABASE_ADMIN_URL", None)
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [*prefix, sys.executable, "-m", "servanda", "worker"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.wait_ready()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url("/health/ready"), timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("worker not ready:\n" + self.log.read_text())

    def wait_converter(self, timeout: float = 90) -> None:
        """Until the worker's LibreOffice is up (its readiness reports the converter)."""
        deadline = time.monotonic() + timeout
        while httpx.get(self.url("/health/ready"), timeout=2).json().get("converter") != "ok":
            assert time.monotonic() < deadline, "converter not ready:\n" + self.log.read_text()[-2000:]
            time.sleep(0.1)

    def sofficces(self) -> list[psutil.Process]:
        found = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if "soffice" in child.name():
                    found.append(child)
            except psutil.NoSuchProcess:
                pass
        return found

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            children = psutil.Process(self.process.pid).children(recursive=True)
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if sig == signal.SIGKILL:  # nobody cleans up after SIGKILL: do it for the test run
                for child in children:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        child.kill()
        return int(self.process.returncode)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"  # the `api` fixture's data dir: the API and the worker share storage


@pytest.fixture
def workers(clean_db: DbUnderTest, data_dir: Path, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(*, prefix: Sequence[str] = (), **env: str) -> Worker:
        """``prefix`` runs the worker under a wrapper command (tests/test_fault_drills.py: ``setpriv``)."""
        worker = Worker(clean_db, data_dir, tmp_path / f"worker-{len(started)}.log", prefix=prefix, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(signal.SIGKILL if worker.process.poll() is None else signal.SIGTERM)


def completed_contract(api: TestClient, lawyer: dict[str, Any], complete: bool = True) -> dict[str, Any]:  # noqa: F811
    contract = create(api, lawyer)
    patch(api, lawyer, contract, {"answers": ANSWERS})
    if complete:
        done = api.post(f"{K}/{contract['id']}/complete", headers=lawyer["headers"])
        assert done.status_code == 200, done.text
    return contract


def tenant_of(su: psycopg.Connection, contract_id: str) -> uuid.UUID:
    row = su.execute("SELECT tenant_id FROM contracts WHERE id = %s", (contract_id,)).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def queue_export(db: DbUnderTest, tenant_id: uuid.UUID, contract_id: str, fmt: str) -> uuid.UUID:
    """Row and queue job in one transaction, as the API does it."""

    async def run() -> uuid.UUID:
        database = Database(db.app, pool_size=1)
        try:
            async with database.session(tenant_id) as session:
                job = ExportJob(tenant_id=tenant_id, contract_id=uuid.UUID(contract_id), format=fmt)
                session.add(job)
                await session.flush()
                job.queue_job_id = await enqueue_job(session, tenant_id, job.id)
                return job.id
        finally:
            await database.dispose()

    return asyncio.run(run())


def job_row(su: psycopg.Connection, job_id: uuid.UUID) -> dict[str, Any]:
    cur = su.execute("SELECT * FROM export_jobs WHERE id = %s", (job_id,))
    names = [d.name for d in cur.description or []]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def wait_for(
    su: psycopg.Connection, job_id: uuid.UUID, statuses: tuple[str, ...], timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = job_row(su, job_id)
        if row["status"] in statuses:
            return row
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {job_row(su, job_id)['status']}")


def stored(data_dir: Path, row: dict[str, Any]) -> bytes:
    path = data_dir / "storage" / row["result_storage_key"]
    return path.read_bytes()


def pdf_text(data: bytes, tmp_path: Path) -> str:
    source = tmp_path / f"{uuid.uuid4().hex}.pdf"
    source.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True, text=True
    ).stdout


def office_text(data: bytes, suffix: str, tmp_path: Path) -> str:
    """What LibreOffice reads from a DOCX or ODT (a cold soffice with its own profile)."""
    source = tmp_path / f"{uuid.uuid4().hex}.{suffix}"
    source.write_bytes(data)
    profile = tmp_path / "lo-profile"
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "txt:Text",
         "--outdir", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return source.with_suffix(".txt").read_text(encoding="utf-8-sig")


def expected_fragments() -> list[str]:
    return ["Arbeitsvertrag", "§ 1", "Muster GmbH", "Erika Mustermann", "01.04.2026", "4.200,00 EUR"]


def restarts(worker: Worker, reason: str) -> float:
    """servanda_export_converter_restarts_total{reason=…} as the worker's /metrics reports it."""
    prefix = f'servanda_export_converter_restarts_total{{reason="{reason}"}} '
    lines = [line for line in httpx.get(worker.url("/metrics")).text.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


def squash(text: str) -> str:
    return " ".join(text.split())


# -- the happy path ------------------------------------------------------------------------


def test_the_worker_renders_docx_odt_and_pdf_that_a_consumer_reads(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection, clean_db: DbUnderTest,  # noqa: F811
    workers: Callable[..., Worker], data_dir: Path, tmp_path: Path,
) -> None:  # fmt: skip
    contract = completed_contract(api, lawyer)
    tenant = tenant_of(su, contract["id"])
    worker = workers()
    jobs = {fmt: queue_export(clean_db, tenant, contract["id"], fmt) for fmt in ("docx", "odt", "pdf")}
    rows = {fmt: wait_for(su, job, ("done", "failed")) for fmt, job in jobs.items()}
    for fmt, row in rows.items():
        assert row["status"] == "done", (
            fmt,
            row["error_code"],
            row["error_message"],
            worker.log.read_text()[-3000:],
        )
        data = stored(data_dir, row)
        assert hashlib.sha256(data).hexdigest() == row["result_sha256"] and row["result_size"] == len(data)
        assert row["result_storage_key"] == f"{tenant}/exports/{jobs[fmt]}.{fmt}"
        assert row["attempts"] == 1 and row["started_at"] is not None and row["completed_at"] is not None
    texts = {
        "docx": office_text(stored(data_dir, rows["docx"]), "docx", tmp_path),
        "odt": office_text(stored(data_dir, rows["odt"]), "odt", tmp_path),
        "pdf": pdf_text(stored(data_dir, rows["pdf"]), tmp_path),
    }
    for fmt, text in texts.items():
        for fragment in expected_fragments():
            assert fragment in squash(text), (fmt, fragment)
        assert "ENTWURF" not in text, fmt  # completed: clean
    actions = [r[0] for r in su.execute("SELECT action FROM audit_events WHERE object_type = 'export_job'")]
    assert actions.count("export.complete") == 3

    # Probes and metrics on the worker's own port.
    assert httpx.get(worker.url("/health/live")).json() == {"status": "ok"}
    assert httpx.get(worker.url("/health/ready")).json()["db"] == "ok"
    scrape = httpx.get(worker.url("/metrics")).text
    for name in ("servanda_export_job_duration_seconds_bucket", "servanda_export_queue_depth"):
        assert name in scrape
    assert f'format="pdf",status="done",tenant_id="{tenant}"' in scrape
    assert httpx.get(worker.url("/nothing")).status_code == 404


def test_a_draft_export_is_marked_entwurf(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection, clean_db: DbUnderTest,  # noqa: F811
    workers: Callable[..., Worker], data_dir: Path, tmp_path: Path,
) -> None:  # fmt: skip
    contract = completed_contract(api, lawyer, complete=False)
    workers()
    row = wait_for(
        su, queue_export(clean_db, tenant_of(su, contract["id"]), contract["id"], "pdf"), ("done", "failed")
    )
    assert row["status"] == "done", row
    assert "ENTWURF" in pdf_text(stored(data_dir, row), tmp_path)


def test_docx_is_byte_reproducible_across_restarts_and_newer_versions(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection, clean_db: DbUnderTest,  # noqa: F811
    workers: Callable[..., Worker],
) -> None:  # fmt: skip
    contract = completed_contract(api, lawyer)
    tenant = tenant_of(su, contract["id"])
    first = workers()
    one = wait_for(su, queue_export(clean_db, tenant, contract["id"], "docx"), ("done", "failed"))
    assert one["status"] == "done", one
    assert first.stop() == 0

    # Newer versions of the template and of every clause are published meanwhile.
    changed = {**PACK, "clauses": [{**c, "content": c["content"] + " Neu gefasst."} for c in PACK["clauses"]]}
    publish_pack(clean_db.app, "verlag-demo", changed)
    versions = su.execute(
        "SELECT count(*) FROM clause_versions WHERE content LIKE '%Neu gefasst.'"
    ).fetchone()
    assert versions is not None and versions[0] > 0

    workers()
    two = wait_for(su, queue_export(clean_db, tenant, contract["id"], "docx"), ("done", "failed"))
    assert two["status"] == "done", two
    assert two["result_sha256"] == one["result_sha256"]


# -- failures, retries, dead letters ------------------------------------------------------------


def test_a_retriable_failure_is_retried_with_backoff_and_then_dead_lettered(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection, clean_db: DbUnderTest,  # noqa: F811
    workers: Callable[..., Worker], data_dir: Path,
) -> None:  # fmt: skip
    contract = completed_contract(api, lawyer)
    tenant = tenant_of(su, contract["id"])
    # The tenant's storage folder is a file: every write fails (even for root), retriably.
    blocker = data_dir / "storage" / str(tenant)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    workers()
    job = queue_export(clean_db, tenant, contract["id"], "docx")
    row = wait_for(su, job, ("failed",), timeout=60)
    assert row["attempts"] == 4  # the first attempt and 3 retries
    assert row["error_code"] == "export.storage_failed" and row["error_message"]
    assert row["result_storage_key"] is None
    events = su.execute(
        "SELECT count(*) FROM audit_events WHERE action = 'export.fail' AND object_id = %s", (str(job),)
    ).fetchone()
    assert events is not None and events[0] == 1


def test_a_transient_failure_succeeds_on_the_retry(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection, clean_db: DbUnderTest,  # noqa: F811
    workers: Callable[..., Worker], data_dir: Path,
) -> None:  # fmt: skip
    contract = completed_contract(api, lawyer)
    tenant = tenant_of(su, contract["id"])
    blocker = data_dir / "storage" / str(tenant)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    workers(EXPORT_RETRY_BASE_S="2")
    job = queue_export(clean_db, tenant, contract["id"], "docx")
    deadline = time.monotonic() + 30
    while job_row(su, job)["error_code"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    waiting = job_row(su, job)
    assert waiting["status"] == "queued" and waiting["next_attempt_at"] is not None
    blocker.unlink()
    row = wait_for(su, job, ("done", "failed"))
    assert row["status"] == "done" and row["attempts"] >= 2 and row["error_code"] is None


def test_an_archived_contract_fails_at_once_without_retries(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection, clean_db: DbUnderTest,  # noqa: F811
    workers: Callable[..., Worker],
) -> None:  # fmt: skip
    contract = completed_contract(api, lawyer)
    tenant = tenant_of(su, contract["id"])
    job = queue_export(clean_db, tenant, contract["id"], "docx")
    archived = api.post(f"{K}/{contract['id']}/archive", headers=lawyer["headers"])
    assert archived.status_code == 200, archived.text
    workers()
    row = wait_for(su, job, ("failed", "done"))
    assert (
        row["status"] == "failed" and row["attempts"] == 1 and row["error_code"] == "export.contract_archived"
    )


# -- process deaths -------------------------------------------------------------------------------


def test_sigterm_lets_the_in_flight_job_finish(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection, clean_db: DbUnderTest,  # noqa: F811
    workers: Callable[..., Worker],
) -> None:  # fmt: skip
    contract = completed_contract(api, lawyer)
    tenant = tenant_of(su, contract["id"])
    worker = workers()
    job = queue_export(clean_db, tenant, contract["id"], "pdf")
    wait_for(su, job, ("running", "done"))
    assert worker.stop(signal.SIGTERM) == 0
    row = job_row(su, job)
    assert row["status"] == "done", (row, worker.log.read_text()[-2000:])
    data = worker.env["SERVANDA_DATA_DIR"]
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if data in " ".join(p.info["cmdline"] or []) and p.pid != os.getpid()
    ]
    assert leftovers == [], "the worker left LibreOffice running"


def test_a_job_of_a_worker_killed_with_sigkill_is_picked_up_again(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection, clean_db: DbUnderTest,  # noqa: F811
    workers: Callable[..., Worker], data_dir: Path,
) -> None:  # fmt: skip
    """Several exports in flight when the worker dies (issue 15's fault drill): each finishes once."""
    for _ in range(5):
        # One active job per contract and format: three PDF jobs and a DOCX one.
        contracts = [completed_contract(api, lawyer)["id"] for _ in range(3)]
        tenant = tenant_of(su, contracts[0])
        victim = workers()
        # PDF jobs right after start: the converter is still warming up, so up to
        # EXPORT_CONCURRENCY (3) of them are in flight, the others queued behind them.
        jobs = [queue_export(clean_db, tenant, c, "pdf") for c in contracts]
        jobs.append(queue_export(clean_db, tenant, contracts[0], "docx"))
        deadline = time.monotonic() + 60
        while sum(job_row(su, job)["status"] != "queued" for job in jobs) < 2:
            assert time.monotonic() < deadline, "the worker took no job"
            time.sleep(0.05)
        victim.stop(signal.SIGKILL)
        in_flight = [job for job in jobs if job_row(su, job)["status"] == "running"]
        if len(in_flight) >= 2:
            break
    else:
        pytest.fail("never several jobs in flight when the worker died")
    for job in in_flight:
        queued = su.execute(
            "SELECT status FROM procrastinate_jobs WHERE id = %s", (job_row(su, job)["queue_job_id"],)
        ).fetchone()
        assert queued is not None and queued[0] == "doing"  # the dead worker still holds it
    workers()
    for job in jobs:
        row = wait_for(su, job, ("done", "failed"), timeout=90)
        assert row["status"] == "done" and row["attempts"] == (2 if job in in_flight else 1), row
        assert hashlib.sha256(stored(data_dir, row)).hexdigest() == row["result_sha256"]
    completed = su.execute(
        "SELECT count(*), count(DISTINCT object_id) FROM audit_events "
        "WHERE action = 'export.complete' AND object_id = ANY(%s)",
        ([str(job) for job in jobs],),
    ).fetchone()
    assert completed == (len(jobs), len(jobs))  # each job finished exactly once


def test_a_converter_killed_mid_conversion_is_restarted_and_the_job_retried(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection, clean_db: DbUnderTest,  # noqa: F811
    workers: Callable[..., Worker],
) -> None:  # fmt: skip
    contract = completed_contract(api, lawyer)
    tenant = tenant_of(su, contract["id"])
    worker = workers()
    warm = wait_for(su, queue_export(clean_db, tenant, contract["id"], "pdf"), ("done", "failed"))
    assert warm["status"] == "done"
    # Freeze LibreOffice, so the next conversion is certainly in flight when it is killed.
    office = worker.sofficces()
    assert office, "the worker keeps a warm LibreOffice"
    for process in office:
        process.suspend()
    job = queue_export(clean_db, tenant, contract["id"], "pdf")
    wait_for(su, job, ("running",))
    time.sleep(1.5)  # rendering the DOCX takes a fraction of this; then the call waits on LibreOffice
    assert job_row(su, job)["status"] == "running"
    for process in office:
        process.kill()
    row = wait_for(su, job, ("done", "failed"), timeout=90)
    assert row["status"] == "done" and row["attempts"] >= 2, (row, worker.log.read_text()[-2000:])
    assert row["error_code"] is None
    assert [p.pid for p in worker.sofficces()] != [p.pid for p in office]  # a fresh LibreOffice
    assert restarts(worker, "crashed") >= 1


def test_a_hung_converter_hits_its_timeout_and_the_job_is_retried(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection, clean_db: DbUnderTest,  # noqa: F811
    workers: Callable[..., Worker],
) -> None:  # fmt: skip
    contract = completed_contract(api, lawyer)
    tenant = tenant_of(su, contract["id"])
    # A warm conversion takes well under a second; 10 s leaves room for a loaded CI machine.
    worker = workers(EXPORT_CONVERTER_TIMEOUT_S="10")
    worker.wait_converter()
    warm = wait_for(su, queue_export(clean_db, tenant, contract["id"], "odt"), ("done", "failed"))
    assert warm["status"] == "done", (warm, worker.log.read_text()[-2000:])
    for process in worker.sofficces():
        process.suspend()  # hangs, never answers
    job = queue_export(clean_db, tenant, contract["id"], "odt")
    row = wait_for(su, job, ("done", "failed"), timeout=120)
    assert row["status"] == "done" and row["attempts"] >= 2, (row, worker.log.read_text()[-2000:])
    assert restarts(worker, "timeout") >= 1


# -- the S3 path --------------------------------------------------------------------------------


def test_the_worker_stores_into_s3(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection, clean_db: DbUnderTest,  # noqa: F811
    workers: Callable[..., Worker], s3_endpoint: str,  # noqa: F811
) -> None:  # fmt: skip
    """The same job against an S3-compatible server process (moto's): the file lands in the bucket
    under the tenant's export key, with the SHA-256 the row records."""
    bucket = f"exports-{uuid.uuid4().hex[:10]}"
    asyncio.run(S3Storage(s3_endpoint, bucket, "test-access-key", "test-secret-key").ensure_bucket())
    contract = completed_contract(api, lawyer)
    tenant = tenant_of(su, contract["id"])
    workers(
        S3_ENDPOINT=s3_endpoint,
        S3_BUCKET=bucket,
        S3_ACCESS_KEY="test-access-key",
        S3_SECRET_KEY="test-secret-key",
    )
    job = queue_export(clean_db, tenant, contract["id"], "docx")
    row = wait_for(su, job, ("done", "failed"))
    assert row["status"] == "done", row
    stored_object = _raw_client(s3_endpoint).get_object(Bucket=bucket, Key=f"{tenant}/exports/{job}.docx")
    data = stored_object["Body"].read()
    assert hashlib.sha256(data).hexdigest() == row["result_sha256"]
    assert stored_object["ContentType"].endswith("wordprocessingml.document")
