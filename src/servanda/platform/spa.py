"""HTTP adapter: the built web app (web/dist) served next to the API on the same port.

An ASGI middleware inside ``RequestContextMiddleware`` (so request id, access log and the security
headers apply) that answers GET and HEAD outside ``/api``, ``/health`` and ``/metrics``:

- ``/assets/*``: Vite's content-hashed files, ``Cache-Control: public, max-age=31536000, immutable``;
  a missing one is the API's 404 problem (never index.html: a stale page must not get HTML for
  its script).
- other files at the top of dist (a favicon, say): ``no-cache``.
- any other path whose request accepts ``text/html`` (a browser navigating to ``/vertraege/…``):
  ``index.html``, ``no-cache`` (a new release is picked up at the next navigation), the SPA's router
  decides. Requests that do not accept HTML fall through to the API (404 problem JSON).

Every answer carries the app's Content-Security-Policy (``spa_csp``): scripts and styles from the
own origin only (React Aria sets styles through the CSSOM, which a CSP does not restrict), images
also as data:/blob: URLs, connections to the own origin plus the OIDC provider when one is configured.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from starlette.responses import FileResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

PASSTHROUGH_PREFIXES = ("/api/", "/health/", "/metrics")
ASSET_CACHE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
SOURCE_TREE_DIST = Path(__file__).resolve().parents[3] / "web" / "dist"


def locate_web_dist(configured: Path | None) -> Path | None:
    """The built app: the configured directory (SERVANDA_WEB_DIST), else the source tree's web/dist.

    None when there is no built app (index.html missing): the API then serves the API only.
    """
    candidate = configured if configured is not None else SOURCE_TREE_DIST
    return candidate if (candidate / "index.html").is_file() else None


def origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def spa_csp(oidc_issuer: str | None) -> str:
    """The Content-Security-Policy of the app's page and files."""
    connect = " ".join(filter(None, ("'self'", origin_of(oidc_issuer))))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            f"connect-src {connect}",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        )
    )


def _accepts_html(scope: Scope) -> bool:
    for key, value in scope.get("headers", ()):
        if key == b"accept":
            return b"text/html" in value.lower()
    return False


class SpaMiddleware:
    def __init__(self, app: ASGIApp, *, dist: Path, csp: str) -> None:
        self.app = app
        self.dist = dist.resolve()
        self.index = self.dist / "index.html"
        self.headers = {"Content-Security-Policy": csp}

    def _file(self, path: str) -> Path | None:
        """The file under dist that ``path`` names; None for anything outside it or not a file."""
        relative = path.lstrip("/")
        if not relative or "\\" in relative or "\x00" in relative:
            return None
        candidate = (self.dist / relative).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or path == "/api"
            or path.startswith(PASSTHROUGH_PREFIXES)
            or path == "/health"
        ):
            await self.app(scope, receive, send)
            return
        response: Response | None = None
        if path.startswith("/assets/"):
            found = self._file(path)
            if found is not None:
                response = FileResponse(found, headers={**self.headers, "Cache-Control": ASSET_CACHE})
        elif path != "/" and (found := self._file(path)) is not None and found != self.index:
            response = FileResponse(found, headers={**self.headers, "Cache-Control": NO_CACHE})
        elif _accepts_html(scope):
            response = FileResponse(
                self.index, media_type="text/html", headers={**self.headers, "Cache-Control": NO_CACHE}
            )
        if response is None:
            await self.app(scope, receive, send)  # the API's 404 problem document
            return
        await response(scope, receive, send)
