"""Prometheus metrics with the blueprint's names (§9.1), plus the pool gauges of §9.2."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

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
