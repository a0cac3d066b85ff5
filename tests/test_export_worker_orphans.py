"""A SIGKILLed export worker leaves no LibreOffice behind (issue 15), with a real worker process.

The converter server's watchdog stops LibreOffice when the worker dies, but it dies with the
server: when the server is killed together with the worker (an OOM kill of both), the server's
sentinel kills its process group (converter_server.py). A ``soffice.bin`` left when the sentinel
was killed too (a kill of every process the worker had before LibreOffice started) is swept by
the next converter that starts on the same data directory (converter.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.test_export_worker import Worker, data_dir, workers  # noqa: F401 - fixtures


def _office(worker: Worker) -> tuple[list[psutil.Process], psutil.Process, psutil.Process, str]:
    """The worker's converter server and its sentinel, LibreOffice's launcher (oosplash), soffice.bin
    and its profile argument."""
    worker.wait_converter()
    children = psutil.Process(worker.process.pid).children(recursive=True)
    by_name = {child.name(): child for child in children}
    server = [c for c in children if any("converter_server" in a for a in c.cmdline())]
    assert len(server) == 2  # the server and its sentinel
    office = by_name["soffice.bin"]
    profile = next(a for a in office.cmdline() if a.startswith("-env:UserInstallation="))
    return server, by_name["oosplash"], office, profile


def _with_profile(profile: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if profile in (process.info["cmdline"] or []) and process.pid != os.getpid():
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
    return found


def _gone(profile: str, timeout: float = 30) -> list[psutil.Process]:
    """Poll until no process runs with ``profile`` (or the deadline); returns what is left."""
    deadline = time.monotonic() + timeout
    while (left := _with_profile(profile)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture
def profiles() -> Iterator[list[str]]:
    """Profiles whose processes the test kills at the end, whatever happened (no orphan from a failure)."""
    seen: list[str] = []
    yield seen
    for profile in seen:
        for process in _with_profile(profile):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


def test_libreoffice_dies_when_the_worker_and_its_converter_server_are_killed(
    workers: Callable[..., Worker],  # noqa: F811
    profiles: list[str],
) -> None:
    worker = workers()
    server_and_sentinel, _launcher, _office_process, profile = _office(worker)
    profiles.append(profile)
    server = next(p for p in server_and_sentinel if p.ppid() == worker.process.pid)
    server.kill()  # first, so its watchdog never sees the worker die
    worker.process.kill()
    worker.process.wait(30)
    left = _gone(profile)
    assert left == [], f"still running with the worker's profile: {[(p.pid, p.name()) for p in left]}"


def test_the_next_worker_sweeps_a_libreoffice_whose_launcher_was_killed_too(
    workers: Callable[..., Worker],  # noqa: F811
    profiles: list[str],
    data_dir: Path,  # noqa: F811
) -> None:
    victim = workers()
    server_and_sentinel, launcher, office, profile = _office(victim)
    profiles.append(profile)
    for process in sorted(server_and_sentinel, key=lambda p: p.ppid() == victim.process.pid):
        process.kill()  # the sentinel first, then the server
    victim.process.kill()
    victim.process.wait(30)
    launcher.kill()
    time.sleep(1)
    assert office.status() != psutil.STATUS_ZOMBIE  # orphaned: nobody stops it
    assert (data_dir / "libreoffice").is_dir()

    successor = workers()
    _, _, fresh, fresh_profile = _office(successor)  # its converter started: the sweep ran
    profiles.append(fresh_profile)
    assert fresh_profile != profile and fresh.pid != office.pid
    assert _gone(profile) == []
    assert _with_profile(fresh_profile)  # the successor's own LibreOffice is not swept
    assert successor.process.poll() is None
    successor.stop(signal.SIGTERM)
