"""The demo of `servanda up`, end to end: a lawyer exports to DOCX, ODT and PDF and downloads
them, and a batch of 5 contracts comes back as one ZIP with a manifest.

`servanda up` runs the embedded database, the API and its export worker (a child process
with a warm LibreOffice); nothing here talks to the database directly.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import docx
import httpx

from tests.test_cli import _free_port
from tests.test_contract_documents import ANSWERS


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_demo_lawyer_exports_docx_odt_pdf_and_a_batch(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "SERVANDA_DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    log = (tmp_path / "up.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "servanda", "up", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, (tmp_path / "up.log").read_text()
        try:
            return httpx.get(f"{base}/health/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        _wait(ready, 120, "servanda up")
        login = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"tenant": "kanzlei-demo", "email": "anwalt@kanzlei-demo.de", "password": "servanda-demo"},
        )
        assert login.status_code == 200, login.text
        client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {login.json()['accessToken']}"}
        )
        found = client.get("/api/v1/catalog/templates", params={"q": "Arbeitsvertrag"}).json()["items"]
        template = next(t for t in found if t["title"] == "Arbeitsvertrag")

        def contract(title: str) -> str:
            created = client.post(
                "/api/v1/contracts",
                json={"templateId": template["id"], "title": title, "clientReference": "AZ 1/26"},
            )
            assert created.status_code == 201, created.text
            contract_id = str(created.json()["id"])
            saved = client.patch(f"/api/v1/contracts/{contract_id}", json={"answers": ANSWERS})
            assert saved.status_code == 200, saved.text
            return contract_id

        def finished(path: str) -> dict[str, Any] | None:
            body = client.get(path).json()
            assert body["status"] not in ("failed",), body
            return dict(body) if body["status"] == "done" else None

        main = contract("Arbeitsvertrag Müller/Schäfer")
        assert client.post(f"/api/v1/contracts/{main}/complete").status_code == 200
        files: dict[str, bytes] = {}
        for fmt in ("docx", "odt", "pdf"):
            job = client.post("/api/v1/export-jobs", json={"contractId": main, "format": fmt})
            assert job.status_code == 202, job.text
            done = _wait(
                lambda j=job.json()["id"]: finished(f"/api/v1/export-jobs/{j}"), 120, f"{fmt} export"
            )
            download = client.get(f"/api/v1/export-jobs/{done['id']}/download")
            assert download.status_code == 200, download.text
            assert "filename*=UTF-8''Arbeitsvertrag%20M%C3%BCller" in download.headers["content-disposition"]
            assert hashlib_hex(download.content) == done["sha256"]
            files[fmt] = download.content
        document = docx.Document(io.BytesIO(files["docx"]))
        body = "\n".join(p.text for p in document.paragraphs)
        assert "Arbeitsvertrag" in body and "Erika Mustermann" in body
        assert document.core_properties.title == "Arbeitsvertrag Müller/Schäfer"
        assert files["pdf"].startswith(b"%PDF") and zipfile.is_zipfile(io.BytesIO(files["odt"]))

        ids = [contract(f"AV Batch {i}") for i in range(5)]
        batch = client.post("/api/v1/export-jobs/batch", json={"contractIds": ids, "format": "docx"})
        assert batch.status_code == 202, batch.text
        _wait(lambda: finished(f"/api/v1/export-jobs/batch/{batch.json()['id']}"), 120, "batch export")
        archive = client.get(f"/api/v1/export-jobs/batch/{batch.json()['id']}/download")
        assert archive.status_code == 200, archive.text
        with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
            names = zipped.namelist()
            manifest = json.loads(zipped.read("manifest.json"))
            assert len([n for n in names if n.endswith(".docx")]) == 5
            entries = manifest["contracts"]
            assert [e["contractId"] for e in entries] == ids
            for entry in entries:
                assert (
                    entry["status"] == "done" and hashlib_hex(zipped.read(entry["file"])) == entry["sha256"]
                )
                assert "Erika Mustermann" in "\n".join(
                    p.text for p in docx.Document(io.BytesIO(zipped.read(entry["file"]))).paragraphs
                )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def hashlib_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
