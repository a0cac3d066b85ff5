"""The warm converter's server process; runs under Debian's ``/usr/bin/python3``, not the project venv.

unoserver's server needs ``import uno`` (python3-uno), which only the system Python has.
:mod:`servanda.export.converter` starts this file as ``/usr/bin/python3 -s -P converter_server.py``
in a new session (so one ``killpg`` ends it, LibreOffice and LibreOffice's children) with
``PYTHONPATH`` set to a private directory that holds only symlinks to the venv's ``unoserver``
package and its dist-info, so nothing else of the venv shadows the system Python's packages.

It does what ``unoserver``'s own ``main()`` does minus its fixed start-up sleeps (5 s + 2 s):
start LibreOffice with its own profile on a loopback UNO port, wait until that port accepts
connections, then serve unoserver's XML-RPC API (``UnoServer.serve``) on a second loopback port.
When LibreOffice exits, this process exits too, so the client sees a dead converter at once;
when the application dies without stopping it (SIGKILL), this process stops LibreOffice and
itself, so a killed worker leaves no LibreOffice behind. When this process dies first (killed
together with the application, say), a sentinel child of it kills the process group, so
LibreOffice never outlives its server (:func:`_start_sentinel`).
No conversion timeout here: the client owns the timeout and kills the whole process group.

Standard library and unoserver only; never imported by the application.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import xmlrpc.server
from pathlib import Path

from unoserver.server import UnoServer

OFFICE_FLAGS = (
    "--headless",
    "--invisible",
    "--nocrashreport",
    "--nodefault",
    "--nologo",
    "--nofirststartwizard",
    "--norestore",
)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


_stopping = threading.Event()


def _watch_parent(parent_pid: int, office: subprocess.Popen[bytes], run_dir: Path) -> None:
    """The application died without closing the converter (e.g. SIGKILL): take LibreOffice down too.

    Polls the parent pid rather than using PR_SET_PDEATHSIG, which fires when the spawning
    *thread* ends, not the process.
    """
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    _stopping.set()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _group_members():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            office.wait(timeout=3)
    shutil.rmtree(run_dir, ignore_errors=True)  # nobody else will delete it now
    os._exit(1)


def _start_sentinel() -> None:
    """Fork a sentinel that SIGKILLs this process group as soon as this process is gone.

    It blocks on a pipe whose only write end this process holds (not inherited: ``os.pipe`` is
    close-on-exec): the read returns when this process dies, however it dies, also by SIGKILL,
    when :func:`_watch_parent` cannot run any more. Then LibreOffice (``oosplash`` and
    ``soffice.bin``) and the sentinel itself go. Not PR_SET_PDEATHSIG on LibreOffice: it reaches
    only the launcher ``oosplash``, whose SIGTERM handler can hang (seen here: blocked in its
    handler while joining ``soffice.bin``) and whose SIGKILL orphans ``soffice.bin``. Forked
    before any thread starts.
    """
    read_end, write_end = os.pipe()
    if os.fork() != 0:
        os.close(read_end)
        _SENTINEL_PIPE.append(write_end)  # open until this process ends
        return
    os.close(write_end)
    try:
        while os.read(read_end, 1):
            pass
    finally:
        os.killpg(0, signal.SIGKILL)  # LibreOffice and this sentinel
        os._exit(0)


_SENTINEL_PIPE: list[int] = []


def _group_members() -> list[int]:
    """The other living processes of this process group (LibreOffice), from /proc."""
    me, group = os.getpid(), os.getpgrp()
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(pgrp) == group and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def main() -> int:
    parser = argparse.ArgumentParser(prog="converter_server")
    parser.add_argument("--soffice", required=True)
    parser.add_argument("--profile-url", required=True, help="file:// URL of the LibreOffice profile")
    parser.add_argument("--port", type=int, required=True, help="XML-RPC port")
    parser.add_argument("--uno-port", type=int, required=True)
    parser.add_argument(
        "--run-dir", required=True, help="the converter's private directory; temp files in tmp/"
    )
    parser.add_argument("--parent-pid", type=int, required=True, help="stop when this process is gone")
    args = parser.parse_args()
    # No access log line per conversion in the server's log file.
    xmlrpc.server.SimpleXMLRPCRequestHandler.log_request = lambda *_args, **_kwargs: None  # type: ignore[method-assign]

    accept = f"socket,host=127.0.0.1,port={args.uno_port},tcpNoDelay=1;urp;StarOffice.ComponentContext"
    _start_sentinel()
    office = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        [args.soffice, *OFFICE_FLAGS, f"-env:UserInstallation={args.profile_url}", f"--accept={accept}"],
        stdin=subprocess.DEVNULL,
    )
    watcher = threading.Thread(
        target=_watch_parent,
        args=(args.parent_pid, office, Path(args.run_dir)),
        name="parent",
        daemon=True,
    )
    watcher.start()
    while not _port_open(args.uno_port):
        if office.poll() is not None:
            print(
                f"converter_server: LibreOffice exited with {office.returncode} during start", file=sys.stderr
            )
            return 2
        time.sleep(0.05)

    server = UnoServer(
        interface="127.0.0.1",
        port=str(args.port),
        uno_interface="127.0.0.1",
        uno_port=str(args.uno_port),
        user_installation=args.profile_url,
        temp_dir=str(Path(args.run_dir) / "tmp"),
    )
    server.libreoffice_process = office
    threading.Thread(target=server.serve, name="xmlrpc", daemon=True).start()
    code = office.wait()
    if _stopping.is_set():
        watcher.join()  # it cleans up and exits
    print(f"converter_server: LibreOffice exited with {code}", file=sys.stderr)
    os._exit(1)


if __name__ == "__main__":
    sys.exit(main())
