"""Runtime configuration from environment variables (blueprint names).

Every value is validated at start-up; a bad value stops the process with one
line naming the variable (exit code 2). With ``SERVANDA_ENV=production`` none
of the embedded defaults (bundled PostgreSQL, directory storage, built-in
identity provider) is allowed.
"""

from __future__ import annotations

import ipaddress
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CONFIG_EXIT_CODE = 2


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    servanda_env: Literal["development", "test", "production"] = "development"
    servanda_data_dir: Path = Path(".servanda")
    servanda_port: int = Field(3000, ge=1, le=65535)

    # Application role (not owner, not superuser, not BYPASSRLS). Absent: embedded PostgreSQL.
    database_url: SecretStr | None = None
    # Owner role used for migrations and platform (operator) commands.
    database_admin_url: SecretStr | None = None
    database_pool_size: int = Field(10, ge=1, le=200)
    # How long a request waits for a free pooled connection before it answers 503.
    database_pool_timeout_s: float = Field(5.0, gt=0, le=60)

    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None

    keycloak_url: str | None = None
    keycloak_realm: str | None = None
    # Identity provider: "oidc" (Keycloak) or "local" (built-in). Default: oidc when
    # KEYCLOAK_URL is set, else local. Production allows local only when chosen
    # explicitly and given a signing key.
    auth_provider: Literal["local", "oidc"] | None = None
    # OIDC_ISSUER: the issuer exactly as the IdP writes it into ``iss``, when it differs from
    # ``{KEYCLOAK_URL}/realms/{KEYCLOAK_REALM}`` (e.g. Keycloak published under another host
    # name or path, a test IdP). Unset: derived from the Keycloak variables.
    oidc_issuer_override: str | None = Field(
        None, validation_alias=AliasChoices("oidc_issuer", "oidc_issuer_override")
    )
    oidc_audience: str = "servanda-api"
    oidc_client_id: str = "servanda-web"
    oidc_role_claim: str = "role"
    servanda_jwt_private_key: SecretStr | None = None  # PEM (RSA); embedded: generated into the data dir
    servanda_secret_key: SecretStr | None = (
        None  # encrypts MFA secrets; embedded: generated into the data dir
    )
    access_token_ttl_s: int = Field(900, ge=60, le=3600)
    refresh_token_ttl_s: int = Field(14 * 24 * 3600, ge=3600, le=90 * 24 * 3600)
    # Operator role for `servanda audit purge` (retention); embedded: servanda_maint.
    database_maintenance_url: SecretStr | None = None

    export_job_timeout_ms: int = Field(120_000, ge=1_000, le=3_600_000)
    export_concurrency: int = Field(3, ge=1, le=64)
    # Retries after a failed attempt: EXPORT_MAX_RETRIES, waiting base * 2^n (30/60/120 s).
    export_max_retries: int = Field(3, ge=0, le=10)
    export_retry_base_s: float = Field(30.0, ge=0, le=3600)
    # The worker's probes and /metrics (`servanda worker`), on their own port.
    export_worker_port: int = Field(9465, ge=1, le=65535)
    export_worker_host: str = "0.0.0.0"  # noqa: S104 - the pod network; no ingress routes here
    # Queue heartbeat; a worker silent for EXPORT_STALLED_AFTER_S has its jobs picked up again.
    export_heartbeat_s: float = Field(10.0, gt=0, le=300)
    export_stalled_after_s: float = Field(60.0, gt=0, le=3600)
    # SIGTERM: in-flight jobs get this long to finish, then they are released to the queue.
    export_shutdown_grace_s: float = Field(30.0, ge=0, le=3600)
    export_converter_timeout_s: float = Field(60.0, gt=0, le=3600)
    # LibreOffice is started afresh after this many conversions (0: never); see export/converter.py.
    export_converter_max_conversions: int = Field(100, ge=0, le=1_000_000)
    # New jobs arrive by LISTEN/NOTIFY; retries scheduled for later are found by polling.
    export_poll_interval_s: float = Field(2.0, gt=0, le=60)

    tenant_isolation_mode: Literal["rls", "database"] = "rls"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    # Outgoing mail (invitations, password reset). SMTP_HOST unset: no mail is sent (logged);
    # `servanda up` then points it at its development mailbox. SMTP_STARTTLS upgrades a plain
    # connection (port 587); SMTP_TLS speaks TLS from the start (port 465).
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_timeout_s: float = Field(10.0, gt=0, le=300)
    mail_from: str = "Servanda Office <no-reply@servanda.invalid>"

    # Request rate limits per authenticated user and per tenant (token buckets, per API
    # process): sustained requests per second and burst size; 0 per second switches one off.
    rate_limit_user_per_s: float = Field(20.0, ge=0, le=100_000)
    rate_limit_user_burst: int = Field(60, ge=1, le=1_000_000)
    rate_limit_tenant_per_s: float = Field(200.0, ge=0, le=1_000_000)
    rate_limit_tenant_burst: int = Field(1000, ge=1, le=10_000_000)
    # Proxies whose X-Forwarded-For/-Proto uvicorn believes (comma-separated addresses or
    # networks, or "*"). Empty: no forwarding header is trusted, the peer address counts.
    forwarded_allow_ips: str = ""
    # /metrics on the main port only for these client networks (comma-separated; empty: nobody).
    metrics_allow: str = "127.0.0.1/32,::1/128"
    # When set, /metrics is also served on this port (for in-cluster scraping), on METRICS_HOST.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "0.0.0.0"  # noqa: S104 - the pod network; keep the port off the ingress
    # The address users open the web app at: links the server hands out (invitations) are
    # absolute URLs under it. The default is the embedded server (`servanda up`, port 3000).
    public_base_url: str = "http://127.0.0.1:3000"
    # The built web app (web/dist, `make install` builds it). Unset: web/dist of the source tree,
    # when it exists; the API serves it on its own port (platform/spa.py).
    servanda_web_dist: Path | None = None

    @field_validator("forwarded_allow_ips", "metrics_allow")
    @classmethod
    def _networks(cls, value: str) -> str:
        for entry in _split(value):
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry)
            except ValueError:
                raise ValueError(f"'{entry}' is not an IP address or network (e.g. 10.0.0.0/8)") from None
        return value

    @property
    def trusted_proxies(self) -> list[str]:
        return _split(self.forwarded_allow_ips)

    @property
    def metrics_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        entries = _split(self.metrics_allow)
        if "*" in entries:
            return [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        return [ipaddress.ip_network(entry) for entry in entries]

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("oidc_issuer_override")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or "?" in value or "#" in value:
            raise ValueError("must be an http(s):// URL without query or fragment")
        return value.rstrip("/")

    def public_url(self, path: str) -> str:
        """The absolute URL of ``path`` (starting with "/") under PUBLIC_BASE_URL."""
        return f"{self.public_base_url}{path}"

    @field_validator("database_url", "database_admin_url", "database_maintenance_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if not raw.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _production_has_no_embedded_defaults(self) -> Settings:
        if self.servanda_env != "production":
            return self
        required: dict[str, object] = {
            "DATABASE_URL": self.database_url,
            "S3_ENDPOINT": self.s3_endpoint,
            "S3_BUCKET": self.s3_bucket,
            "S3_ACCESS_KEY": self.s3_access_key,
            "S3_SECRET_KEY": self.s3_secret_key,
        }
        if self.auth_provider == "local":
            required["SERVANDA_JWT_PRIVATE_KEY"] = self.servanda_jwt_private_key
            required["SERVANDA_SECRET_KEY"] = self.servanda_secret_key
        else:
            required["KEYCLOAK_URL"] = self.keycloak_url
            required["KEYCLOAK_REALM"] = self.keycloak_realm
        missing = [name for name, value in required.items() if not value]
        if missing:
            raise ValueError(
                f"{', '.join(missing)}: required when SERVANDA_ENV=production "
                "(embedded defaults are refused in production)"
            )
        return self

    @property
    def identity_provider(self) -> Literal["local", "oidc"]:
        if self.auth_provider is not None:
            return self.auth_provider
        return "oidc" if self.keycloak_url else "local"

    @property
    def oidc_issuer(self) -> str | None:
        if self.oidc_issuer_override:
            return self.oidc_issuer_override
        if not self.keycloak_url or not self.keycloak_realm:
            return None
        return f"{self.keycloak_url.rstrip('/')}/realms/{self.keycloak_realm}"

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def pg_data_dir(self) -> Path:
        return self.servanda_data_dir.resolve() / "pg"


def _split(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        loc = [str(p) for p in item["loc"]]
        variable = loc[0].upper() if loc else ""
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{variable}: {message}" if variable else message)
    return "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    """Read and validate the environment; raise ConfigError with a one-line message."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(f"configuration error: {_describe(error)}") from None
    if settings.identity_provider == "oidc" and settings.oidc_issuer is None:
        raise ConfigError(
            "configuration error: KEYCLOAK_URL, KEYCLOAK_REALM: both required for AUTH_PROVIDER=oidc"
        )
    if settings.tenant_isolation_mode == "database":
        raise ConfigError(
            "configuration error: TENANT_ISOLATION_MODE: 'database' (database per tenant) is not "
            "available in this release; use 'rls'"
        )
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def settings_or_exit() -> Settings:
    try:
        return get_settings()
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        raise SystemExit(CONFIG_EXIT_CODE) from None
