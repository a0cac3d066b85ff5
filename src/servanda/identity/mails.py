"""The identity module's mails: invitation and password reset (German, plain text plus simple HTML).

Each mail is handed to the outbox only after the transaction that created its
token has committed (``after_commit``): no mail carries a token that does not
exist, and the request does not wait for the mail server.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from servanda.platform.db import after_commit
from servanda.platform.mail import Mail, MailOutbox

INVITE_PATH = "/einladung?token="
RESET_PATH = "/passwort-zuruecksetzen?token="


def invite_path(token: str) -> str:
    return f"{INVITE_PATH}{quote(token, safe='')}"


def reset_path(token: str) -> str:
    return f"{RESET_PATH}{quote(token, safe='')}"


def _when(moment: datetime) -> str:
    return moment.strftime("%d.%m.%Y, %H:%M Uhr (UTC)")


def _html(paragraphs: list[str], link: str, label: str) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        '<!doctype html><html lang="de"><body style="font-family: sans-serif">'
        f'{body}<p><a href="{escape(link)}">{escape(label)}</a></p>'
        f"<p>{escape(link)}</p></body></html>"
    )


def invitation_mail(
    *, to: str, display_name: str, inviter: str, tenant_slug: str, link: str, expires_at: datetime
) -> Mail:
    lead = [
        f"Guten Tag {display_name},",
        f"{inviter} hat Sie zu Servanda Office eingeladen (Mandant: {tenant_slug}).",
        "Über den folgenden Link legen Sie Ihr Passwort fest und aktivieren Ihr Konto:",
    ]
    tail = [
        f"Der Link ist bis {_when(expires_at)} gültig und kann nur einmal verwendet werden.",
        "Wenn Sie diese Einladung nicht erwartet haben, können Sie diese E-Mail ignorieren.",
    ]
    text = "\n\n".join([*lead, link, *tail]) + "\n"
    return Mail(
        to=to,
        subject="Einladung zu Servanda Office",
        text=text,
        html=_html([*lead, *tail], link, "Einladung annehmen"),
    )


def password_reset_mail(
    *, to: str, display_name: str, tenant_slug: str, link: str, expires_at: datetime
) -> Mail:
    lead = [
        f"Guten Tag {display_name},",
        f"für Ihr Konto bei Servanda Office (Mandant: {tenant_slug}) wurde das Zurücksetzen "
        "des Passworts angefordert. Über den folgenden Link vergeben Sie ein neues Passwort:",
    ]
    tail = [
        f"Der Link ist bis {_when(expires_at)} gültig und kann nur einmal verwendet werden. "
        "Mit dem neuen Passwort werden alle bestehenden Anmeldungen beendet.",
        "Wenn Sie das nicht angefordert haben, ignorieren Sie diese E-Mail; Ihr Passwort bleibt unverändert.",
    ]
    text = "\n\n".join([*lead, link, *tail]) + "\n"
    return Mail(
        to=to,
        subject="Servanda Office: Passwort zurücksetzen",
        text=text,
        html=_html([*lead, *tail], link, "Neues Passwort vergeben"),
    )


class IdentityMails:
    """Composes the mails with absolute links and sends them once the transaction has committed."""

    def __init__(self, outbox: MailOutbox, public_base_url: str) -> None:
        self.outbox = outbox
        self.base = public_base_url.rstrip("/")

    def _after_commit(self, session: AsyncSession, mail: Mail) -> None:
        async def submit() -> None:
            self.outbox.submit(mail)

        after_commit(session, submit)

    def invitation(
        self,
        session: AsyncSession,
        *,
        to: str,
        display_name: str,
        inviter: str,
        tenant_slug: str,
        token: str,
        expires_at: datetime,
    ) -> None:
        mail = invitation_mail(
            to=to,
            display_name=display_name,
            inviter=inviter,
            tenant_slug=tenant_slug,
            link=f"{self.base}{invite_path(token)}",
            expires_at=expires_at,
        )
        self._after_commit(session, mail)

    def password_reset(
        self,
        session: AsyncSession,
        *,
        to: str,
        display_name: str,
        tenant_slug: str,
        token: str,
        expires_at: datetime,
    ) -> None:
        mail = password_reset_mail(
            to=to,
            display_name=display_name,
            tenant_slug=tenant_slug,
            link=f"{self.base}{reset_path(token)}",
            expires_at=expires_at,
        )
        self._after_commit(session, mail)
