"""Outgoing mail: the ``Mailer`` port, its SMTP adapter, and the outbox that sends after the response.

``SmtpMailer`` uses the standard library's ``smtplib`` in a worker thread
(``asyncio.to_thread``): a handful of mails per hour (invitations, password
resets) needs no async SMTP client and no further dependency, and the thread
keeps the event loop free while the server answers.

``MailOutbox.submit`` hands a mail to a background task and returns at once, so
a request never waits for (or fails on) the mail server and a password-reset
request for a known account takes as long as one for an unknown account. A
failed delivery is logged (recipient domain only) and not retried.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from servanda.platform.config import Settings
from servanda.platform.logs import get_logger

log = get_logger("servanda.mail")


@dataclass(frozen=True)
class Mail:
    """One message: German plain text, optionally an HTML alternative."""

    to: str
    subject: str
    text: str
    html: str | None = None


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "unknown"


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        tls: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls and not tls
        self.tls = tls
        self.timeout_s = timeout_s

    def message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=_domain(self.sender).strip(">") or None)
        message.set_content(mail.text)
        if mail.html is not None:
            message.add_alternative(mail.html, subtype="html")
        return message

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._send, mail)

    def _send(self, mail: Mail) -> None:
        message = self.message(mail)  # built in the thread too: the event loop only waits
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


class NoMailer:
    """SMTP_HOST is not set: nothing is sent; the log says so (without the address)."""

    async def send(self, mail: Mail) -> None:
        log.warning("mail not sent: SMTP_HOST is not configured", action="mail.skipped", subject=mail.subject)


def mailer_from_settings(settings: Settings) -> Mailer:
    if not settings.smtp_host:
        return NoMailer()
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        tls=settings.smtp_tls,
        timeout_s=settings.smtp_timeout_s,
    )


class MailOutbox:
    """Sends mails in background tasks (one per mail); ``drain`` waits for those still running.

    A task starts ``delay_s`` after ``submit``, once the answer of the request that sent
    the mail has left: the answer's timing does not depend on whether a mail goes out.
    """

    def __init__(self, mailer: Mailer, delay_s: float = 0.1) -> None:
        self.mailer = mailer
        self.delay_s = delay_s
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, mail: Mail) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(mail))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, mail: Mail) -> None:
        await asyncio.sleep(self.delay_s)
        try:
            await self.mailer.send(mail)
        except Exception as error:  # logged, never raised: the request has long been answered
            log.error(
                "mail delivery failed",
                action="mail.failed",
                domain=_domain(mail.to),
                error=type(error).__name__,
            )
        else:
            log.info("mail sent", action="mail.sent", domain=_domain(mail.to))

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
