"""The development mailbox of `servanda up`: an in-process SMTP server writing each message to a file.

``aiosmtpd`` (maintained, asyncio) listens on 127.0.0.1 on a free port in a
thread of its own, so the embedded default sends real SMTP without a mail
server; every message lands as ``<dir>/<UTC time>-<n>.eml`` (open it with any
mail client). Never used when SMTP_HOST is configured.
"""

from __future__ import annotations

import itertools
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class EmlWriter:
    """aiosmtpd handler: store each accepted message as one .eml file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count(1)

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:  # aiosmtpd calls it by this name
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{next(self._counter)}.eml"
        path.write_bytes(data)
        return "250 Message accepted for delivery"


class DevMailbox:
    """Start with ``start()``, stop with ``stop()``; ``host``/``port`` are what SMTP_HOST/PORT become."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.directory = directory
        self.host = host
        self.port = port or free_port(host)
        self._controller = Controller(EmlWriter(directory), hostname=host, port=self.port)

    def start(self) -> DevMailbox:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
