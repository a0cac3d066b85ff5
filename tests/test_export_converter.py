"""The warm LibreOffice converter against the real LibreOffice (issue 12, point 4).

One module-scoped converter (LibreOffice starts once, ~0.3-1 s); the supervision tests kill or
stop its ``soffice.bin`` and check that the next conversion succeeds on the restarted one.
Outputs are read back by real consumers: ``pdftotext``/``pdfinfo`` (poppler) for the PDF, the
ODT's ``content.xml`` for the ODT.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docx
import psutil
import pytest
from defusedxml import ElementTree
from prometheus_client import REGISTRY

from servanda.export.converter import ConversionError, Converter, ConverterPool, cold_convert

log = logging.getLogger(__name__)
T = TypeVar("T")

TITLE = "Dienstleistungsvertrag über Prüfungsleistungen"
AMOUNT = "10.000,00 EUR"
UMLAUTS = "Änderungen größerer Übergabeprotokolle für Müller & Söhne"


def make_docx(sections: int = 6) -> bytes:
    document = docx.Document()
    document.add_heading(TITLE, 0)
    for number in range(1, sections + 1):
        document.add_heading(f"§ {number} Regelung {number}", 1)
        document.add_paragraph(f"Die Vergütung beträgt {AMOUNT}. {UMLAUTS}. " * 4)
        document.add_paragraph("Gerichtsstand ist München; es gilt deutsches Recht. " * 6)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


SMALL_DOCX = make_docx(6)  # ~3 pages
BIG_DOCX = make_docx(300)  # ~100 pages: a conversion that runs long enough to be interrupted


class Env:
    def __init__(self, converter: Converter, runner: asyncio.Runner) -> None:
        self.converter = converter
        self.runner = runner

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    runner = asyncio.Runner()
    converter = Converter(profile_dir=tmp_path_factory.mktemp("converter") / "profile", timeout_s=60)
    started = time.monotonic()
    runner.run(converter.start())
    log.info("converter start (cold profile): %.2f s", time.monotonic() - started)
    try:
        yield Env(converter, runner)
    finally:
        runner.run(converter.close())
        runner.close()


def restarts(reason: str) -> float:
    return REGISTRY.get_sample_value("servanda_export_converter_restarts_total", {"reason": reason}) or 0.0


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()


def pdf_xmp(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "meta.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdfinfo", "-meta", str(path)], capture_output=True, check=True).stdout.decode()


def odt_text(odt: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(odt)) as archive:
        assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.text"
        root = ElementTree.fromstring(archive.read("content.xml"))
    return " ".join(
        "".join(element.itertext())
        for element in root.iter()
        if element.tag.endswith("}p") or element.tag.endswith("}h")
    )


def assert_pdfa_2b(xmp: str) -> None:
    # XMP may write the PDF/A identification as elements or as attributes.
    part = re.search(r"pdfaid:part(?:>|=\")\s*(\d)", xmp)
    conformance = re.search(r"pdfaid:conformance(?:>|=\")\s*([A-Za-z])", xmp)
    assert part and part.group(1) == "2", xmp
    assert conformance and conformance.group(1) == "B", xmp


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_contract_text(text: str) -> None:
    flat = " ".join(text.split())
    assert TITLE in flat
    assert "§ 1 Regelung 1" in flat and "§ 6 Regelung 6" in flat
    assert AMOUNT in flat
    assert UMLAUTS in flat
    assert "Gerichtsstand ist München" in flat


def test_docx_to_pdf_is_pdfa_2b_with_the_contract_text(env: Env, tmp_path: Path) -> None:
    pdf = env.run(env.converter.convert(SMALL_DOCX, "pdf"))
    assert pdf.startswith(b"%PDF-")
    assert_contract_text(pdf_text(pdf, tmp_path))
    assert_pdfa_2b(pdf_xmp(pdf, tmp_path))


def test_docx_to_odt_keeps_the_contract_text(env: Env) -> None:
    odt = env.run(env.converter.convert(SMALL_DOCX, "odt"))
    assert_contract_text(odt_text(odt))
    with zipfile.ZipFile(io.BytesIO(odt)) as archive:  # the profile turns the page-1 PNG off (speed)
        assert not [name for name in archive.namelist() if name.startswith("Thumbnails/")]


def test_warm_conversions_reuse_one_libreoffice(env: Env) -> None:
    pid = env.converter.soffice_pid
    for target in ("pdf", "odt"):
        timings = []
        for _ in range(3):
            started = time.monotonic()
            assert env.run(env.converter.convert(SMALL_DOCX, target))
            timings.append(time.monotonic() - started)
        log.info("warm %s (3 pages): %s s", target, ", ".join(f"{t:.3f}" for t in timings))
    assert env.converter.soffice_pid == pid  # no new LibreOffice per conversion
    assert env.converter.ready()


def test_concurrent_conversions_are_serialised_and_all_succeed(env: Env, tmp_path: Path) -> None:
    async def three() -> list[bytes]:
        return await asyncio.gather(*(env.converter.convert(SMALL_DOCX, "pdf") for _ in range(3)))

    for pdf in env.run(three()):
        assert_contract_text(pdf_text(pdf, tmp_path))


def test_a_document_libreoffice_refuses_is_failed_not_retried(env: Env) -> None:
    before = env.converter.restarts
    with pytest.raises(ConversionError) as refused:
        env.run(env.converter.convert(b"Kein DOCX, nur Text.", "pdf"))  # not opened as plain text
    assert refused.value.code == "converter.failed"
    assert refused.value.retriable is False
    assert env.converter.restarts == before  # LibreOffice is fine: no restart
    assert env.run(env.converter.convert(SMALL_DOCX, "odt"))


def test_killing_soffice_mid_conversion_restarts_and_the_retry_succeeds(env: Env, tmp_path: Path) -> None:
    converter = env.converter
    old_pid = converter.soffice_pid
    assert old_pid is not None
    counted = restarts("crashed")

    async def kill_mid_conversion() -> None:
        task = asyncio.create_task(converter.convert(BIG_DOCX, "pdf"))
        baseline = cpu_ticks(old_pid)
        # Mid-conversion: LibreOffice has used 50 ms of CPU on this document.
        while cpu_ticks(old_pid) < baseline + 5:
            assert not task.done()
            await asyncio.sleep(0.01)
        os.kill(old_pid, signal.SIGKILL)
        await task

    with pytest.raises(ConversionError) as crashed:
        env.run(kill_mid_conversion())
    assert crashed.value.code == "converter.crashed"
    assert crashed.value.retriable is True
    assert restarts("crashed") == counted + 1
    # Restarted automatically: the retried job succeeds on a new LibreOffice.
    assert converter.ready()
    assert converter.soffice_pid not in (None, old_pid)
    assert_contract_text(pdf_text(env.run(converter.convert(SMALL_DOCX, "pdf")), tmp_path))


def test_a_hung_libreoffice_hits_the_timeout_is_killed_and_restarted(env: Env) -> None:
    converter = env.converter
    old_pid = converter.soffice_pid
    assert old_pid is not None
    counted = restarts("timeout")
    os.kill(old_pid, signal.SIGSTOP)  # hangs: takes the request, never answers
    converter.timeout_s = 2.0
    try:
        started = time.monotonic()
        with pytest.raises(ConversionError) as hung:
            env.run(converter.convert(SMALL_DOCX, "odt"))
        waited = time.monotonic() - started
    finally:
        converter.timeout_s = 60.0
        if alive(old_pid):
            os.kill(old_pid, signal.SIGKILL)
    assert hung.value.code == "converter.timeout"
    assert hung.value.retriable is True
    assert waited < 30  # the timeout fired, not a test or socket timeout
    assert restarts("timeout") == counted + 1
    assert not alive(old_pid)  # the stopped process was killed, not left behind
    assert converter.soffice_pid not in (None, old_pid)
    assert_contract_text(odt_text(env.run(converter.convert(SMALL_DOCX, "odt"))))


def test_a_libreoffice_that_died_while_idle_is_restarted_before_the_next_job(env: Env) -> None:
    converter = env.converter
    old_pid = converter.soffice_pid
    assert old_pid is not None
    counted = restarts("crashed")
    os.kill(old_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while converter.ready() and time.monotonic() < deadline:  # the server exits with LibreOffice
        time.sleep(0.02)
    assert not converter.ready()  # what the worker's /health/ready reports meanwhile
    assert env.run(converter.convert(SMALL_DOCX, "pdf")).startswith(b"%PDF-")
    assert restarts("crashed") == counted + 1
    assert converter.ready()


def test_close_leaves_no_libreoffice_process(tmp_path: Path) -> None:
    """close() in the middle of a conversion (the worker's shutdown): everything goes, no restart."""

    async def scenario() -> tuple[list[int], Converter]:
        converter = Converter(profile_dir=tmp_path / "profile")
        await converter.start()
        await converter.convert(SMALL_DOCX, "odt")
        assert converter._proc is not None
        server = psutil.Process(converter._proc.pid)
        pids = [server.pid, *(child.pid for child in server.children(recursive=True))]
        soffice = converter.soffice_pid
        assert soffice is not None
        in_flight = asyncio.create_task(converter.convert(BIG_DOCX, "pdf"))
        baseline = cpu_ticks(soffice)
        while cpu_ticks(soffice) < baseline + 5:
            assert not in_flight.done()
            await asyncio.sleep(0.01)
        await converter.close()
        with pytest.raises(ConversionError) as interrupted:
            await in_flight
        assert interrupted.value.code == "converter.unavailable"
        assert converter.restarts == 0  # closing is not a crash
        with pytest.raises(ConversionError) as closed:
            await converter.convert(SMALL_DOCX, "odt")
        assert closed.value.code == "converter.unavailable"
        return pids, converter

    pids, converter = asyncio.run(scenario())
    names = {psutil.Process(pid).name() for pid in pids if alive(pid)}
    assert len(pids) >= 3, pids  # server, oosplash, soffice.bin
    assert names == set()
    assert not converter.ready() and converter.soffice_pid is None
    assert not (tmp_path / "profile.run").exists()  # temp files, log and PYTHONPATH links removed
    # No process anywhere still uses this converter's profile (nothing escaped the group).
    profile = str(tmp_path / "profile")
    leftovers = [
        p.pid for p in psutil.process_iter(["cmdline"]) if profile in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []


def test_libreoffice_is_recycled_after_max_conversions(tmp_path: Path) -> None:
    """After ``max_conversions`` conversions the next job gets a fresh LibreOffice (its caches start
    empty); the jobs themselves all succeed and the old process group is gone."""

    async def scenario() -> tuple[list[int | None], int, int]:
        converter = Converter(profile_dir=tmp_path / "profile", max_conversions=2)
        try:
            counted = restarts("recycled")
            pids = []
            for target in ("odt", "pdf", "odt", "pdf", "odt"):
                result = await converter.convert(SMALL_DOCX, target)
                assert result.startswith(b"%PDF-") if target == "pdf" else result[:2] == b"PK"
                pids.append(converter.soffice_pid)
            return pids, converter.restarts, int(restarts("recycled") - counted)
        finally:
            await converter.close()

    pids, restarted, recycled = asyncio.run(scenario())
    assert None not in pids
    # two conversions per LibreOffice: 1-2 on the first, 3-4 on the second, 5 on the third
    assert pids[0] == pids[1] and pids[2] == pids[3]
    assert len({pids[0], pids[2], pids[4]}) == 3, pids
    assert restarted == 2 and recycled == 2
    assert not any(alive(pid) for pid in (pids[0], pids[2]) if pid is not None)


def test_missing_libreoffice_is_unavailable_and_names_the_debian_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no soffice on PATH
    converter = Converter(profile_dir=tmp_path / "profile")
    with pytest.raises(ConversionError) as missing:
        asyncio.run(converter.start())
    assert missing.value.code == "converter.unavailable"
    assert missing.value.retriable is False
    assert "libreoffice-writer-nogui" in str(missing.value) and "python3-uno" in str(missing.value)


def test_cold_soffice_convert_to_is_the_benchmark_floor(tmp_path: Path) -> None:
    source = tmp_path / "vertrag.docx"
    source.write_bytes(SMALL_DOCX)
    started = time.monotonic()
    result = cold_convert(source, "pdf", tmp_path / "out")
    log.info("cold soffice --convert-to pdf (3 pages): %.2f s", time.monotonic() - started)
    assert result == tmp_path / "out" / "vertrag.pdf"
    pdf = result.read_bytes()
    assert_contract_text(pdf_text(pdf, tmp_path))
    assert_pdfa_2b(pdf_xmp(pdf, tmp_path))


def test_a_pool_converts_on_all_its_libreoffices_at_once_and_closes_them_all(tmp_path: Path) -> None:
    async def scenario() -> list[int]:
        pool = ConverterPool(size=2, profile_dir=tmp_path / "profiles")
        await pool.start()
        try:
            assert pool.ready()
            pids = [converter.soffice_pid for converter in pool.converters]
            assert None not in pids and len(set(pids)) == 2
            before = [cpu_ticks(pid) for pid in pids if pid]
            started = time.monotonic()
            results = await asyncio.gather(*(pool.convert(SMALL_DOCX, "odt") for _ in range(6)))
            log.info("pool of 2: 6 ODT conversions in %.2f s", time.monotonic() - started)
            for odt in results:
                assert_contract_text(odt_text(odt))
            used = [cpu_ticks(pid) - ticks for pid, ticks in zip(pids, before, strict=True) if pid]
            assert all(ticks > 0 for ticks in used), used  # both LibreOffices converted
            group = [
                pid
                for converter in pool.converters
                if converter._proc is not None
                for pid in (
                    converter._proc.pid,
                    *(c.pid for c in psutil.Process(converter._proc.pid).children(True)),
                )
            ]
        finally:
            await pool.close()
        return group

    group = asyncio.run(scenario())
    assert len(group) >= 6  # 2 x (server, oosplash, soffice.bin)
    assert [pid for pid in group if alive(pid)] == []


def test_a_killed_application_leaves_no_libreoffice_behind(tmp_path: Path) -> None:
    """The worker dies by SIGKILL (no close()): the server script notices and stops LibreOffice."""
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from servanda.export.converter import Converter\n"
        "async def main():\n"
        f"    converter = Converter(profile_dir=Path({str(tmp_path / 'profile')!r}))\n"
        "    await converter.start()\n"
        "    print('PIDS', converter._proc.pid, converter.soffice_pid, converter._run_dir, flush=True)\n"
        "    await asyncio.sleep(120)\n"
        "asyncio.run(main())\n"
    )
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None
        line = ""
        while not line.startswith("PIDS "):  # the converter's own log lines come first
            line = app.stdout.readline()
            assert line, "the application ended before its converter was ready"
        server, soffice, run_dir = line.split()[1:]
        server_pid, soffice_pid = int(server), int(soffice)
        assert Path(run_dir).is_dir()
        assert alive(server_pid) and alive(soffice_pid)
    finally:
        app.kill()
        app.wait()
    deadline = time.monotonic() + 15
    while (alive(server_pid) or alive(soffice_pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(soffice_pid)
    assert not alive(server_pid)
    assert not Path(run_dir).exists()  # the server script removed the run directory
