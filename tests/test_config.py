"""Configuration: blueprint variable names, one clear line per bad value, production refuses embedded defaults."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from servanda.platform.config import ConfigError, load_settings

PRODUCTION = {
    "SERVANDA_ENV": "production",
    "DATABASE_URL": "postgresql://app:pw@db:5432/servanda",
    "S3_ENDPOINT": "https://s3.example",
    "S3_BUCKET": "servanda",
    "S3_ACCESS_KEY": "key",
    "S3_SECRET_KEY": "secret",
    "KEYCLOAK_URL": "https://sso.example",
    "KEYCLOAK_REALM": "servanda",
}


def test_defaults_follow_the_blueprint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "EXPORT_CONCURRENCY",
        "EXPORT_JOB_TIMEOUT_MS",
        "LOG_LEVEL",
        "TENANT_ISOLATION_MODE",
        "DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.export_concurrency == 3
    assert settings.export_job_timeout_ms == 120_000
    assert settings.tenant_isolation_mode == "rls"
    assert settings.servanda_port == 3000
    assert settings.embedded_database


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("EXPORT_CONCURRENCY", "drei", "EXPORT_CONCURRENCY: Input should be a valid integer"),
        ("EXPORT_CONCURRENCY", "0", "EXPORT_CONCURRENCY: Input should be greater than or equal to 1"),
        ("EXPORT_JOB_TIMEOUT_MS", "-5", "EXPORT_JOB_TIMEOUT_MS"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL"),
        ("TENANT_ISOLATION_MODE", "none", "TENANT_ISOLATION_MODE"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: must be a postgresql:// URL"),
        ("SERVANDA_ENV", "prod", "SERVANDA_ENV"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


def test_database_per_tenant_mode_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANT_ISOLATION_MODE", "database")
    with pytest.raises(ConfigError, match="TENANT_ISOLATION_MODE: 'database'"):
        load_settings()


def test_production_refuses_every_embedded_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    assert load_settings().servanda_env == "production"
    for missing in PRODUCTION:
        if missing == "SERVANDA_ENV":
            continue
        monkeypatch.delenv(missing)
        with pytest.raises(ConfigError, match=f"{missing}.*required when SERVANDA_ENV=production"):
            load_settings()
        monkeypatch.setenv(missing, PRODUCTION[missing])


def test_cli_stops_with_exit_code_2_and_one_line() -> None:
    env = {**os.environ, "EXPORT_CONCURRENCY": "viele"}
    result = subprocess.run(
        [sys.executable, "-m", "servanda", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: EXPORT_CONCURRENCY: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_edge_settings_default_to_trusting_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "FORWARDED_ALLOW_IPS",
        "METRICS_ALLOW",
        "METRICS_PORT",
        "RATE_LIMIT_USER_PER_S",
        "RATE_LIMIT_USER_BURST",
        "RATE_LIMIT_TENANT_PER_S",
        "RATE_LIMIT_TENANT_BURST",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.trusted_proxies == []
    assert [str(n) for n in settings.metrics_networks] == ["127.0.0.1/32", "::1/128"]
    assert settings.metrics_port is None
    assert (settings.rate_limit_user_per_s, settings.rate_limit_user_burst) == (20.0, 60)
    assert (settings.rate_limit_tenant_per_s, settings.rate_limit_tenant_burst) == (200.0, 1000)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8, 192.168.1.10")
    monkeypatch.setenv("METRICS_ALLOW", "")
    settings = load_settings()
    assert settings.trusted_proxies == ["10.0.0.0/8", "192.168.1.10"]
    assert settings.metrics_networks == []


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("FORWARDED_ALLOW_IPS", "ingress.local", "FORWARDED_ALLOW_IPS: 'ingress.local' is not an IP address"),
        ("FORWARDED_ALLOW_IPS", "10.0.0.1/8", "FORWARDED_ALLOW_IPS: '10.0.0.1/8'"),
        ("METRICS_ALLOW", "prometheus", "METRICS_ALLOW: 'prometheus'"),
        ("METRICS_PORT", "0", "METRICS_PORT"),
        ("RATE_LIMIT_USER_PER_S", "-1", "RATE_LIMIT_USER_PER_S"),
        ("RATE_LIMIT_TENANT_BURST", "0", "RATE_LIMIT_TENANT_BURST"),
    ],
)
def test_bad_edge_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert fragment in str(error.value)
