"""Catalog search and listing at 20 concurrent clients (quality.md: list endpoints P95 < 30 ms).

500 published templates across 10 publishers (vendor tenants), read by a law
firm's user through a real `servanda api` process: the plain list, a German
full-text search, and a filtered list, each paced (20 clients x 25 req/s) and
saturated (back-to-back). The floor is the search query run directly over
psycopg as the app role.

    .venv/bin/python -m bench.catalog [--requests 4000]
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from urllib.parse import quote

import psycopg
from joserfc.jwk import RSAKey

from bench.common import api_server, bench_database, http_load, report, summary_ms
from servanda.platform.tokens import LocalTokens

TARGET_P95_MS = 30.0
VENDORS = 10
TEMPLATES_PER_VENDOR = 50
KINDS = [
    ("Arbeitsvertrag", "Arbeitsrecht"),
    ("Geheimhaltungsvereinbarung", "Gesellschaftsrecht"),
    ("Dienstleistungsvertrag", "Vertragsrecht"),
    ("Mietvertrag", "Mietrecht"),
    ("Kaufvertrag", "Kaufrecht"),
    ("Werkvertrag", "Vertragsrecht"),
    ("Darlehensvertrag", "Bankrecht"),
    ("Lizenzvertrag", "IT-Recht"),
]
WORDS = [
    "befristet",
    "unbefristet",
    "Teilzeit",
    "leitende Angestellte",
    "Geschäftsführer",
    "Software",
    "Gewerbe",
    "Wohnraum",
    "Beratung",
    "Wartung",
    "Entwicklung",
    "Vertrieb",
    "Pharma",
    "Forschung",
    "Handel",
    "Handwerk",
]


def seed(superuser: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    rng = random.Random(3)
    with psycopg.connect(superuser, autocommit=True) as conn:
        for v in range(VENDORS):
            vendor = conn.execute(
                "INSERT INTO tenants (slug, name, type) VALUES (%s, %s, 'vendor') RETURNING id",
                (f"verlag-{v}", f"Verlag {v}"),
            ).fetchone()
            assert vendor is not None
            for n in range(TEMPLATES_PER_VENDOR):
                title, area = rng.choice(KINDS)
                words = rng.sample(WORDS, 3)
                template = conn.execute(
                    "INSERT INTO templates (tenant_id, title, description, category, legal_area, jurisdiction, tags) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (
                        vendor[0],
                        f"{title} {words[0]} {n}",
                        f"Muster für {words[1]} und {words[2]}",
                        title,
                        area,
                        rng.choice(["DE", "DE", "AT", "CH"]),
                        [area.lower(), words[0].lower()],
                    ),
                ).fetchone()
                assert template is not None
                version = conn.execute(
                    "INSERT INTO template_versions (tenant_id, template_id, version_number, status, published_at, "
                    "structure, interview) VALUES (%s, %s, 1, 'published', now(), %s, '[]') RETURNING id",
                    (vendor[0], template[0], '{"sections": []}'),
                ).fetchone()
                assert version is not None
                conn.execute(
                    "UPDATE templates SET current_published_version_id = %s WHERE id = %s",
                    (version[0], template[0]),
                )
        firm = conn.execute(
            "INSERT INTO tenants (slug, name, type) VALUES ('kanzlei-bench', 'Kanzlei', 'lawfirm') RETURNING id"
        ).fetchone()
        assert firm is not None
        user = conn.execute(
            "INSERT INTO users (tenant_id, email, display_name, role, status) "
            "VALUES (%s, 'anwalt@bench.de', 'Anwalt', 'user', 'active') RETURNING id",
            (firm[0],),
        ).fetchone()
        assert user is not None
        session = conn.execute(
            "INSERT INTO auth_sessions (tenant_id, user_id, expires_at) VALUES (%s, %s, now() + interval '1 day') "
            "RETURNING id",
            (firm[0], user[0]),
        ).fetchone()
        assert session is not None
        conn.execute("ANALYZE")
    return firm[0], user[0], session[0]


def floor(app_url: str, tenant: uuid.UUID, runs: int = 1000) -> list[float]:
    sql = (
        "SELECT t.id, t.title FROM templates t JOIN template_versions v ON v.id = t.current_published_version_id "
        "WHERE t.current_published_version_id IS NOT NULL "
        "AND t.search @@ websearch_to_tsquery('german', %s) "
        "ORDER BY ts_rank(t.search, websearch_to_tsquery('german', %s)) DESC, lower(t.title) LIMIT 25"
    )
    times = []
    with psycopg.connect(app_url, prepare_threshold=0) as conn:
        for i in range(runs + 50):
            started = time.perf_counter()
            conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant),))
            conn.execute(sql, ("Arbeitsverträge", "Arbeitsverträge")).fetchall()
            conn.commit()
            if i >= 50:
                times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--rate-per-client", type=float, default=25.0, help="paced mode: requests/s per client"
    )
    args = parser.parse_args()
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    with bench_database("servanda_bench_catalog") as db:
        tenant, user, session = seed(db.superuser)
        token = LocalTokens(key).issue(
            user_id=user, tenant_id=tenant, email="anwalt@bench.de", role="user", session_id=session
        )
        headers = {"Authorization": f"Bearer {token}"}
        with api_server(db.app, key.as_pem(private=True).decode(), args.workers) as base:
            urls = {
                "list": f"{base}/api/v1/catalog/templates?pageSize=25",
                "search": f"{base}/api/v1/catalog/templates?q={quote('Arbeitsverträge befristet')}",
                "filter": f"{base}/api/v1/catalog/templates?category=Mietvertrag&jurisdiction=DE",
            }
            runs = {}
            http_load(urls["list"], headers, concurrency=args.concurrency, requests=500)  # warm-up
            for name, url in urls.items():
                runs[f"{name} paced ({args.rate_per_client:g}/s x {args.concurrency})"] = http_load(
                    url,
                    headers,
                    concurrency=args.concurrency,
                    requests=args.requests,
                    rate_per_client=args.rate_per_client,
                )
                runs[f"{name} saturated"] = http_load(
                    url, headers, concurrency=args.concurrency, requests=args.requests
                )
        raw = summary_ms(floor(db.libpq(db.app), tenant))
        print(
            f"Catalog, {VENDORS * TEMPLATES_PER_VENDOR} published templates of {VENDORS} publishers, "
            f"{args.concurrency} concurrent clients, {args.workers} API worker(s)"
        )
        report(
            "catalog",
            TARGET_P95_MS,
            runs,
            {"templates": VENDORS * TEMPLATES_PER_VENDOR, "workers": args.workers, "floor_search": raw},
        )
        print(f"  floor (search query over psycopg, sequential): P50 {raw['p50_ms']:.3f} ms")


if __name__ == "__main__":
    main()
