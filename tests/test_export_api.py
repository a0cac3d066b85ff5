"""The export jobs API (issue 12, points 1, 5, 6, 7): requests and their preconditions, one
transaction for row and queue job, visibility, downloads (bearer, signed link, presigned S3 URL),
retry, archive, dead letters, stats and batches.

No worker runs here: a finished export is arranged by writing the file into the app's storage
and the row's result columns directly (the worker's end-to-end tests are tests/test_export_worker.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.export import links
from servanda.export.queueing import CONTENT_TYPES, batch_key, result_key
from servanda.platform.config import Settings
from servanda.platform.keys import derived_key
from servanda.platform.storage import S3Storage, storage_from_settings
from tests.auth_helpers import login_as
from tests.conftest import DbUnderTest
from tests.test_contracts import create, slot_of
from tests.test_contracts import world as world
from tests.test_storage import s3_endpoint as s3_endpoint

E = "/api/v1/export-jobs"
K = "/api/v1/contracts"
TITLE = "Arbeitsvertrag Müller/Schäfer"
DOCX = CONTENT_TYPES["docx"]


def export(api: TestClient, who: dict[str, str], contract_id: str, fmt: str = "docx", **extra: Any) -> Any:
    return api.post(E, json={"contractId": contract_id, "format": fmt, **extra}, headers=who)


def rows(su: psycopg.Connection) -> tuple[int, int]:
    """(export_jobs + export_batches rows, procrastinate_jobs rows)."""
    jobs = su.execute("SELECT (SELECT count(*) FROM export_jobs) + (SELECT count(*) FROM export_batches)")
    queue = su.execute("SELECT count(*) FROM procrastinate_jobs")
    return int(jobs.fetchone()[0]), int(queue.fetchone()[0])  # type: ignore[index]


def store(api: TestClient, tenant: uuid.UUID, key: str, data: bytes, content_type: str) -> None:
    settings: Settings = api.app.state.settings  # type: ignore[attr-defined]
    asyncio.run(storage_from_settings(settings).put(tenant, key, data, content_type))


def finish(
    api: TestClient, su: psycopg.Connection, tenant: uuid.UUID, job_id: str, data: bytes = b"PK\x03\x04docx"
) -> None:
    """What the worker does for a successful job: the file in storage, the row done."""
    fmt = su.execute("SELECT format FROM export_jobs WHERE id = %s", (job_id,)).fetchone()[0]  # type: ignore[index]
    key = result_key(tenant, uuid.UUID(job_id), fmt)
    store(api, tenant, key, data, CONTENT_TYPES[fmt])
    su.execute(
        "UPDATE export_jobs SET status = 'done', attempts = 1, started_at = now() - interval '2 seconds', "
        "completed_at = now(), result_storage_key = %s, result_size = %s, result_sha256 = %s WHERE id = %s",
        (key, len(data), hashlib.sha256(data).hexdigest(), job_id),
    )


def finish_batch(
    api: TestClient,
    su: psycopg.Connection,
    tenant: uuid.UUID,
    batch_id: str,
    manifest: list[dict[str, Any]] | None = None,
) -> bytes:
    """What the worker does for a batch: the ZIP in storage, the row done with its manifest."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("manifest.json", "{}")
    data = archive.getvalue()
    key = batch_key(tenant, uuid.UUID(batch_id))
    store(api, tenant, key, data, CONTENT_TYPES["zip"])
    manifest = manifest or []
    su.execute(
        "UPDATE export_batches SET status = 'done', done_count = %s, failed_count = %s, manifest = %s, "
        "started_at = now(), completed_at = now(), result_storage_key = %s, result_size = %s, "
        "result_sha256 = %s WHERE id = %s",
        (
            sum(e.get("status") == "done" for e in manifest),
            sum(e.get("status") == "failed" for e in manifest),
            psycopg.types.json.Jsonb(manifest),
            key,
            len(data),
            hashlib.sha256(data).hexdigest(),
            batch_id,
        ),
    )
    return data


def fail(su: psycopg.Connection, job_id: str) -> None:
    su.execute(
        "UPDATE export_jobs SET status = 'failed', attempts = 4, started_at = now(), completed_at = now(), "
        "error_code = 'export.converter_failed', error_message = 'LibreOffice antwortet nicht.' WHERE id = %s",
        (job_id,),
    )


def audit(su: psycopg.Connection, action: str) -> list[tuple[Any, ...]]:
    return su.execute(
        "SELECT actor_id, object_id, details FROM audit_events WHERE action = %s ORDER BY seq", (action,)
    ).fetchall()


@pytest.fixture
def contract(api: TestClient, world: dict[str, Any]) -> dict[str, Any]:
    """A private draft of the lawyer (a draft may be exported: the worker marks it ENTWURF)."""
    return create(api, world, title=TITLE)


def problem(response: Any) -> tuple[int, str]:
    return response.status_code, response.json().get("code")


# -- request: one transaction, every precondition ----------------------------------------------


def test_a_request_writes_the_row_and_its_queue_job_together(
    api: TestClient,
    world: dict[str, Any],
    contract: dict[str, Any],
    su: psycopg.Connection,
) -> None:
    response = export(api, world["lawyer"], contract["id"])
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["Location"] == f"{E}/{job['id']}"
    assert (job["status"], job["format"], job["attempts"], job["downloadUrl"]) == ("queued", "docx", 0, None)
    assert rows(su) == (1, 1)
    queue_job_id, tenant = su.execute(
        "SELECT queue_job_id, tenant_id FROM export_jobs WHERE id = %s", (job["id"],)
    ).fetchone()  # type: ignore[misc]
    task, args, status = su.execute(
        "SELECT task_name, args, status FROM procrastinate_jobs WHERE id = %s", (queue_job_id,)
    ).fetchone()  # type: ignore[misc]
    assert (task, status) == ("export.render_job", "todo")
    assert args == {"job_id": job["id"], "tenant_id": str(tenant)}
    [(_, object_id, details)] = audit(su, "export.request")
    assert object_id == job["id"] and details["contractId"] == contract["id"] and details["draft"] is True
    assert api.get(response.headers["Location"], headers=world["lawyer"]).json()["id"] == job["id"]


def test_every_precondition_refuses_with_its_code_and_writes_nothing(
    api: TestClient,
    world: dict[str, Any],
    contract: dict[str, Any],
    su: psycopg.Connection,
) -> None:
    lawyer = world["lawyer"]
    c04 = world["clause"]["c04"]
    conflicted = create(api, world, title="Konflikt")
    conflicted = api.patch(
        f"{K}/{conflicted['id']}", json={"selectedSlots": {slot_of(conflicted, c04): c04}}, headers=lawyer
    ).json()
    assert conflicted["validation"]["validationState"] == "has_conflicts"
    archived = create(api, world, title="Alt")
    assert api.post(f"{K}/{archived['id']}/archive", headers=lawyer).status_code == 200
    before = rows(su)
    events = su.execute("SELECT count(*) FROM audit_events").fetchone()[0]  # type: ignore[index]

    cases = [
        (export(api, lawyer, str(uuid.uuid4())), (404, "contract.not_found")),
        (export(api, world["colleague"], contract["id"]), (404, "contract.not_found")),  # private
        (export(api, lawyer, archived["id"]), (409, "export.contract_archived")),
        (export(api, lawyer, conflicted["id"]), (409, "contract.has_conflicts")),
        (
            export(api, lawyer, contract["id"], styleTemplateId=str(uuid.uuid4())),
            (404, "export.style_template_not_found"),
        ),
        (export(api, lawyer, contract["id"], "odt"), (403, "export.odt_disabled")),
        (export(api, lawyer, contract["id"], "rtf"), (422, "request.validation_failed")),
    ]
    for response, expected in cases:
        assert problem(response) == expected, response.text
    assert rows(su) == before == (0, 0)
    assert su.execute("SELECT count(*) FROM audit_events").fetchone()[0] == events  # type: ignore[index]
    odt = export(api, lawyer, contract["id"], "odt")
    assert "ODT-Export (Beta)" in odt.json()["detail"] and "Kanzlei-Einstellungen" in odt.json()["detail"]

    # the system style exists for everyone
    system_style = su.execute("SELECT id FROM style_templates WHERE tenant_id IS NULL").fetchone()[0]  # type: ignore[index]
    assert export(api, lawyer, contract["id"], styleTemplateId=str(system_style)).status_code == 202
    again = export(api, lawyer, contract["id"])
    assert problem(again) == (409, "export.already_queued")
    assert again.json()["jobId"]
    assert export(api, lawyer, contract["id"], "pdf").status_code == 202  # another format is another job
    assert rows(su) == (2, 2)

    flags = {"featureFlags": {"odtExport": True}}
    assert api.patch("/api/v1/tenant/settings", json=flags, headers=world["admin"]).status_code == 200
    assert export(api, lawyer, contract["id"], "odt").status_code == 202


def test_the_unique_index_answers_a_lost_race_with_the_same_409(
    api: TestClient,
    world: dict[str, Any],
    contract: dict[str, Any],
    su: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two requests at once both pass the pre-check; the partial unique index stops the second."""
    from servanda.export.service import ExportService

    assert export(api, world["lawyer"], contract["id"]).status_code == 202

    async def no_active_job(self: Any, contract_id: uuid.UUID, fmt: str) -> None:
        return None  # as if the other request had not committed yet

    monkeypatch.setattr(ExportService, "_active_job", no_active_job)
    lost = export(api, world["lawyer"], contract["id"])
    assert problem(lost) == (409, "export.already_queued")
    assert rows(su) == (1, 1)
    assert len(audit(su, "export.request")) == 1


# -- reading, visibility ------------------------------------------------------------------------


def test_jobs_are_visible_exactly_like_their_contracts(
    api: TestClient,
    world: dict[str, Any],
    contract: dict[str, Any],
    su: psycopg.Connection,
    make_tenant: Any,
) -> None:
    job = export(api, world["lawyer"], contract["id"]).json()
    finish(api, su, world["firm"], job["id"])
    foreign = login_as(api, su, make_tenant("kanzlei-b"), "admin", "admin@kanzlei-b.de")
    for who in (world["colleague"], foreign):
        for method, path in (
            ("GET", f"{E}/{job['id']}"),
            ("GET", f"{E}/{job['id']}/download"),
            ("POST", f"{E}/{job['id']}/retry"),
            ("POST", f"{E}/{job['id']}/archive"),
        ):
            assert problem(api.request(method, path, headers=who)) == (404, "export.job_not_found"), path
        assert api.get(E, headers=who).json()["total"] == 0
    assert api.get(E, headers=world["lawyer"]).json()["total"] == 1
    assert api.get(E, headers=world["admin"]).json()["total"] == 1  # admins see the tenant's jobs
    listed = api.get(
        E, params={"contractId": contract["id"], "status": "done"}, headers=world["lawyer"]
    ).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    assert listed["items"][0]["downloadUrl"] is None  # links only on the single job
    assert api.get(E, params={"status": "queued"}, headers=world["lawyer"]).json()["total"] == 0
    for path in (f"{E}/failed", f"{E}/stats"):
        assert problem(api.get(path, headers=world["lawyer"])) == (403, "auth.forbidden")


def test_a_done_job_downloads_with_its_title_as_file_name(
    api: TestClient,
    world: dict[str, Any],
    contract: dict[str, Any],
    su: psycopg.Connection,
) -> None:
    job = export(api, world["lawyer"], contract["id"]).json()
    early = api.get(f"{E}/{job['id']}/download", headers=world["lawyer"])
    assert problem(early) == (409, "export.not_done") and early.json()["currentStatus"] == "queued"
    data = b"PK\x03\x04" + bytes(range(256)) * 40
    finish(api, su, world["firm"], job["id"], data)

    view = api.get(f"{E}/{job['id']}", headers=world["lawyer"]).json()
    assert (view["status"], view["size"], view["sha256"]) == (
        "done",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert view["durationMs"] >= 1900
    response = api.get(f"{E}/{job['id']}/download", headers=world["lawyer"])
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == DOCX
    disposition = response.headers["content-disposition"]
    assert disposition == (
        'attachment; filename="Arbeitsvertrag Mueller-Schaefer.docx"; '
        "filename*=UTF-8''Arbeitsvertrag%20M%C3%BCller-Sch%C3%A4fer.docx"
    )
    assert unquote(disposition.split("UTF-8''")[1]) == "Arbeitsvertrag Müller-Schäfer.docx"
    assert response.headers["cache-control"] == "private, no-store"
    lawyer_id = su.execute("SELECT id FROM users WHERE email = 'anwalt@kanzlei-demo.de'").fetchone()[0]  # type: ignore[index]
    [(actor, object_id, details)] = audit(su, "export.download")
    assert (actor, object_id, details["via"]) == (lawyer_id, job["id"], "bearer")
    assert details["sha256"] == hashlib.sha256(data).hexdigest()

    # a done job whose file is gone (storage lost it) says so, and audits nothing
    settings: Settings = api.app.state.settings  # type: ignore[attr-defined]
    asyncio.run(
        storage_from_settings(settings).delete(
            world["firm"], result_key(world["firm"], uuid.UUID(job["id"]), "docx")
        )
    )
    gone = api.get(f"{E}/{job['id']}/download", headers=world["lawyer"])
    assert problem(gone) == (404, "export.file_missing")
    assert len(audit(su, "export.download")) == 1


def test_signed_links_open_without_a_token_and_are_audited_for_the_requester(
    api: TestClient,
    world: dict[str, Any],
    contract: dict[str, Any],
    su: psycopg.Connection,
) -> None:
    job = export(api, world["lawyer"], contract["id"]).json()
    other = export(api, world["lawyer"], contract["id"], "pdf").json()
    finish(api, su, world["firm"], job["id"], b"the file")
    finish(api, su, world["firm"], other["id"], b"%PDF-other")
    view = api.get(f"{E}/{job['id']}", headers=world["lawyer"]).json()
    url = view["downloadUrl"]
    assert url.startswith(f"{E}/{job['id']}/download?")
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert abs(expires - (time.time() + 900)) < 60
    assert view["downloadUrlExpiresAt"]

    opened = api.get(url)  # no Authorization header: a browser following the link
    assert (opened.status_code, opened.content) == (200, b"the file")
    assert (
        "filename*=UTF-8''Arbeitsvertrag%20M%C3%BCller-Sch%C3%A4fer.docx"
        in opened.headers["content-disposition"]
    )
    lawyer_id = su.execute("SELECT id FROM users WHERE email = 'anwalt@kanzlei-demo.de'").fetchone()[0]  # type: ignore[index]
    [(actor, object_id, details)] = audit(su, "export.download")
    assert (actor, object_id, details["via"]) == (lawyer_id, job["id"], "signed_link")

    query = parse_qs(urlsplit(url).query)
    tenant, sig = query["tenant"][0], query["signature"][0]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    key = derived_key(api.app.state.settings, links.LINK_PURPOSE)  # type: ignore[attr-defined]
    past = int(time.time()) - 1
    expired_sig = links.signature(key, "job", uuid.UUID(tenant), uuid.UUID(job["id"]), past)
    wrong_key_sig = links.signature(b"x" * 32, "job", uuid.UUID(tenant), uuid.UUID(job["id"]), expires)
    bad = {
        "tampered signature": (
            f"{E}/{job['id']}/download?tenant={tenant}&expires={expires}&signature={flipped}",
            "export.link_invalid",
        ),
        "later expiry": (
            f"{E}/{job['id']}/download?tenant={tenant}&expires={expires + 3600}&signature={sig}",
            "export.link_invalid",
        ),
        "another job": (
            f"{E}/{other['id']}/download?tenant={tenant}&expires={expires}&signature={sig}",
            "export.link_invalid",
        ),
        "another tenant": (
            f"{E}/{job['id']}/download?tenant={uuid.uuid4()}&expires={expires}&signature={sig}",
            "export.link_invalid",
        ),
        "other key": (
            f"{E}/{job['id']}/download?tenant={tenant}&expires={expires}&signature={wrong_key_sig}",
            "export.link_invalid",
        ),
        "no expiry": (f"{E}/{job['id']}/download?tenant={tenant}&signature={sig}", "export.link_invalid"),
        "expired": (
            f"{E}/{job['id']}/download?tenant={tenant}&expires={past}&signature={expired_sig}",
            "export.link_expired",
        ),
    }
    for name, (link, code) in bad.items():
        assert problem(api.get(link)) == (403, code), name
    assert "abgelaufen" in api.get(bad["expired"][0]).json()["detail"]
    assert len(audit(su, "export.download")) == 1
    assert api.get(f"{E}/{job['id']}/download").status_code == 401  # no link, no token

    # a deactivated requester's links stop working at once
    su.execute("UPDATE users SET status = 'disabled' WHERE id = %s", (lawyer_id,))
    assert problem(api.get(url)) == (403, "export.link_invalid")


# -- retry, archive, dead letters, stats --------------------------------------------------------


def test_retry_queues_a_failed_job_again_with_a_fresh_queue_job(
    api: TestClient,
    world: dict[str, Any],
    contract: dict[str, Any],
    su: psycopg.Connection,
) -> None:
    job = export(api, world["lawyer"], contract["id"]).json()
    assert problem(api.post(f"{E}/{job['id']}/retry", headers=world["lawyer"])) == (
        409,
        "export.not_retryable",
    )
    fail(su, job["id"])
    dead = api.get(f"{E}/failed", headers=world["admin"]).json()
    assert [(j["id"], j["errorCode"]) for j in dead["items"]] == [(job["id"], "export.converter_failed")]
    old_queue_job = su.execute("SELECT queue_job_id FROM export_jobs WHERE id = %s", (job["id"],)).fetchone()[
        0
    ]  # type: ignore[index]

    retried = api.post(f"{E}/{job['id']}/retry", headers=world["lawyer"])  # the requester
    assert retried.status_code == 200, retried.text
    body = retried.json()
    assert (body["status"], body["attempts"], body["errorCode"], body["completedAt"]) == (
        "queued",
        0,
        None,
        None,
    )
    new_queue_job = su.execute("SELECT queue_job_id FROM export_jobs WHERE id = %s", (job["id"],)).fetchone()[
        0
    ]  # type: ignore[index]
    assert new_queue_job != old_queue_job
    assert su.execute(
        "SELECT task_name, status FROM procrastinate_jobs WHERE id = %s", (new_queue_job,)
    ).fetchone() == (
        "export.render_job",
        "todo",
    )
    assert rows(su) == (1, 2)
    [(_, object_id, details)] = audit(su, "export.retry")
    assert object_id == job["id"] and details["previous"]["errorCode"] == "export.converter_failed"
    assert api.get(f"{E}/failed", headers=world["admin"]).json()["total"] == 0

    # a colleague who sees the contract (team) but did not request the job may not; a monitor may
    team = su.execute(
        "INSERT INTO teams (tenant_id, name) VALUES (%s, 'Arbeitsrecht') RETURNING id", (world["firm"],)
    ).fetchone()[0]  # type: ignore[index]
    su.execute(
        "INSERT INTO team_members (tenant_id, team_id, user_id) SELECT tenant_id, %s, id FROM users "
        "WHERE email IN ('anwalt@kanzlei-demo.de', 'kollegin@kanzlei-demo.de')",
        (team,),
    )
    shared = create(api, world, title="Geteilt", visibility="team", teamId=str(team))
    shared_job = export(api, world["lawyer"], shared["id"]).json()
    fail(su, shared_job["id"])
    assert api.get(f"{E}/{shared_job['id']}", headers=world["colleague"]).status_code == 200
    refused = api.post(f"{E}/{shared_job['id']}/retry", headers=world["colleague"])
    assert problem(refused) == (403, "export.not_requester")
    assert api.post(f"{E}/{shared_job['id']}/retry", headers=world["admin"]).status_code == 200
    before = rows(su)
    # the job's contract gained a conflict meanwhile: the retry is refused and writes nothing
    fail(su, shared_job["id"])
    c04 = world["clause"]["c04"]
    api.patch(
        f"{K}/{shared['id']}", json={"selectedSlots": {slot_of(shared, c04): c04}}, headers=world["lawyer"]
    )
    assert problem(api.post(f"{E}/{shared_job['id']}/retry", headers=world["admin"])) == (
        409,
        "contract.has_conflicts",
    )
    assert rows(su) == before


def test_archive_ends_a_job_and_deletes_its_file(
    api: TestClient,
    world: dict[str, Any],
    contract: dict[str, Any],
    su: psycopg.Connection,
) -> None:
    job = export(api, world["lawyer"], contract["id"]).json()
    assert problem(api.post(f"{E}/{job['id']}/archive", headers=world["lawyer"])) == (
        409,
        "export.not_archivable",
    )
    finish(api, su, world["firm"], job["id"])
    settings: Settings = api.app.state.settings  # type: ignore[attr-defined]
    key = result_key(world["firm"], uuid.UUID(job["id"]), "docx")
    storage = storage_from_settings(settings)
    assert asyncio.run(storage.exists(world["firm"], key))
    archived = api.post(f"{E}/{job['id']}/archive", headers=world["lawyer"])
    assert archived.status_code == 200, archived.text
    assert (archived.json()["status"], archived.json()["archivedAt"] is not None) == ("archived", True)
    assert not asyncio.run(storage.exists(world["firm"], key))
    assert problem(api.get(f"{E}/{job['id']}/download", headers=world["lawyer"])) == (409, "export.not_done")
    assert api.get(f"{E}/{job['id']}", headers=world["lawyer"]).json()["downloadUrl"] is None
    assert api.get(E, headers=world["lawyer"]).json()["total"] == 0
    assert api.get(E, params={"status": "archived"}, headers=world["lawyer"]).json()["total"] == 1
    [(_, object_id, details)] = audit(su, "export.archive")
    assert (object_id, details) == (job["id"], {"previousStatus": "done", "fileDeleted": True})
    # a new export of the same contract and format is possible again
    assert export(api, world["lawyer"], contract["id"]).status_code == 202


def test_stats_count_per_status_and_format_and_measure_durations(
    api: TestClient,
    world: dict[str, Any],
    su: psycopg.Connection,
) -> None:
    contracts = [create(api, world, title=f"V{i}")["id"] for i in range(4)]
    ids = [export(api, world["lawyer"], c).json()["id"] for c in contracts]
    export(api, world["lawyer"], contracts[0], "pdf")
    su.execute("UPDATE export_jobs SET queued_at = now() - interval '90 seconds' WHERE id = %s", (ids[3],))
    for job_id, seconds in zip(ids[:2], (1, 3), strict=True):
        su.execute(
            "UPDATE export_jobs SET status = 'done', queued_at = now() - interval '10 seconds', "
            "started_at = now() - interval '9 seconds', "
            "completed_at = now() - interval '9 seconds' + make_interval(secs => %s) WHERE id = %s",
            (seconds, job_id),
        )
    fail(su, ids[2])
    stats = api.get(f"{E}/stats", headers=world["admin"])
    assert stats.status_code == 200, stats.text
    body = stats.json()
    counts = {(c["status"], c["format"]): c["count"] for c in body["counts"]}
    assert counts == {("done", "docx"): 2, ("failed", "docx"): 1, ("queued", "docx"): 1, ("queued", "pdf"): 1}
    assert (body["total"], body["doneLastDay"], body["failedLastDay"]) == (5, 2, 1)
    assert body["avgDurationMs"] == pytest.approx(2000, abs=1)
    assert body["p95DurationMs"] == pytest.approx(2900, abs=1)  # percentile_cont between 1 s and 3 s
    assert body["avgQueueWaitMs"] == pytest.approx(1000, abs=1)
    assert 89 <= body["oldestQueuedAgeS"] < 150


# -- batches ------------------------------------------------------------------------------------


def test_batch_requests_check_every_contract_and_queue_one_job(
    api: TestClient,
    world: dict[str, Any],
    contract: dict[str, Any],
    su: psycopg.Connection,
) -> None:
    second = create(api, world, title="Zweiter Vertrag")
    colleagues = api.post(
        K, json={"templateId": world["template_id"], "title": "Fremd"}, headers=world["colleague"]
    )
    hidden = colleagues.json()["id"]
    lawyer = world["lawyer"]
    B = f"{E}/batch"
    missing = api.post(B, json={"contractIds": [contract["id"], hidden], "format": "docx"}, headers=lawyer)
    assert problem(missing) == (404, "contract.not_found") and missing.json()["contractId"] == hidden
    assert hidden in missing.json()["detail"]
    twice = api.post(B, json={"contractIds": [contract["id"]] * 2, "format": "docx"}, headers=lawyer)
    assert problem(twice) == (422, "request.validation_failed")
    assert twice.json()["errors"] == [
        {"field": "contractIds", "message": "Jeder Vertrag darf nur einmal vorkommen."}
    ]
    many = api.post(
        B, json={"contractIds": [str(uuid.uuid4()) for _ in range(21)], "format": "pdf"}, headers=lawyer
    )
    assert problem(many) == (422, "request.validation_failed")
    assert problem(api.post(B, json={"contractIds": [], "format": "pdf"}, headers=lawyer))[0] == 422
    odt = api.post(B, json={"contractIds": [contract["id"]], "format": "odt"}, headers=lawyer)
    assert problem(odt) == (403, "export.odt_disabled")
    assert rows(su) == (0, 0)

    response = api.post(
        B, json={"contractIds": [contract["id"], second["id"]], "format": "docx"}, headers=lawyer
    )
    assert response.status_code == 202, response.text
    batch = response.json()
    assert response.headers["Location"] == f"{B}/{batch['id']}"
    assert (batch["status"], batch["total"], batch["doneCount"], batch["manifest"]) == ("queued", 2, 0, [])
    assert rows(su) == (1, 1)
    queue_job = su.execute(
        "SELECT p.task_name FROM export_batches b JOIN procrastinate_jobs p ON p.id = b.queue_job_id WHERE b.id = %s",
        (batch["id"],),
    ).fetchone()
    assert queue_job == ("export.render_batch",)
    [(_, object_id, details)] = audit(su, "export.request")
    assert object_id == batch["id"] and details["contractIds"] == [contract["id"], second["id"]]
    assert problem(api.get(f"{B}/{batch['id']}/download", headers=lawyer)) == (409, "export.not_done")
    # a colleague who does not see every contract of the batch does not see the batch
    assert problem(api.get(f"{B}/{batch['id']}", headers=world["colleague"])) == (
        404,
        "export.batch_not_found",
    )

    # progress, as the worker writes it, then the finished ZIP
    manifest = [
        {
            "contractId": contract["id"],
            "title": TITLE,
            "file": "01 x.docx",
            "sha256": "a" * 64,
            "size": 3,
            "status": "done",
        },
        {
            "contractId": second["id"],
            "status": "failed",
            "errorCode": "export.render_failed",
            "error": "Kaputt.",
        },
    ]
    data = finish_batch(api, su, world["firm"], batch["id"], manifest)
    view = api.get(f"{B}/{batch['id']}", headers=lawyer).json()
    assert (view["status"], view["doneCount"], view["failedCount"]) == ("done", 1, 1)
    assert view["manifest"][1] == {
        "contractId": second["id"],
        "title": None,
        "status": "failed",
        "file": None,
        "sha256": None,
        "size": None,
        "errorCode": "export.render_failed",
        "error": "Kaputt.",
    }
    downloaded = api.get(f"{B}/{batch['id']}/download", headers=lawyer)
    assert (downloaded.status_code, downloaded.content) == (200, data)
    assert downloaded.headers["content-type"] == "application/zip"
    assert downloaded.headers["content-disposition"].startswith('attachment; filename="Vertraege-20')
    signed = api.get(view["downloadUrl"])
    assert (signed.status_code, signed.content) == (200, data)
    assert [d["via"] for _, _, d in audit(su, "export.download")] == ["bearer", "signed_link"]
    # a job's signature does not open a batch
    job_link = view["downloadUrl"].replace(f"batch/{batch['id']}", batch["id"])
    assert api.get(job_link).status_code in (403, 404)


# -- S3: presigned URLs against a real S3 server ------------------------------------------------


class TestS3:
    """The same API on S3 storage (moto's server): ``api`` is overridden for this class, so the
    ``world`` fixture builds its tenants and contracts on it."""

    @pytest.fixture
    def api(self, clean_db: DbUnderTest, tmp_path: Path, s3_endpoint: str) -> Iterator[TestClient]:
        from servanda.app import create_app
        from servanda.platform.config import load_settings

        settings = load_settings(
            servanda_env="test",
            servanda_data_dir=tmp_path / "data",
            s3_endpoint=s3_endpoint,
            s3_bucket=f"exports-{uuid.uuid4().hex[:8]}",
            s3_access_key="test-access-key",
            s3_secret_key="test-secret-key",
        )
        storage = storage_from_settings(settings)
        assert isinstance(storage, S3Storage)
        asyncio.run(storage.ensure_bucket())
        with TestClient(create_app(settings, clean_db.app), raise_server_exceptions=False) as client:
            yield client

    def test_the_download_url_is_a_presigned_url_the_server_honours(
        self,
        api: TestClient,
        world: dict[str, Any],
        contract: dict[str, Any],
        su: psycopg.Connection,
    ) -> None:
        job = export(api, world["lawyer"], contract["id"]).json()
        data = b"PK\x03\x04" + b"s3" * 5000
        finish(api, su, world["firm"], job["id"], data)
        view = api.get(f"{E}/{job['id']}", headers=world["lawyer"]).json()
        url = view["downloadUrl"]
        assert url.startswith(api.app.state.settings.s3_endpoint)  # type: ignore[attr-defined]
        assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["900"]
        fetched = httpx.get(url, timeout=10)
        assert fetched.status_code == 200
        assert fetched.content == data
        assert fetched.headers["content-type"] == DOCX
        assert (
            "filename*=UTF-8''Arbeitsvertrag%20M%C3%BCller-Sch%C3%A4fer.docx"
            in fetched.headers["content-disposition"]
        )
        [(_, object_id, details)] = audit(su, "export.download")
        assert (object_id, details["via"]) == (job["id"], "presigned_url")
        # (moto does not check signatures; that the URL is SigV4 with 900 s is what we control)
        assert parse_qs(urlsplit(url).query)["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        # the bearer download route reads from S3 too
        through_api = api.get(f"{E}/{job['id']}/download", headers=world["lawyer"])
        assert (through_api.status_code, through_api.content) == (200, data)


# -- file names (pure) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "stem", "ascii_name"),
    [
        (TITLE, "Arbeitsvertrag Müller-Schäfer", "Arbeitsvertrag Mueller-Schaefer"),
        ("../../etc/passwd", "etc-passwd", "etc-passwd"),
        ("C:\\Windows\\system32", "C-Windows-system32", "C-Windows-system32"),
        ("Zeile\r\nZwei\x00\x7f", "Zeile Zwei", "Zeile Zwei"),
        ('Miete "Süd"; Straße', "Miete Süd Straße", "Miete Sued Strasse"),
        ("   ", "Vertrag", "Vertrag"),
        (".versteckt", "versteckt", "versteckt"),
        ("Å" * 300, "Å" * 120, "A" * 120),
    ],
)
def test_file_names_from_titles(title: str, stem: str, ascii_name: str) -> None:
    assert links.file_stem(title) == stem
    assert links.ascii_stem(stem) == ascii_name
    header = links.content_disposition(stem, "pdf")
    assert header.startswith(f"attachment; filename=\"{ascii_name}.pdf\"; filename*=UTF-8''")
    assert unquote(header.split("UTF-8''")[1]) == f"{stem}.pdf"
    assert header.isascii() and "\n" not in header and "\r" not in header


def test_deleting_a_draft_takes_its_exports_along_but_not_while_one_runs(
    api: TestClient,
    world: dict[str, Any],
    contract: dict[str, Any],
    su: psycopg.Connection,
) -> None:
    job = export(api, world["lawyer"], contract["id"]).json()
    queued = api.delete(f"/api/v1/contracts/{contract['id']}", headers=world["lawyer"])
    assert problem(queued) == (409, "contract.export_running")
    assert su.execute("SELECT count(*) FROM contracts WHERE id = %s", (contract["id"],)).fetchone() == (1,)
    finish(api, su, world["firm"], job["id"])
    key = result_key(world["firm"], uuid.UUID(job["id"]), "docx")
    storage = storage_from_settings(api.app.state.settings)  # type: ignore[attr-defined]
    assert asyncio.run(storage.exists(world["firm"], key))
    deleted = api.delete(f"/api/v1/contracts/{contract['id']}", headers=world["lawyer"])
    assert deleted.status_code == 204, deleted.text
    assert su.execute("SELECT count(*) FROM export_jobs WHERE id = %s", (job["id"],)).fetchone() == (0,)
    assert not asyncio.run(storage.exists(world["firm"], key))
