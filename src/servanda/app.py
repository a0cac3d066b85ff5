"""The API process: FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from servanda import __version__
from servanda.identity.auth_service import LocalAuthService, LoginThrottle
from servanda.identity.mails import IdentityMails
from servanda.platform.config import Settings
from servanda.platform.db import Database, privileged_role_reasons
from servanda.platform.health import router as health_router
from servanda.platform.http import API_PREFIX, RequestContextMiddleware, install_route_cache
from servanda.platform.keys import data_cipher, signing_key
from servanda.platform.logs import get_logger
from servanda.platform.mail import MailOutbox, mailer_from_settings
from servanda.platform.openapi import Access, complete_openapi, install_docs
from servanda.platform.problems import install_problem_handlers
from servanda.platform.ratelimit import RequestRateLimiter
from servanda.platform.spa import SpaMiddleware, locate_web_dist, spa_csp
from servanda.platform.tokens import LocalTokens, TokenVerifier

log = get_logger("servanda.app")


OPENAPI_URL = f"{API_PREFIX}/openapi.json"
API_DESCRIPTION = """Contract drafting for German law firms and legal publishers. JSON in camelCase.

**Sign in** with `POST /api/v1/auth/login` (or at the OIDC provider), then use "Authorize" with the
access token; operations with a lock need it. The tenant always comes from the token.

**Errors** are `application/problem+json` (RFC 9457, schema `Problem`): switch on `code`; `detail` is
German (English with `Accept-Language: en`). Each operation lists the statuses and codes it can answer.
"""
DOCS_URL = "/api/docs"


class UnsafeDatabaseRole(RuntimeError):
    pass


def _verifier(settings: Settings, local_tokens: LocalTokens | None) -> TokenVerifier:
    if settings.identity_provider == "oidc":
        from servanda.platform.oidc import OidcVerifier

        assert settings.oidc_issuer is not None  # load_settings guarantees it
        return OidcVerifier(
            issuer=settings.oidc_issuer, audience=settings.oidc_audience, role_claim=settings.oidc_role_claim
        )
    assert local_tokens is not None
    return local_tokens


def create_app(settings: Settings, database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            database_url,
            pool_size=settings.database_pool_size,
            pool_timeout=settings.database_pool_timeout_s,
            application_name="servanda-api",
        )
        app.state.db = db
        app.state.settings = settings
        local = settings.identity_provider == "local"
        app.state.local_tokens = (
            LocalTokens(signing_key(settings), settings.access_token_ttl_s) if local else None
        )
        app.state.verifier = _verifier(settings, app.state.local_tokens)
        app.state.cipher = data_cipher(settings)
        app.state.local_auth = (
            LocalAuthService(
                db, app.state.local_tokens, app.state.cipher, settings.refresh_token_ttl_s, LoginThrottle()
            )
            if local
            else None
        )
        app.state.mail_outbox = MailOutbox(mailer_from_settings(settings))
        app.state.identity_mails = IdentityMails(app.state.mail_outbox, settings.public_base_url)
        app.state.rate_limiter = RequestRateLimiter(
            db,
            settings.rate_limit_user_per_s,
            settings.rate_limit_user_burst,
            settings.rate_limit_tenant_per_s,
            settings.rate_limit_tenant_burst,
        )
        app.state.schema_at_head = False
        app.state.active_tenants_at = float("-inf")
        try:
            reasons = await privileged_role_reasons(db)
        except Exception as exc:
            # The database may come later; readiness reports it meanwhile.
            log.warning("database not reachable at start-up", action="app.start", error=type(exc).__name__)
        else:
            if reasons:
                await db.dispose()
                raise UnsafeDatabaseRole(
                    f"refusing to serve: database role '{db.role}' {', '.join(reasons)} "
                    "(row-level security would not apply); connect as the application role"
                )
            # DATABASE_POOL_SIZE connections from now on, not a count that creeps up under load
            # (docs/operations.md, "Connection budget"); fails soft like the check above.
            await db.fill_pool()
        metrics_server = None
        if settings.metrics_port is not None:
            from servanda.platform.metrics_server import start_metrics_server

            metrics_server = await start_metrics_server(
                app.state, settings.metrics_host, settings.metrics_port
            )
        if settings.servanda_env != "test":
            # What start-up built (modules, pydantic schemas, mappers, routes) lives as long as the
            # process: move it out of the collector's generations, so that full collections stop
            # walking it on every request burst (7-13 % less CPU per request in bench/cpu_per_request).
            # Not in tests, which build many apps in one process and would keep their garbage.
            gc.freeze()
            # A young-generation collection every 50 000 net allocations instead of 700: one
            # autosave allocates thousands of container objects (engine results, ORM state), so at
            # 700 the collector ran several times per request. Garbage without cycles is freed by
            # reference counting as before; cyclic garbage waits a little longer.
            # (bench/cpu_per_request, A/B: 10-25 % less CPU per request on the hot paths.)
            gc.set_threshold(50_000, 20, 20)
        log.info("api started", action="app.start", version=__version__)
        try:
            yield
        finally:
            if metrics_server is not None:
                metrics_server.close()
            await app.state.mail_outbox.drain()
            await db.dispose()

    app = FastAPI(
        title="Servanda Office API",
        description=API_DESCRIPTION,
        version=__version__,
        openapi_url=OPENAPI_URL,
        docs_url=None,  # install_docs serves it from the package's own files
        redoc_url=None,
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    web_dist = locate_web_dist(settings.servanda_web_dist)
    if web_dist is not None:
        # Inside the request-context middleware: the app's files get request id, log and headers too.
        oidc = settings.oidc_issuer if settings.identity_provider == "oidc" else None
        app.add_middleware(SpaMiddleware, dist=web_dist, csp=spa_csp(oidc))
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health_router)
    for router in api_routers():
        app.include_router(router)
    complete_openapi(app, route_access)
    install_docs(app, DOCS_URL, OPENAPI_URL)
    install_route_cache(app.router)  # the route per path shape instead of a scan of the table
    return app


def route_access(route: APIRoute) -> Access:
    """A route's declared permission (``allow(...)``), as the OpenAPI document describes it."""
    from servanda.identity.dependencies import Permission, permission_of

    declared = {p for d in route.dependant.dependencies if (p := permission_of(d)) is not None}
    permission = next(iter(declared), Permission.PUBLIC)
    return Access(
        authenticated=permission is not Permission.PUBLIC,
        permission=None if permission in (Permission.PUBLIC, Permission.AUTHENTICATED) else permission.value,
    )


def api_routers() -> list[APIRouter]:
    """Every business module's endpoints; each router carries its full /api/v1 prefix.

    (FastAPI nests included routers, so a prefix given at inclusion would be
    missing from the route template that metrics and logs report.)
    """
    from servanda.audit.endpoints import router as audit_router
    from servanda.content.endpoints import catalog_router
    from servanda.content.endpoints import router as content_router
    from servanda.contracts.endpoints import lawfirm_router
    from servanda.contracts.endpoints import router as contracts_router
    from servanda.export.endpoints import routers as export_routers
    from servanda.identity.endpoints import routers as identity_routers
    from servanda.tenants.endpoints import routers as tenants_routers

    return [
        *identity_routers,
        *tenants_routers,
        audit_router,
        content_router,
        catalog_router,
        contracts_router,
        lawfirm_router,
        *export_routers,
    ]


def create_app_from_env() -> FastAPI:
    """Factory for multi-worker uvicorn: each worker builds the app from the environment."""
    import os

    from servanda.platform.config import settings_or_exit
    from servanda.platform.embedded_pg import sqlalchemy_url

    settings = settings_or_exit()
    url = os.environ.get("SERVANDA_APP_DATABASE_URL") or (
        settings.database_url.get_secret_value() if settings.database_url else ""
    )
    if not url:
        raise SystemExit("configuration error: DATABASE_URL: required for API workers")
    return create_app(settings, sqlalchemy_url(url))
