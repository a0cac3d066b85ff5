"""API fuzzing of the OpenAPI document with schemathesis: no 5xx and no schema violations.

Every operation is exercised with generated (mostly invalid) input as an admin
of a seeded tenant. Problem responses (401/403/404/409/422) are the expected
answer to most of it; what must never happen is a server error or a
documented response that contradicts its schema. (The operations are driven
one by one with hypothesis here: schemathesis' lazy pytest loader does not
work with the pytest version in use.)
"""

from __future__ import annotations

from typing import Any

import psycopg
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.auth_helpers import login_as

EXAMPLES_PER_OPERATION = 6


def test_no_server_errors_and_documented_shapes(
    api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    headers = login_as(api, su, make_tenant("verlag-fuzz", type="vendor"), "admin", "admin@fuzz.de")
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50
    failures: list[str] = []
    for operation in operations:
        if operation.path.endswith("/logout"):
            continue  # ending the session would turn every later case into a 401

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def exercise(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        try:
            exercise()
        except Exception as error:  # collect all, so one run shows every broken operation
            failures.append(f"{operation.method.upper()} {operation.path}: {str(error)[:400]}")
    assert failures == []
