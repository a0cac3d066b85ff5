"""The warm LibreOffice converter: DOCX to ODT and to PDF/A-2b, with a timeout and supervision.

One long-lived LibreOffice per :class:`Converter`, driven through unoserver's XML-RPC API.
unoserver's server needs ``import uno`` (Debian's python3-uno), which only ``/usr/bin/python3``
has, not the project venv, so the server runs as a subprocess of the system Python
(:mod:`servanda.export.converter_server`) and this side talks to it with unoserver's client
(``UnoClient``) in a thread. ``docs/export.md`` ("Converter") records the decisions.

- **Isolation**: its own LibreOffice profile (``profile_dir``), free loopback ports chosen at
  start, a private run directory ``<profile_dir>.run`` (temp files, the server's log,
  ``PYTHONPATH`` holding only symlinks to the venv's ``unoserver`` package and its dist-info).
- **One process group** (server, ``oosplash``, ``soffice.bin``): every stop ends in a
  ``killpg``, so nothing is orphaned; when the application dies without :meth:`Converter.close`
  (SIGKILL), the server script notices and stops LibreOffice itself.
- **Serialised**: LibreOffice converts one document at a time; conversions queue on an
  ``asyncio.Lock``. The timeout covers the conversion itself, not the wait for the lock.
- **Supervision**: a conversion over the timeout, or a dead server/LibreOffice, kills the
  group, restarts it, counts ``servanda_export_converter_restarts_total{reason}`` and raises a
  retriable :class:`ConversionError`; a document LibreOffice refuses is ``converter.failed``
  (not retriable: the same bytes fail again).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from unoserver.client import UnoClient

from servanda.platform.logs import get_logger
from servanda.platform.metrics import EXPORT_CONVERTER_RESTARTS

log = get_logger("servanda.export.converter")
# unoserver's client logs three INFO lines per call ("Connecting.", ...): noise in the worker's log.
logging.getLogger("unoserver").setLevel(logging.WARNING)

Target = Literal["odt", "pdf"]

SYSTEM_PYTHON = Path("/usr/bin/python3")
DEBIAN_PACKAGES = "libreoffice-writer-nogui python3-uno fonts-liberation2 fonts-dejavu-core"
# The input is always DOCX: naming the import filter stops LibreOffice from opening
# anything else as plain text (it would "convert" garbage instead of refusing it).
DOCX_IMPORT_FILTER = "MS Word 2007 XML"
UNOSERVER_API = "3"


@dataclass(frozen=True)
class _Export:
    filter: str
    options: tuple[str, ...]


EXPORTS: dict[str, _Export] = {
    "odt": _Export("writer8", ()),
    # SelectPdfVersion=2 is PDF/A-2b (LibreOffice: 0 plain PDF, 1 PDF/A-1b, 2 PDF/A-2b, 3 PDF/A-3b).
    "pdf": _Export("writer_pdf_Export", ("SelectPdfVersion=2",)),
}
# The same export for `soffice --convert-to` (JSON filter options, LibreOffice >= 7.4).
_CLI_EXPORTS = {
    "odt": "odt:writer8",
    "pdf": 'pdf:writer_pdf_Export:{"SelectPdfVersion":{"type":"long","value":"2"}}',
}

# Profile settings written before each start. No thumbnail in ODT files: rendering the first
# page to PNG was a third of a warm ODT conversion (20 pages: ~0.66 s -> ~0.41 s under load).
_PROFILE_ITEMS = (
    '<item oor:path="/org.openoffice.Office.Common/Save/Document">'
    '<prop oor:name="GenerateThumbnail" oor:op="fuse"><value>false</value></prop></item>'
)
_PROFILE_XCU = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
    f"{_PROFILE_ITEMS}\n</oor:items>\n"
)
_SERVER_SCRIPT = Path(__file__).with_name("converter_server.py")
_PROBE_TIMEOUT_S = 1.0
_STOP_GRACE_S = 3.0


class ConversionError(Exception):
    """A conversion that did not produce a file.

    ``code``: ``converter.timeout`` | ``converter.crashed`` (restarted; retry the job),
    ``converter.failed`` (LibreOffice refused the document), ``converter.unavailable``
    (LibreOffice missing, or the converter could not start or was closed).
    """

    def __init__(self, code: str, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.retriable = retriable


class _Client(UnoClient):  # type: ignore[misc]  # unoserver ships no type hints
    """unoserver's client, minus its reconnect loop (5 tries, 10 s apart) on a refused connection:
    a refused connection here means the server died, and the supervisor restarts it at once."""

    def _connect(self, proxy: Any, retries: int = 1, sleep: int = 0) -> Any:
        return super()._connect(proxy, retries=1, sleep=0)


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self._timeout
        return connection


class Converter:
    """A warm LibreOffice behind unoserver, started by :meth:`start`, stopped by :meth:`close`."""

    def __init__(
        self,
        *,
        profile_dir: Path,
        timeout_s: float = 60.0,
        startup_timeout_s: float = 60.0,
        soffice: str | None = None,
        system_python: Path = SYSTEM_PYTHON,
        max_conversions: int = 0,
    ) -> None:
        self.profile_dir = profile_dir
        self.timeout_s = timeout_s
        # Recycle LibreOffice after this many conversions (0: never). Its own caches grow with the
        # documents it has converted (docs/operations.md, load test: +15 % in 20 minutes); a fresh
        # process bounds them at the cost of one start-up (1-3 s) every max_conversions jobs
        # (about 0.35 MB per conversion in the load test).
        self.max_conversions = max_conversions
        self._conversions = 0
        self.startup_timeout_s = startup_timeout_s
        self._soffice = soffice
        self._system_python = system_python
        self._lock = asyncio.Lock()  # one conversion at a time
        self._start_lock = asyncio.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._run_dir: Path | None = None
        self._ready = False
        self._closed = False
        self.restarts = 0

    # -- status -----------------------------------------------------------------------------

    def ready(self) -> bool:
        """True while the converter is started and its server process is alive (no I/O)."""
        return self._ready and self._proc is not None and self._proc.poll() is None

    @property
    def soffice_pid(self) -> int | None:
        """The pid of the running ``soffice.bin`` (the process that converts), if any."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        for pid, comm in _group_members(self._proc.pid):
            if comm == "soffice.bin":
                return pid
        return None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start LibreOffice and the server if they are not running; return when they answer."""
        async with self._start_lock:
            if self._closed:
                raise _closed_error()
            if self._proc is not None and self._proc.poll() is None and self._ready:
                return
            if self._proc is not None:  # died while idle: clean up and count it
                await self._stop(grace_s=0)
                self._count_restart("crashed")
            await self._spawn_until_ready()

    async def close(self) -> None:
        """Stop the server, LibreOffice and its children (SIGTERM, then SIGKILL); idempotent."""
        async with self._start_lock:
            self._closed = True
            await self._stop(grace_s=_STOP_GRACE_S)
            if self._run_dir is not None:
                shutil.rmtree(self._run_dir, ignore_errors=True)
                self._run_dir = None

    # -- conversion -------------------------------------------------------------------------

    async def convert(self, docx: bytes, target: Target) -> bytes:
        """``docx`` converted to ODT or to PDF/A-2b; raises :class:`ConversionError`."""
        export = EXPORTS.get(target)
        if export is None:
            raise ValueError(f"unsupported target {target!r}")
        async with self._lock:
            if self.max_conversions and self._conversions >= self.max_conversions:
                await self._restart("recycled")
            await self.start()
            port = self._port
            started = time.monotonic()
            try:
                result = await asyncio.wait_for(
                    asyncio.to_thread(_convert_blocking, port, docx, target, export), self.timeout_s
                )
            except TimeoutError:
                await self._restart("timeout")
                raise ConversionError(
                    "converter.timeout",
                    f"LibreOffice did not finish the {target} conversion within {self.timeout_s:g} s; restarted",
                    retriable=True,
                ) from None
            except xmlrpc.client.Fault as fault:
                if self._closed:
                    raise _closed_error() from None
                if await self._alive():
                    raise ConversionError(
                        "converter.failed",
                        f"LibreOffice refused the document: {_fault_text(fault)}",
                        retriable=False,
                    ) from None
                await self._restart("crashed")
                raise ConversionError(
                    "converter.crashed", "LibreOffice died during the conversion; restarted", retriable=True
                ) from None
            except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as error:
                if self._closed:
                    raise _closed_error() from None
                await self._restart("crashed")
                raise ConversionError(
                    "converter.crashed",
                    f"the converter process died during the conversion ({type(error).__name__}); restarted",
                    retriable=True,
                ) from None
            self._conversions += 1
            log.debug(
                "converted",
                action="converter.convert",
                target=target,
                duration_ms=round((time.monotonic() - started) * 1000),
            )
            return result

    # -- internals --------------------------------------------------------------------------

    def _count_restart(self, reason: Literal["timeout", "crashed", "recycled"]) -> None:
        self.restarts += 1
        EXPORT_CONVERTER_RESTARTS.labels(reason=reason).inc()
        if reason == "recycled":
            log.info("recycling the LibreOffice converter", action="converter.restart", reason=reason)
        else:
            log.warning("restarting the LibreOffice converter", action="converter.restart", reason=reason)

    async def _restart(self, reason: Literal["timeout", "crashed", "recycled"]) -> None:
        """Kill the whole group and start it again; a failed start is logged, the next convert retries."""
        async with self._start_lock:
            if self._closed:  # close() has stopped everything already
                return
            await self._stop(grace_s=0)
            self._count_restart(reason)
            try:
                await self._spawn_until_ready()
            except ConversionError as error:
                log.error(
                    "the LibreOffice converter did not come back",
                    action="converter.start_failed",
                    error_code=error.code,
                    error=str(error),
                )

    async def _alive(self) -> bool:
        """The server process runs and answers ``info()`` (which asks LibreOffice for its version)."""
        if self._proc is None or self._proc.poll() is not None:
            return False
        return await asyncio.to_thread(_probe, self._port, 2.0)

    async def _spawn_until_ready(self) -> None:
        orphans = _sweep_orphans(self.profile_dir.parent)
        if orphans:
            log.warning(
                "killed LibreOffice processes a dead converter left",
                action="converter.orphans",
                count=orphans,
            )
        soffice = self._soffice or shutil.which("soffice")
        if soffice is None:
            raise ConversionError(
                "converter.unavailable",
                f"LibreOffice is not installed (no 'soffice' on PATH); on Debian install {DEBIAN_PACKAGES}",
                retriable=False,
            )
        if not self._system_python.exists():
            raise ConversionError(
                "converter.unavailable",
                f"{self._system_python} is missing; the converter needs Debian's Python with python3-uno",
                retriable=False,
            )
        self._conversions = 0
        for attempt in (1, 2):
            self._spawn(soffice)
            try:
                await self._wait_ready()
                return
            except ConversionError as error:
                await self._stop(grace_s=0)
                if not error.retriable or attempt == 2:
                    raise
                # A profile left half-written by a killed LibreOffice can keep it from starting.
                log.warning(
                    "converter start failed; retrying with a fresh profile",
                    action="converter.start_failed",
                    error_code=error.code,
                    error=str(error),
                )
                shutil.rmtree(self.profile_dir, ignore_errors=True)

    def _spawn(self, soffice: str) -> None:
        run_dir = self._prepare_run_dir()
        _seed_profile(self.profile_dir)
        port, uno_port = _free_ports(2)
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
        env["PYTHONPATH"] = str(run_dir / "pythonpath")
        with (run_dir / "server.log").open("ab") as server_log:
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv of our own paths, no shell
                [
                    str(self._system_python),
                    "-s",
                    "-P",
                    str(_SERVER_SCRIPT),
                    "--soffice",
                    soffice,
                    "--profile-url",
                    self.profile_dir.resolve().as_uri(),
                    "--port",
                    str(port),
                    "--uno-port",
                    str(uno_port),
                    "--run-dir",
                    str(run_dir),
                    "--parent-pid",
                    str(os.getpid()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=server_log,
                stderr=server_log,
                env=env,
                start_new_session=True,  # its own process group: one killpg stops everything
            )
        self._port = port
        self._ready = False

    def _prepare_run_dir(self) -> Path:
        if self._run_dir is None:
            # Next to the profile, at a fixed name: whatever a killed predecessor left is replaced
            # here instead of piling up in /tmp.
            self._run_dir = self.profile_dir.parent / f"{self.profile_dir.name}.run"
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir.mkdir(parents=True, mode=0o700)
            pythonpath = self._run_dir / "pythonpath"
            pythonpath.mkdir()
            package, dist_info = _unoserver_paths()
            (pythonpath / package.name).symlink_to(package)
            (pythonpath / dist_info.name).symlink_to(dist_info)
        tmp = self._run_dir / "tmp"
        shutil.rmtree(tmp, ignore_errors=True)  # temp files of a killed conversion
        tmp.mkdir()
        return self._run_dir

    async def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout_s
        started = time.monotonic()
        while True:
            if self._proc.poll() is not None:
                tail = self._log_tail()
                if "No module named 'uno'" in tail:
                    raise ConversionError(
                        "converter.unavailable",
                        f"{self._system_python} cannot import uno; on Debian install python3-uno",
                        retriable=False,
                    )
                raise ConversionError(
                    "converter.unavailable",
                    f"the converter exited during start (code {self._proc.returncode}): {tail[-500:]}",
                    retriable=True,
                )
            if await asyncio.to_thread(_probe, self._port, _PROBE_TIMEOUT_S):
                self._ready = True
                log.info(
                    "LibreOffice converter ready",
                    action="converter.ready",
                    duration_ms=round((time.monotonic() - started) * 1000),
                )
                return
            if time.monotonic() > deadline:
                raise ConversionError(
                    "converter.unavailable",
                    f"LibreOffice did not become ready within {self.startup_timeout_s:g} s",
                    retriable=True,
                )
            await asyncio.sleep(0.05)

    async def _stop(self, *, grace_s: float) -> None:
        proc, self._proc, self._ready = self._proc, None, False
        if proc is not None:
            await asyncio.to_thread(_kill_group, proc, grace_s)

    def _log_tail(self) -> str:
        if self._run_dir is None:
            return ""
        try:
            return (self._run_dir / "server.log").read_bytes()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""


class ConverterPool:
    """``size`` warm converters behind the :class:`Converter` interface; a conversion takes an idle one.

    One LibreOffice converts one document at a time; on 2 cores two instances convert about
    1.8x as many documents per second as one (docs/export.md, "Converter"). Each instance has
    its own profile (``profile_dir/instance-N``), process group, timeout and restarts.
    """

    def __init__(
        self,
        *,
        size: int,
        profile_dir: Path,
        timeout_s: float = 60.0,
        startup_timeout_s: float = 60.0,
        soffice: str | None = None,
        system_python: Path = SYSTEM_PYTHON,
        max_conversions: int = 0,
    ) -> None:
        if size < 1:
            raise ValueError("a converter pool needs at least one converter")
        self.converters = [
            Converter(
                profile_dir=profile_dir / f"instance-{index}",
                timeout_s=timeout_s,
                startup_timeout_s=startup_timeout_s,
                soffice=soffice,
                system_python=system_python,
                max_conversions=max_conversions,
            )
            for index in range(size)
        ]
        self._idle: asyncio.Queue[Converter] = asyncio.Queue()
        for converter in self.converters:
            self._idle.put_nowait(converter)

    def ready(self) -> bool:
        """True while at least one converter can take a job (the others may be restarting)."""
        return any(converter.ready() for converter in self.converters)

    @property
    def restarts(self) -> int:
        return sum(converter.restarts for converter in self.converters)

    async def start(self) -> None:
        await asyncio.gather(*(converter.start() for converter in self.converters))

    async def convert(self, docx: bytes, target: Target) -> bytes:
        converter = await self._idle.get()
        try:
            return await converter.convert(docx, target)
        finally:
            self._idle.put_nowait(converter)

    async def close(self) -> None:
        await asyncio.gather(*(converter.close() for converter in self.converters))


# -- blocking helpers (run in threads) ------------------------------------------------------


def _convert_blocking(port: int, docx: bytes, target: str, export: _Export) -> bytes:
    client = _Client(server="127.0.0.1", port=str(port), host_location="remote")  # bytes over XML-RPC
    result = client.convert(
        indata=docx,
        convert_to=target,
        filtername=export.filter,
        filter_options=list(export.options),
        update_index=False,
        infiltername=DOCX_IMPORT_FILTER,
    )
    if not isinstance(result, bytes) or not result:
        raise xmlrpc.client.Fault(0, "LibreOffice returned no output")
    return result


def _probe(port: int, timeout_s: float) -> bool:
    """True when the server answers ``info()`` with the API version this client speaks."""
    proxy = xmlrpc.client.ServerProxy(
        f"http://127.0.0.1:{port}", transport=_TimeoutTransport(timeout_s), allow_none=True
    )
    try:
        with proxy:
            info = proxy.info()
    except (OSError, http.client.HTTPException, xmlrpc.client.Error):
        return False
    return isinstance(info, dict) and info.get("api") == UNOSERVER_API


def _kill_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """Stop the process group led by ``proc`` (the server), leaving no process and no zombie.

    ``soffice.bin`` is signalled first - SIGTERM with ``grace_s`` to exit, or SIGKILL at once -
    so each process is reaped by its living parent: ``oosplash`` exits when ``soffice.bin`` does,
    the server when ``oosplash`` does, and we reap the server. Only then does the whole group get
    SIGKILL, for anything left (a hung server). Killing the leader first would orphan LibreOffice
    to PID 1, which in a container may reap late or never.
    """
    pgid = proc.pid
    for pid, comm in _group_members(pgid):
        if comm != "soffice.bin":
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM if grace_s > 0 else signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=max(grace_s, 2.0))
    _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    deadline = time.monotonic() + 5
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_members(pgid: int) -> list[tuple[int, str]]:
    """Living (not zombie) processes of process group ``pgid``, as (pid, comm), from /proc."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, pgrp = _state_and_group(stat)
        if pgrp == pgid and state not in ("Z", "X"):
            members.append((int(entry.name), comm))
    return members


def _sweep_orphans(root: Path) -> int:
    """SIGKILL LibreOffice processes with a profile below ``root`` whose converter is gone; returns how many.

    The server script stops LibreOffice when the application dies, and LibreOffice's launcher gets
    SIGTERM from the kernel when the server dies (converter_server.py). What is left is a
    ``soffice.bin`` whose launcher and server were killed together (SIGKILL of every process of
    a worker, an OOM kill of the group): it keeps its process group, whose leader - the server -
    is gone. A living converter's leader runs, so another worker's LibreOffice on the same data
    directory is never touched.
    """
    marker = f"-env:UserInstallation={root.resolve().as_uri()}/".encode()
    killed = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if marker not in Path(entry.path, "cmdline").read_bytes():
                continue
            state, pgrp = _state_and_group(Path(entry.path, "stat").read_text())
        except OSError:
            continue
        if state in ("Z", "X") or _running(pgrp):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(entry.name), signal.SIGKILL)
            killed += 1
    return killed


def _state_and_group(stat: str) -> tuple[str, int]:
    """State and process group from a ``/proc/<pid>/stat`` line (the name may contain spaces)."""
    state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
    return state, int(pgrp)


def _running(pid: int) -> bool:
    try:
        state, _ = _state_and_group(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return False
    return state not in ("Z", "X")


def _seed_profile(profile_dir: Path) -> None:
    """Create or repair the profile before a start: our settings in, a stale lock file out."""
    (profile_dir / "user").mkdir(parents=True, exist_ok=True)
    # A lock file of the previous (killed) instance; its process group is gone, so it is stale.
    (profile_dir / ".lock").unlink(missing_ok=True)
    xcu = profile_dir / "user" / "registrymodifications.xcu"
    try:
        text = xcu.read_text(encoding="utf-8")
    except FileNotFoundError:
        xcu.write_text(_PROFILE_XCU, encoding="utf-8")
        return
    if "GenerateThumbnail" not in text and "</oor:items>" in text:
        xcu.write_text(text.replace("</oor:items>", f"{_PROFILE_ITEMS}\n</oor:items>", 1), encoding="utf-8")
    elif "</oor:items>" not in text:  # cut short by a kill: LibreOffice rebuilds the rest
        xcu.write_text(_PROFILE_XCU, encoding="utf-8")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _unoserver_paths() -> tuple[Path, Path]:
    """The venv's ``unoserver`` package directory and its dist-info (unoserver reads its version)."""
    spec = importlib.util.find_spec("unoserver")
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError(
            "converter.unavailable", "the unoserver package is not installed", retriable=False
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    dist_infos = sorted(package.parent.glob("unoserver-*.dist-info"))
    if not dist_infos:
        raise ConversionError("converter.unavailable", "unoserver's dist-info is missing", retriable=False)
    return package, dist_infos[-1]


def _closed_error() -> ConversionError:
    return ConversionError("converter.unavailable", "the converter is closed", retriable=True)


def _fault_text(fault: xmlrpc.client.Fault) -> str:
    text = str(fault.faultString).strip().splitlines()
    return text[-1][:300] if text else "unknown error"


def cold_convert(docx_path: Path, target: Target, outdir: Path, *, timeout_s: float = 120.0) -> Path:
    """The benchmark floor: a bare ``soffice --headless --convert-to`` with a fresh profile."""
    soffice = shutil.which("soffice")
    if soffice is None:
        raise ConversionError(
            "converter.unavailable",
            f"LibreOffice is not installed (no 'soffice' on PATH); on Debian install {DEBIAN_PACKAGES}",
            retriable=False,
        )
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="servanda-soffice-") as profile:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                soffice,
                f"-env:UserInstallation={Path(profile).as_uri()}",
                "--headless",
                "--norestore",
                "--convert-to",
                _CLI_EXPORTS[target],
                "--outdir",
                str(outdir),
                str(docx_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a timeout kills soffice.bin too, not only the wrapper
        )
        try:
            _, stderr_bytes = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc, 0)
            raise ConversionError(
                "converter.timeout", f"soffice --convert-to took longer than {timeout_s:g} s", retriable=True
            ) from None
    result = outdir / f"{docx_path.stem}.{target}"
    if proc.returncode != 0 or not result.exists():
        stderr = stderr_bytes.decode("utf-8", "replace")[-500:]
        raise ConversionError(
            "converter.failed",
            f"soffice --convert-to exited with {proc.returncode}: {stderr}",
            retriable=False,
        )
    return result
