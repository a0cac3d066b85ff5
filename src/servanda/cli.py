"""The ``servanda`` command line: run the product, migrate, operate tenants.

Exit codes: 0 success, 1 the operation failed (problem printed), 2 bad
configuration or usage.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.platform.config import CONFIG_EXIT_CODE, ConfigError, Settings, load_settings
from servanda.platform.db import Database
from servanda.platform.embedded_pg import (
    APP_ROLE,
    MAINTENANCE_ROLE,
    DatabaseUrls,
    EmbeddedPostgres,
    sqlalchemy_url,
)
from servanda.platform.errors import DomainError

T = TypeVar("T")

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Servanda Office")
db_cli = typer.Typer(no_args_is_help=True, help="Database checks.")
tenant_cli = typer.Typer(no_args_is_help=True, help="Tenants (platform operator).")
user_cli = typer.Typer(no_args_is_help=True, help="Users (bootstrap).")
cli.add_typer(db_cli, name="db")
cli.add_typer(tenant_cli, name="tenant")
cli.add_typer(user_cli, name="user")
content_cli = typer.Typer(no_args_is_help=True, help="Content packs.")
cli.add_typer(content_cli, name="content")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default $SERVANDA_DATA_DIR or ./.servanda)."),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _settings(data_dir: Path | None) -> Settings:
    try:
        return load_settings(**({"servanda_data_dir": data_dir} if data_dir else {}))
    except ConfigError as error:
        raise _fail(str(error), CONFIG_EXIT_CODE) from None


@contextmanager
def _database(settings: Settings) -> Iterator[DatabaseUrls]:
    """The configured database, or the embedded one (started or joined) for this data directory."""
    if settings.database_url is not None:
        admin = settings.database_admin_url
        maintenance = settings.database_maintenance_url
        yield DatabaseUrls(
            app=sqlalchemy_url(settings.database_url.get_secret_value()),
            admin=sqlalchemy_url(admin.get_secret_value()) if admin else None,
            maintenance=sqlalchemy_url(maintenance.get_secret_value()) if maintenance else None,
        )
        return
    embedded = EmbeddedPostgres(settings.pg_data_dir)
    try:
        urls = embedded.start()
    except Exception as error:
        raise _fail(f"embedded PostgreSQL failed to start in {settings.pg_data_dir}: {error}") from None
    try:
        yield urls
    finally:
        embedded.stop()


def _app_role(urls: DatabaseUrls) -> str:
    return make_url(urls.app).username or APP_ROLE


def _admin_url(urls: DatabaseUrls) -> str:
    if urls.admin is None:
        raise _fail(
            "configuration error: DATABASE_ADMIN_URL: required for this command (the schema owner role)",
            CONFIG_EXIT_CODE,
        )
    return urls.admin


def _run(db_url: str, action: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(db_url, pool_size=2, application_name="servanda-cli")
        try:
            return await action(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except DomainError as error:
        lines = [f"error [{error.code}]: {error.detail or error.code}"]
        lines += [f"  {e['field']}: {e['message']}" for e in error.errors or []]
        raise _fail("\n".join(lines)) from None


async def _in_transaction(db: Database, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """One operator transaction (no tenant until the action enters one), committed when it succeeds."""
    async with db.session(None) as session:
        return await action(session)


def _migrate(urls: DatabaseUrls) -> None:
    from servanda.platform import migrate

    maintenance_role = make_url(urls.maintenance).username if urls.maintenance else MAINTENANCE_ROLE
    problems = migrate.upgrade(_admin_url(urls), _app_role(urls), maintenance_role=maintenance_role)
    if problems:
        raise _fail("RLS coverage gate failed:\n" + "\n".join(f"  - {p}" for p in problems))
    typer.echo(f"database at migration head {migrate.head_revision()}; RLS coverage gate passed")


def _serve(settings: Settings, urls: DatabaseUrls, host: str, port: int, workers: int = 1) -> None:
    import os

    import uvicorn

    from servanda.app import create_app
    from servanda.platform.logs import configure_logging

    configure_logging("api", settings.log_level)
    # uvicorn re-raises the signal that stopped it; turn SIGTERM into a normal exit so
    # the caller's clean-up (stopping the embedded database) still runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    options: dict[str, object] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "server_header": False,
        # Idle keep-alive connections stay open longer than a client or proxy keeps them
        # (nginx's upstream keepalive_timeout is 60 s): uvicorn's default of 5 s closes a
        # connection while a client may be sending a POST on it, which then fails without
        # an answer (seen once in the 10-minute load test; only GETs are retried by clients).
        "timeout_keep_alive": 75,
    }
    # Forwarding headers only from the configured proxies (FORWARDED_ALLOW_IPS); uvicorn's
    # own default would believe any local client's X-Forwarded-For.
    proxies = settings.trusted_proxies
    options["proxy_headers"] = bool(proxies)
    options["forwarded_allow_ips"] = ",".join(proxies)
    if workers > 1:
        # Worker processes build the app themselves from the environment.
        os.environ["SERVANDA_APP_DATABASE_URL"] = urls.app
        uvicorn.run("servanda.app:create_app_from_env", factory=True, workers=workers, **options)  # type: ignore[arg-type]
    else:
        uvicorn.run(create_app(settings, urls.app), **options)  # type: ignore[arg-type]


@cli.command()
def up(
    port: Annotated[int | None, typer.Option(help="HTTP port (default $SERVANDA_PORT or 3000).")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    seed: Annotated[bool, typer.Option(help="Create demo tenants and users on first start.")] = True,
    data_dir: DataDir = None,
) -> None:
    """Run everything on embedded defaults: database, migrations, demo data, API, export worker."""
    settings = _settings(data_dir)
    port = port or settings.servanda_port
    if "public_base_url" not in settings.model_fields_set and host not in ("0.0.0.0", "::"):  # noqa: S104
        settings = settings.model_copy(update={"public_base_url": f"http://{host}:{port}"})
    with _database(settings) as urls, dev_mail(settings) as settings:
        _migrate(urls)
        if seed:
            _seed_demo(urls)
        with _worker_process(settings, urls):
            typer.echo(
                f"Servanda Office: http://{host}:{port}  (data: {settings.servanda_data_dir.resolve()})"
            )
            _serve(settings, urls, host, port)


@contextmanager
def dev_mail(settings: Settings) -> Iterator[Settings]:
    """Without SMTP_HOST, run the development mailbox and point the app's SMTP settings at it.

    An in-process SMTP server on 127.0.0.1 (a free port) writes each mail as an .eml file
    into <data dir>/mail, so invitations and password resets work without a mail server.
    """
    if settings.smtp_host:
        typer.echo(f"Mail: SMTP {settings.smtp_host}:{settings.smtp_port}")
        yield settings
        return
    from servanda.platform.dev_mailbox import DevMailbox

    mailbox = DevMailbox(settings.servanda_data_dir.resolve() / "mail").start()
    typer.echo(f"Mail: development mailbox, every mail lands as an .eml file in {mailbox.directory}")
    try:
        yield settings.model_copy(
            update={
                "smtp_host": mailbox.host,
                "smtp_port": mailbox.port,
                "smtp_starttls": False,
                "smtp_tls": False,
                "smtp_username": None,
                "smtp_password": None,
            }
        )
    finally:
        mailbox.stop()


def _seed_demo(urls: DatabaseUrls) -> None:
    from servanda.seed import DEMO_PASSWORD, seed_demo

    async def both() -> list[object]:
        platform = Database(_admin_url(urls), pool_size=1, application_name="servanda-seed")
        app = Database(urls.app, pool_size=1, application_name="servanda-seed")
        try:
            return list(await seed_demo(platform, app))
        finally:
            await platform.dispose()
            await app.dispose()

    logins = asyncio.run(both())
    if logins:
        from servanda.content.packs import shipped_packs

        typer.echo(f"demo data created; every demo login uses the password '{DEMO_PASSWORD}':")
        for login in logins:
            typer.echo(f"  {login.tenant:<14} {login.email:<28} {login.role}")  # type: ignore[attr-defined]
        packs = shipped_packs()
        _import_packs(urls.app, "verlag-demo", packs, publish=True, as_user=None)
        typer.echo(f"demo content published in verlag-demo: {', '.join(p.name for p in packs)}")


@contextmanager
def _worker_process(settings: Settings, urls: DatabaseUrls) -> Iterator[None]:
    """`servanda worker` as a child process next to the API (``servanda up``), stopped with it."""
    import os
    import subprocess

    env = {
        **os.environ,
        "DATABASE_URL": urls.app,
        "SERVANDA_DATA_DIR": str(settings.servanda_data_dir.resolve()),
        "EXPORT_WORKER_HOST": "127.0.0.1",
    }
    if "export_worker_port" not in settings.model_fields_set:
        env["EXPORT_WORKER_PORT"] = str(_free_port())
    env.pop("DATABASE_ADMIN_URL", None)  # the worker runs as the application role only
    child = subprocess.Popen([sys.executable, "-m", "servanda", "worker"], env=env)
    typer.echo(
        f"Export worker: pid {child.pid}, probes on 127.0.0.1:{env.get('EXPORT_WORKER_PORT', settings.export_worker_port)}"
    )
    try:
        yield
    finally:
        child.terminate()
        try:
            child.wait(settings.export_shutdown_grace_s + 10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@cli.command()
def worker(data_dir: DataDir = None) -> None:
    """Run the export worker: queue consumer, probes and /metrics on EXPORT_WORKER_PORT."""
    from servanda.platform.logs import configure_logging

    settings = _settings(data_dir)
    configure_logging("worker", settings.log_level)
    with _database(settings) as urls:
        asyncio.run(_work(settings, urls.app))


async def _work(settings: Settings, database_url: str) -> None:
    from servanda.export.worker import ExportWorker
    from servanda.platform.metrics_server import start_probe_server

    export_worker = ExportWorker(settings, database_url)
    server = await start_probe_server(
        export_worker.probe_routes(), settings.export_worker_host, settings.export_worker_port, name="worker"
    )
    try:
        await export_worker.run()
    finally:
        server.close()
        await server.wait_closed()


@cli.command()
def api(
    port: Annotated[int | None, typer.Option(help="HTTP port (default $SERVANDA_PORT or 3000).")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "0.0.0.0",  # noqa: S104 - container default
    workers: Annotated[int, typer.Option(min=1, max=32, help="Worker processes (one per core).")] = 1,
    data_dir: DataDir = None,
) -> None:
    """Run the API process only (migrations are a separate step)."""
    settings = _settings(data_dir)
    with _database(settings) as urls:
        _serve(settings, urls, host, port or settings.servanda_port, workers)


@cli.command()
def migrate(data_dir: DataDir = None) -> None:
    """Upgrade the schema to the head (as the owner role), then run the RLS coverage gate."""
    settings = _settings(data_dir)
    with _database(settings) as urls:
        _migrate(urls)


@db_cli.command("check-rls")
def check_rls(data_dir: DataDir = None) -> None:
    """Fail when a tenant table lacks FORCE RLS or a policy, or the app role can bypass RLS."""
    from servanda.platform import migrate as migrations

    settings = _settings(data_dir)
    with _database(settings) as urls:
        problems = migrations.run_check(urls.admin or urls.app, _app_role(urls))
    if problems:
        raise _fail("RLS coverage gate failed:\n" + "\n".join(f"  - {p}" for p in problems))
    typer.echo(f"RLS coverage gate passed (application role {_app_role(urls)})")


def _platform(data_dir: Path | None, action: Callable[..., Awaitable[T]]) -> T:
    from servanda.tenants.platform import PlatformService

    settings = _settings(data_dir)
    with _database(settings) as urls:
        return _run(_admin_url(urls), lambda db: _in_transaction(db, lambda s: action(PlatformService(s))))


def _print_tenants(tenants: list[object]) -> None:
    for t in tenants:
        typer.echo(
            f"{t.slug:<24} {t.type:<10} {t.status:<10} {t.default_jurisdiction}  {t.name}  ({t.id})"  # type: ignore[attr-defined]
        )


@tenant_cli.command("create")
def tenant_create(
    slug: Annotated[str, typer.Option(help="Unique short name, ^[a-z0-9-]{3,63}$.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    type: Annotated[str, typer.Option("--type", help="vendor | lawfirm | individual")],
    jurisdiction: Annotated[str, typer.Option(help="Default jurisdiction (ISO country).")] = "DE",
    data_dir: DataDir = None,
) -> None:
    """Create a tenant."""
    tenant = _platform(
        data_dir, lambda s: s.create_tenant(slug=slug, name=name, type=type, jurisdiction=jurisdiction)
    )
    typer.echo(f"created tenant {tenant.slug} ({tenant.id})")


@tenant_cli.command("list")
def tenant_list(data_dir: DataDir = None) -> None:
    """List all tenants."""
    _print_tenants(_platform(data_dir, lambda s: s.list_tenants()))


@tenant_cli.command("suspend")
def tenant_suspend(slug: str, data_dir: DataDir = None) -> None:
    """Suspend a tenant: its users get 403 on every call."""
    tenant = _platform(data_dir, lambda s: s.set_status(slug, "suspended"))
    typer.echo(f"tenant {tenant.slug} is {tenant.status}")


@tenant_cli.command("activate")
def tenant_activate(slug: str, data_dir: DataDir = None) -> None:
    """Re-activate a suspended tenant."""
    tenant = _platform(data_dir, lambda s: s.set_status(slug, "active"))
    typer.echo(f"tenant {tenant.slug} is {tenant.status}")


@user_cli.command("create")
def user_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    email: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin | editor | user")],
    password: Annotated[
        str | None, typer.Option(help="Initial password (password policy applies); not with --sso.")
    ] = None,
    sso: Annotated[
        bool,
        typer.Option(
            "--sso",
            help="Single sign-on (AUTH_MODE=oidc): no password; the user's first OIDC sign-in "
            "with this e-mail links and activates the account.",
        ),
    ] = False,
    display_name: Annotated[str | None, typer.Option()] = None,
    platform_admin: Annotated[
        bool, typer.Option("--platform-admin", help="May operate all tenants through /api/v1/platform.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a user in a tenant: active with a local password, or (--sso) invited for OIDC."""
    from servanda.identity.service import bootstrap_user

    if sso == (password is not None):
        raise typer.BadParameter("give either --password (local sign-in) or --sso (OIDC), not both")
    settings = _settings(data_dir)
    with _database(settings) as urls:
        user = _run(
            urls.app,
            lambda db: _in_transaction(
                db,
                lambda session: bootstrap_user(
                    session,
                    tenant_slug=tenant,
                    email=email,
                    role=role,
                    password=password,
                    display_name=display_name,
                    platform_admin=platform_admin,
                ),
            ),
        )
    typer.echo(f"created {user.status} user {user.email} ({user.role}) in {tenant} ({user.id})")


audit_cli = typer.Typer(no_args_is_help=True, help="Audit trail: chain verification, retention.")
cli.add_typer(audit_cli, name="audit")


@audit_cli.command("verify")
def audit_verify(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant (slug).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Check every tenant's audit hash chain (as the owner role); exit 1 on a broken link."""
    from servanda.audit.service import verify_chains

    settings = _settings(data_dir)
    with _database(settings) as urls:
        reports = _run(_admin_url(urls), lambda db: verify_chains(db, tenant))
    broken = 0
    for report in reports:
        anchor = f" (from retention anchor {report.anchor_seq})" if report.anchor_seq else ""
        if report.broken is None:
            typer.echo(f"{report.tenant_slug}: {report.events_checked} events, chain intact{anchor}")
        else:
            broken += 1
            typer.echo(
                f"{report.tenant_slug}: chain broken at seq {report.broken.seq}: {report.broken.reason}"
                f" ({report.events_checked} events checked{anchor})"
            )
    if not reports:
        typer.echo("no tenants")
    if broken:
        raise _fail(f"audit chain verification failed for {broken} of {len(reports)} tenant(s)")


@audit_cli.command("purge")
def audit_purge(
    now: Annotated[
        str | None, typer.Option("--now", help="Reference time, ISO 8601 (default: the database clock).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Delete audit events older than each tenant's retention (as the maintenance role)."""
    from servanda.audit.service import parse_time_bound, purge_expired

    try:
        reference = parse_time_bound(now, "--now")
    except DomainError as error:
        raise _fail(f"usage error: --now: {error.detail}", CONFIG_EXIT_CODE) from None
    settings = _settings(data_dir)
    with _database(settings) as urls:
        if urls.maintenance is None:
            raise _fail(
                "configuration error: DATABASE_MAINTENANCE_URL: required for this command "
                "(the maintenance role that runs the retention function)",
                CONFIG_EXIT_CODE,
            )
        maintenance_url = urls.maintenance
        results = _run(maintenance_url, lambda db: purge_expired(db, reference))
    for r in results:
        typer.echo(
            f"{r.tenant_slug}: purged {r.purged} events older than {r.cutoff.isoformat()} "
            f"(retention {r.retention_days} days)"
        )
    if not results:
        typer.echo("nothing to purge")


demo_cli = typer.Typer(no_args_is_help=True, help="Demo and benchmark data.")
cli.add_typer(demo_cli, name="demo")


@demo_cli.command("scale")
def demo_scale(
    tenants: Annotated[int, typer.Option(min=1, help="Law firm tenants (plus one vendor).")] = 100,
    contracts: Annotated[int, typer.Option(min=0, help="Contracts in all, spread evenly.")] = 100_000,
    audit_events: Annotated[int, typer.Option(min=0, help="Audit events in all, hash-chained.")] = 1_000_000,
    prefix: Annotated[str, typer.Option(help="Slug prefix of the generated tenants.")] = "scale",
    data_dir: DataDir = None,
) -> None:
    """Generate scale data: tenants, users, a published pack, contracts and audit chains (COPY)."""
    from servanda.demo_scale import PASSWORD, generate

    settings = _settings(data_dir)
    with _database(settings) as urls:
        admin_url = _admin_url(urls)
        report = _run(
            urls.app,
            lambda _db: generate(
                admin_url,
                urls.app,
                tenants=tenants,
                contracts=contracts,
                audit_events=audit_events,
                prefix=prefix,
                progress=typer.echo,
            ),
        )
    typer.echo(
        f"generated {report.tenants} law firms, {report.contracts} contracts, {report.audit_events} audit events "
        f"in {report.seconds:.1f} s (login anwalt@{prefix}-kanzlei-001.de, password '{PASSWORD}')"
    )


@cli.command()
def openapi() -> None:
    """Print the API's OpenAPI document (the web app's client is generated from it)."""
    import json

    from servanda.app import create_app
    from servanda.platform.config import load_settings

    # The document depends on the code only: a throwaway data dir and a URL never connected to.
    app = create_app(load_settings(servanda_env="test"), "postgresql+psycopg://openapi@127.0.0.1:1/none")
    typer.echo(json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=True))


@content_cli.command("schema")
def content_schema() -> None:
    """Print the JSON Schema of content packs."""
    import json

    from servanda.content.packs import schema

    typer.echo(json.dumps(schema(), indent=2, ensure_ascii=False))


def _import_packs(
    app_url: str, tenant: str, paths: list[Path], publish: bool, as_user: str | None
) -> list[object]:
    import json

    from servanda.content.packs import import_pack
    from servanda.content.service import ContentService
    from servanda.identity.service import acting_user

    packs = []
    for path in paths:
        try:
            packs.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            raise _fail(f"error [content.unreadable_pack]: {path}: {error}") from None

    async def action(db: Database) -> list[object]:
        reports: list[object] = []
        for pack in packs:  # one transaction per pack: each imports completely or not at all
            async with db.session(None) as session:
                principal = await acting_user(session, tenant, as_user)
                reports.append(await import_pack(ContentService(session), principal, pack, publish=publish))
        return reports

    return _run(app_url, action)


@content_cli.command("import")
def content_import(
    packs: Annotated[list[Path], typer.Argument(help="Content pack JSON file(s).")],
    tenant: Annotated[str, typer.Option(help="Tenant slug to import into.")],
    publish: Annotated[
        bool, typer.Option(help="Publish what was imported (without review; audited).")
    ] = False,
    as_user: Annotated[
        str | None, typer.Option("--as", help="Act as this user (default: first admin).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Import content packs into a tenant (atomic and idempotent per pack)."""
    settings = _settings(data_dir)
    with _database(settings) as urls:
        reports = _import_packs(urls.app, tenant, packs, publish, as_user)
    for path, report in zip(packs, reports, strict=True):
        r = report.as_dict()  # type: ignore[attr-defined]
        typer.echo(
            f"{path.name}: {len(r['created'])} created, {len(r['newVersion'])} new versions, "
            f"{len(r['unchanged'])} unchanged, {len(r['published'])} published"
        )


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
