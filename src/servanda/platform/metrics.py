"""Prometheus metrics with the blueprint's names (§9.1), plus the pool gauges of §9.2."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUEST_DURATION = Histogram(
    "servanda_http_request_duration_seconds",
    "HTTP request duration",
    ["method", "route", "status_code", "tenant_id"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 2, 5),
)
DB_QUERY_DURATION = Histogram(
    "servanda_db_query_duration_seconds",
    "Database query duration",
    ["operation", "table"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1),
)
ACTIVE_TENANTS = Gauge("servanda_active_tenants_total", "Number of active tenants")
DB_POOL_ACTIVE = Gauge("servanda_db_pool_active", "Database connections checked out of the pool")
DB_POOL_MAX = Gauge("servanda_db_pool_max", "Maximum size of the database connection pool")

# Export (blueprint §9.1): the worker observes jobs; the queue depth is read at scrape time.
EXPORT_JOB_DURATION = Histogram(
    "servanda_export_job_duration_seconds",
    "Export job duration from start of rendering to the stored file",
    ["format", "status", "tenant_id"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
EXPORT_QUEUE_DEPTH = Gauge("servanda_export_queue_depth", "Export jobs waiting in the queue (todo)")
EXPORT_FAILURES = Counter(
    "servanda_export_failures_total", "Failed export attempts by error code", ["format", "error_code"]
)
EXPORT_CONVERTER_RESTARTS = Counter(
    "servanda_export_converter_restarts_total", "Restarts of the warm LibreOffice converter", ["reason"]
)
# Not in §9.1; the dashboards of §9.3 need them (deploy/monitoring, docs/operations.md "Metrics").
# "Storage Usage" per tenant: bytes the exports wrote to the object store (jobs and batch ZIPs).
EXPORT_STORED_BYTES = Counter(
    "servanda_export_stored_bytes_total",
    "Bytes of finished export files written to storage",
    ["format", "tenant_id"],
)
# "Security" dashboard: security-relevant audit events as they are appended (counted in the
# transaction that writes them, so a rolled-back attempt is counted too).
SECURITY_EVENTS = Counter(
    "servanda_security_events_total",
    "Security-relevant audit events (failed logins, role changes, ...)",
    ["action", "tenant_id"],
)
SECURITY_ACTIONS = frozenset(
    {
        "user.login",
        "user.login_failed",
        "user.role_change",
        "user.mfa_disable",
        "user.password_reset",
        "user.verification_failed",
        "user.deactivate",
    }
)
