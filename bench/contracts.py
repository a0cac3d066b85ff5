"""Contracts through the API (quality.md): create with pinning (30 clauses) P95 < 50 ms; autosave PATCH
with 20 concurrent users P95 < 25 ms; validate endpoint P95 < 25 ms.

A synthetic published template with 30 clauses (rules of every type) and 20
questions; 20 lawyers of one law firm, each autosaving their own contract.
Runs against a real `servanda api` process; `hey` generates the load.

    .venv/bin/python -m bench.contracts [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import psycopg
from joserfc.jwk import RSAKey

from bench.common import LoadResult, api_server, bench_database, http_load_many, report, summary_ms
from servanda.content.packs import import_pack
from servanda.content.service import ContentService
from servanda.identity.service import acting_user
from servanda.platform.db import Database
from servanda.platform.tokens import LocalTokens

TARGET_CREATE_MS, TARGET_PATCH_MS = 50.0, 25.0
CLAUSES, QUESTIONS, USERS = 30, 20, 20


def pack() -> dict[str, Any]:
    kinds = ["requires", "incompatible_with", "forbids"]
    clauses = []
    for i in range(CLAUSES):
        rules: list[dict[str, Any]] = [
            {
                "type": kinds[i % 3],
                "targets": [f"k{(i + 7) % CLAUSES}"],
                "severity": "soft",
                "message": f"Hinweis {i}",
                "suggestion": "Prüfen.",
            }
        ]
        if i % 5 == 0:
            rules.append(
                {
                    "type": "scoped_to",
                    "jurisdictions": ["DE", "AT"],
                    "severity": "hard",
                    "message": "nur DE/AT",
                    "suggestion": "Klausel entfernen.",
                }
            )
        clauses.append(
            {
                "key": f"k{i}",
                "title": f"Klausel {i}",
                "jurisdiction": "DE",
                "legalArea": "Arbeitsrecht",
                "content": f"§ Text {i}: {{{{p{i % QUESTIONS}}}}} gilt.\n\nWeiterer Absatz {i}.",
                "parameters": {
                    f"p{i % QUESTIONS}": {
                        "type": "number",
                        "label": f"Wert {i % QUESTIONS}",
                        "required": True,
                    }
                },
                "rules": rules,
                "changeNote": "Bench",
            }
        )
    structure = [
        {
            "id": f"s{k}",
            "title": f"Teil {k}",
            "slots": [
                {"id": f"slot{i}", "type": "optional", "clause": f"k{i}", "defaultSelected": i % 4 != 0}
                for i in range(k * 10, k * 10 + 10)
            ],
        }
        for k in range(CLAUSES // 10)
    ]
    interview = [
        {"key": f"q{i}", "text": f"Wert {i}?", "type": "number", "required": True, "parameterKeys": [f"p{i}"]}
        for i in range(QUESTIONS)
    ]
    return {
        "format": "servanda-content-pack/1",
        "name": "Bench",
        "clauses": clauses,
        "templates": [
            {
                "key": "bench",
                "title": "Bench-Vertrag",
                "description": "Synthetisch",
                "category": "Arbeitsvertrag",
                "jurisdiction": "DE",
                "legalArea": "Arbeitsrecht",
                "tags": [],
                "structure": structure,
                "interview": interview,
            }
        ],
    }


def seed(db_super: str, app_url: str) -> tuple[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]], uuid.UUID]:
    with psycopg.connect(db_super, autocommit=True) as conn:
        vendor = conn.execute(
            "INSERT INTO tenants (slug, name, type) VALUES ('verlag-b', 'V', 'vendor') RETURNING id"
        ).fetchone()
        assert vendor is not None
        conn.execute(
            "INSERT INTO users (tenant_id, email, display_name, role, status) "
            "VALUES (%s, 'admin@v.de', 'A', 'admin', 'active')",
            (vendor[0],),
        )

    async def publish() -> None:
        db = Database(app_url, pool_size=1)
        try:
            async with db.session(None) as session:
                principal = await acting_user(session, "verlag-b")
                await import_pack(ContentService(session), principal, pack(), publish=True)
        finally:
            await db.dispose()

    asyncio.run(publish())
    with psycopg.connect(db_super, autocommit=True) as conn:
        firm = conn.execute(
            "INSERT INTO tenants (slug, name, type) VALUES ('kanzlei-b', 'K', 'lawfirm') RETURNING id"
        ).fetchone()
        assert firm is not None
        users = []
        for n in range(USERS):
            user = conn.execute(
                "INSERT INTO users (tenant_id, email, display_name, role, status) "
                "VALUES (%s, %s, 'Anwalt', 'user', 'active') RETURNING id",
                (firm[0], f"u{n}@k.de"),
            ).fetchone()
            session = conn.execute(
                "INSERT INTO auth_sessions (tenant_id, user_id, expires_at) "
                "VALUES (%s, %s, now() + interval '1 day') RETURNING id",
                (firm[0], user[0]),
            ).fetchone()  # type: ignore[index]
            users.append((user[0], session[0]))  # type: ignore[index]
        template = conn.execute("SELECT id FROM templates WHERE external_key = 'bench'").fetchone()
        conn.execute("ANALYZE")
    assert template is not None
    return firm[0], users, template[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--patches-per-user", type=int, default=150)
    args = parser.parse_args()
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    tokens = LocalTokens(key)
    with bench_database("servanda_bench_contracts") as db:
        firm, users, template = seed(db.superuser, db.app)
        headers = [
            {
                "Authorization": "Bearer "
                + tokens.issue(user_id=u, tenant_id=firm, email="x@k.de", role="user", session_id=s)
            }
            for u, s in users
        ]
        with api_server(db.app, key.as_pem(private=True).decode(), args.workers) as base:
            body = {"templateId": str(template), "title": "Arbeitsvertrag Bench"}
            create_times = []
            contracts = []
            with httpx.Client(base_url=base, timeout=30) as client:
                for i in range(args.creates + 20):
                    started = time.perf_counter()
                    response = client.post("/api/v1/contracts", json=body, headers=headers[i % USERS])
                    elapsed = time.perf_counter() - started
                    assert response.status_code == 201, response.text
                    if i >= 20:
                        create_times.append(elapsed)
                    if i < USERS:
                        contracts.append(response.json()["id"])
            patch = json.dumps({"answers": {"q1": 7, "q2": 3}})
            clients = [(f"{base}/api/v1/contracts/{c}", h) for c, h in zip(contracts, headers, strict=True)]
            validate = [
                (f"{base}/api/v1/contracts/{c}/validate", h) for c, h in zip(contracts, headers, strict=True)
            ]
            runs = {
                "create, sequential": LoadResult(
                    create_times, len(create_times) / sum(create_times), "httpx"
                ),
                "autosave paced (2/s x 20 users)": http_load_many(
                    clients,
                    requests_per_client=args.patches_per_user // 3,
                    rate_per_client=2,
                    method="PATCH",
                    body=patch,
                ),
                "autosave saturated (20 users)": http_load_many(
                    clients, requests_per_client=args.patches_per_user, method="PATCH", body=patch
                ),
                "validate paced (5/s x 20 users)": http_load_many(
                    validate, requests_per_client=args.patches_per_user // 2, rate_per_client=5, method="POST"
                ),
                "validate saturated (20 users)": http_load_many(
                    validate, requests_per_client=args.patches_per_user, method="POST"
                ),
            }
        print(
            f"Contracts API, template with {CLAUSES} clauses / {QUESTIONS} questions, {USERS} users, "
            f"{args.workers} API worker(s); create target P95 < {TARGET_CREATE_MS} ms, PATCH/validate < {TARGET_PATCH_MS} ms"
        )
        create = summary_ms(create_times)
        print(
            f"  create sequential: P50 {create['p50_ms']:.2f} ms  P95 {create['p95_ms']:.2f} ms "
            f"(target < {TARGET_CREATE_MS} ms) {'OK' if create['p95_ms'] < TARGET_CREATE_MS else 'MISSED'}"
        )
        report(
            "contracts",
            TARGET_PATCH_MS,
            {k: v for k, v in runs.items() if not k.startswith("create")},
            {"create": create, "create_target_p95_ms": TARGET_CREATE_MS, "workers": args.workers},
        )


if __name__ == "__main__":
    main()
