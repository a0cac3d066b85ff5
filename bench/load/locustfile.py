"""The simulated users of the mixed load test (locust); `python -m bench.load` runs it.

Each class follows what the web app does for that kind of user (web/src: the dashboard, the
catalog, the contract list, the interview with its autosave and live preview, the export panel,
the content editor, the audit log), with think times between page views. Proportions and their
reasons: ``bench/load/mix.py``. Accounts come from the file named by ``LOAD_ACCOUNTS`` (one per
simulated user, written by the runner); results go to ``LOAD_RESULTS``.

Every response outside the expected statuses is a failure (a 429 too: the accounts are many and
their pace human, far inside the per-user and per-tenant limits); so is an exception in a task.
No request sends ``If-Match``: the API stays compatible without it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

from bench.load.mix import EXPORT_PDF_SHARE, MIX

API = "/api/v1"
ACCOUNTS: dict[str, Any] = json.loads(open(os.environ["LOAD_ACCOUNTS"], encoding="utf-8").read())  # noqa: SIM115
COUNTS: dict[str, int] = json.loads(os.environ.get("LOAD_COUNTS", "{}"))
EXPORT_TIMEOUT_S = 180.0
SEARCH_WORDS = ("Arbeit", "Vertrag", "Geheimhaltung", "Dienstleistung", "Befristung", "Haftung", "NDA")
CONTRACT_WORDS = ("Müller", "Schmidt", "Arbeitsvertrag", "Weber", "AZ 2026", "Hoffmann", "Logistik")
AUDIT_ACTIONS = ("contract.update", "contract.create", "export.request", "auth.login", "contract.complete")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# -- results: every sample kept, split at the end of the ramp ------------------------------------


class Record:
    def __init__(self) -> None:
        self.steady_since: float | None = None
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.ramp_requests: Counter[str] = Counter()
        self.failures: dict[str, Counter[str]] = defaultdict(Counter)
        self.by_class: dict[str, Counter[str]] = defaultdict(Counter)
        self.user_errors: Counter[str] = Counter()
        self.per_second: Counter[int] = Counter()  # requests by wall-clock second (the warm-up's count)
        self.started = time.time()


RECORD = Record()


@events.request.add_listener
def _on_request(
    request_type: str,
    name: str,
    response_time: float,
    exception: BaseException | None,
    context: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    kind = (context or {}).get("userClass", "?")
    RECORD.by_class[kind]["failures" if exception else "requests"] += 1
    RECORD.per_second[int(time.time())] += 1
    if exception is not None:
        RECORD.failures[name][str(exception)[:300]] += 1
    if RECORD.steady_since is None:
        RECORD.ramp_requests[name] += 1
    elif exception is None:
        RECORD.samples[f"{request_type} {name}"].append(response_time)


@events.user_error.add_listener
def _on_user_error(user_instance: Any, exception: BaseException, tb: Any, **_: Any) -> None:
    RECORD.user_errors[f"{type(user_instance).__name__}: {type(exception).__name__}: {exception}"[:300]] += 1


@events.spawning_complete.add_listener
def _on_spawned(user_count: int, **_: Any) -> None:
    RECORD.steady_since = time.time()
    marker = os.environ.get("LOAD_MARKER")
    if marker:
        with open(marker, "w", encoding="utf-8") as f:
            f.write(str(user_count))


@events.test_stop.add_listener
def _on_stop(**_: Any) -> None:
    path = os.environ.get("LOAD_RESULTS")
    if not path:
        return
    result = {
        "started": RECORD.started,
        "steadySince": RECORD.steady_since,
        "stopped": time.time(),
        "samples": RECORD.samples,
        "rampRequests": RECORD.ramp_requests,
        "failures": {name: dict(messages) for name, messages in RECORD.failures.items()},
        "byClass": {name: dict(counts) for name, counts in RECORD.by_class.items()},
        "userErrors": dict(RECORD.user_errors),
        "perSecond": dict(RECORD.per_second),
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f)


# -- the simulated users -----------------------------------------------------------------------


_NEXT: dict[str, itertools.count[int]] = {name: itertools.count() for name in MIX}


class ApiUser(FastHttpUser):
    abstract = True
    network_timeout = 60.0
    connection_timeout = 30.0

    def on_start(self) -> None:
        pool = ACCOUNTS["classes"][type(self).__name__]
        self.account: dict[str, Any] = pool[next(_NEXT[type(self).__name__]) % len(pool)]
        self.rng = random.Random()
        self.token: str | None = self.account.get("token")
        self.refresh_token: str | None = None
        self.renew_at = float("inf")
        if self.token is None:  # editors and admins sign in at the start of their session
            body = self.call(
                "POST",
                "/auth/login",
                "auth: login",
                json={
                    "tenant": self.account["tenant"],
                    "email": self.account["email"],
                    "password": ACCOUNTS["password"],
                },
            )
            if body is None:  # counted as a failure
                raise StopUser()
            self._signed_in(body)

    def _signed_in(self, tokens: dict[str, Any]) -> None:
        """Keep the tokens; renew a minute before the access token expires, as the web app does."""
        self.token, self.refresh_token = tokens["accessToken"], tokens["refreshToken"]
        self.renew_at = time.monotonic() + tokens["expiresIn"] - 60

    def context(self) -> dict[str, Any]:
        return {"userClass": type(self).__name__}

    def think(self, low: float, high: float) -> None:
        time.sleep(self.rng.uniform(low, high))  # gevent patches time.sleep

    def call(
        self,
        method: str,
        path: str,
        name: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        expect: tuple[int, ...] = (200,),
        tolerate: tuple[tuple[int, str], ...] = (),
        raw: bool = False,
    ) -> Any:
        """One request; the parsed body, or None after a failure. ``tolerate``: (status, problem
        code) pairs the web app handles as a normal outcome (e.g. a 409 it follows instead)."""
        if time.monotonic() > self.renew_at and self.refresh_token:
            self.renew_at = float("inf")
            renewed = self.call(
                "POST", "/auth/refresh", "auth: refresh", json={"refreshToken": self.refresh_token}
            )
            if renewed is not None:
                self._signed_in(renewed)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        url = path if path.startswith("/api/") else f"{API}{path}"
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        with self.client.request(
            method, url, name=name, json=json, headers=headers, catch_response=True
        ) as response:
            status = response.status_code
            if status == 0:  # no response at all: the connection broke
                response.failure(f"no response: {getattr(response, 'error', None)!r}"[:300])
                return None
            if status in expect:
                if raw:
                    return response.content
                return response.json() if response.text else {}
            body: dict[str, Any] = {}
            if response.text:  # a body that is no JSON (or none) leaves the problem empty
                with contextlib.suppress(ValueError):
                    body = response.json()
            if (status, body.get("code", "")) in tolerate:
                return {"tolerated": status, **body}
            detail = body.get("errors") or body.get("detail") or (response.text or "")[:200]
            response.failure(f"{status} {body.get('code', '')} {_text(detail)[:300]}")
            return None


class LawyerBrowsing(ApiUser):
    """Reads: dashboard, catalog (search, filters, detail), contract list (filters), open a contract."""

    weight = MIX["LawyerBrowsing"][0]
    wait_time = between(2, 6)  # one page view per 2-6 s

    @task(3)
    def dashboard(self) -> None:
        self.call("GET", "/identity/me", "me")
        self.call("GET", "/contracts", "contracts: list, filtered", params={"status": "draft", "pageSize": 5})
        self.call(
            "GET", "/contracts", "contracts: list, filtered", params={"status": "completed", "pageSize": 5}
        )
        jobs = self.call("GET", "/export-jobs", "exports: list", params={"page": 1, "pageSize": 5})
        if jobs and jobs["items"]:  # the titles of the exported contracts
            self.call("GET", "/contracts", "contracts: list", params={"page": 1, "pageSize": 100})

    @task(3)
    def catalog(self) -> None:
        roll = self.rng.random()
        if roll < 0.4:
            params: dict[str, Any] = {"page": 1, "pageSize": 25}
            name = "catalog: page"
        elif roll < 0.8:
            params = {"q": self.rng.choice(SEARCH_WORDS), "page": 1, "pageSize": 25}
            name = "catalog: search"
        else:
            params = {"legalArea": "Arbeitsrecht", "jurisdiction": "DE", "page": 1, "pageSize": 25}
            name = "catalog: search"
        page = self.call("GET", "/catalog/templates", name, params=params)
        if page and page["items"]:
            self.think(1, 3)
            chosen = self.rng.choice(page["items"])
            self.call("GET", f"/catalog/templates/{chosen['id']}", "catalog: detail")

    @task(4)
    def contracts(self) -> None:
        roll = self.rng.random()
        if roll < 0.35:
            page = self.call("GET", "/contracts", "contracts: list", params={"page": 1, "pageSize": 25})
        elif roll < 0.6:
            word = self.rng.choice(CONTRACT_WORDS)
            page = self.call(
                "GET", "/contracts", "contracts: list, search", params={"q": word, "pageSize": 25}
            )
        else:
            since = (date.today() - timedelta(days=self.rng.randint(7, 180))).isoformat()
            params = self.rng.choice(
                [
                    {"status": "draft", "pageSize": 25},
                    {"status": "completed", "page": 2, "pageSize": 25},
                    {"mine": "true", "pageSize": 25},
                    {"updatedFrom": since, "pageSize": 25},
                ]
            )
            page = self.call("GET", "/contracts", "contracts: list, filtered", params=params)
        if page and page["items"]:
            self.think(1, 3)
            contract = self.rng.choice(page["items"])["id"]
            self.call("GET", f"/contracts/{contract}", "contract: get")
            self.call("GET", f"/contracts/{contract}/version-info", "contract: version-info")
            self.call("GET", f"/contracts/{contract}/preview", "contract: preview")


def _answer(question: dict[str, Any], rng: random.Random) -> Any:
    """A valid answer, as a lawyer would give it: within the question's own bounds."""
    kind = question["type"]
    bounds = question.get("validation") or {}
    if kind == "text":
        return f"Muster {question['text'].rstrip('?')[:60]}"
    if kind == "number":
        low = int(bounds.get("min", 1))
        return rng.randint(low, int(bounds.get("max", low + 40)))
    if kind == "currency":
        low = int(float(bounds.get("min", 100)))
        return f"{rng.randint(low, int(float(bounds.get('max', low + 250_000))))}.00"
    if kind == "date":
        first = date.fromisoformat(str(bounds.get("min", "2027-01-01"))[:10])
        last = date.fromisoformat(str(bounds.get("max", (first + timedelta(days=365)).isoformat()))[:10])
        return (first + timedelta(days=rng.randint(0, max(0, (last - first).days)))).isoformat()
    if kind == "yes_no":
        return rng.random() < 0.5
    options = [o["value"] for o in question.get("options") or []]
    if kind == "single_choice":
        return rng.choice(options)
    return options[:1]  # multiple_choice


class LawyerInterviewing(ApiUser):
    """Drafts: pick a template, create, answer question by question (autosave + live preview),
    validate, override an alternative and resolve the override, complete most of them."""

    weight = MIX["LawyerInterviewing"][0]
    wait_time = between(5, 15)  # between two drafting sessions

    @task
    def draft_a_contract(self) -> None:
        page = self.call("GET", "/catalog/templates", "catalog: page", params={"page": 1, "pageSize": 25})
        if not page or not page["items"]:
            return
        template = self.rng.choice(page["items"])
        self.call("GET", f"/catalog/templates/{template['id']}", "catalog: detail")
        self.think(2, 5)
        view = self.call(
            "POST",
            "/contracts",
            "contract: create",
            json={
                "templateId": template["id"],
                "title": f"{template['title']} {self.rng.choice(CONTRACT_WORDS)}",
                "clientReference": f"AZ {self.rng.randint(1, 9999)}/{datetime.now().year}",
            },
            expect=(201,),
        )
        if view is None:
            return
        contract = view["id"]
        self.call("GET", f"/contracts/{contract}", "contract: get")  # the interview page opens
        self.call("GET", f"/contracts/{contract}/preview", "contract: preview")
        abandon_after = self.rng.randint(5, 25) if self.rng.random() < 0.25 else 10_000
        override_at = self.rng.randint(3, 10) if self.rng.random() < 0.4 else -1
        saves = 0
        while saves < 80:
            open_questions = [q for q in view["interview"] if q["visible"] and q.get("answer") is None]
            if not open_questions or saves >= abandon_after:
                break
            self.think(1, 4)  # reading the question, typing the answer
            batch = open_questions[: self.rng.choice((1, 1, 1, 2))]  # the debounce sometimes merges two
            answers = {q["key"]: _answer(q, self.rng) for q in batch}
            saved = self.call(
                "PATCH", f"/contracts/{contract}", "contract: autosave", json={"answers": answers}
            )
            if saved is None:
                return
            view, saves = saved, saves + 1
            self.call("GET", f"/contracts/{contract}/preview", "contract: preview")
            if saves == override_at:
                view = self._override_and_resolve(contract, view) or view
            if saves % 6 == 0:
                self.call("POST", f"/contracts/{contract}/validate", "contract: validate")
        if saves < abandon_after:
            self.think(1, 3)
            result = self.call("POST", f"/contracts/{contract}/validate", "contract: validate")
            ready = result is not None and result["validationState"] != "has_conflicts"
            if ready and not view["completionProblems"] and self.rng.random() < 0.7:
                self.think(1, 3)
                self.call("POST", f"/contracts/{contract}/complete", "contract: complete")

    def _override_and_resolve(self, contract: str, view: dict[str, Any]) -> dict[str, Any] | None:
        """Choose another alternative than the answers call for (an ``answer_override`` warning),
        then apply the offered resolution (back to what the answers choose)."""
        for slot in view["slots"]:
            others = [o["clauseId"] for o in slot["options"] if o["clauseId"] != slot["clauseId"]]
            if (
                slot["type"] != "alternative"
                or not slot["editable"]
                or not slot["answersClauseId"]
                or not others
            ):
                continue
            self.think(2, 5)  # reading the alternative's text
            changed = self.call(
                "PATCH",
                f"/contracts/{contract}",
                "contract: autosave",
                json={"selectedSlots": {slot["slotId"]: self.rng.choice(others)}},
            )
            if changed is None:
                return None
            for violation in changed["validation"]["messages"]:
                options = [o for o in violation["resolutionOptions"] if o["autoApplicable"]]
                if violation["ruleType"] == "answer_override" and options:
                    self.think(1, 3)
                    resolved: dict[str, Any] | None = self.call(
                        "POST",
                        f"/contracts/{contract}/resolutions",
                        "contract: resolve",
                        json={"fingerprint": violation["fingerprint"], "optionId": options[0]["optionId"]},
                    )
                    return resolved
            return dict(changed)
        return None


class LawyerExporting(ApiUser):
    """Exports a contract from the list: DOCX mostly, some PDF; polls like the export panel
    (every second) and downloads the file through its signed link."""

    weight = MIX["LawyerExporting"][0]
    wait_time = between(5, 15)

    def on_start(self) -> None:
        super().on_start()
        self.call("GET", "/tenant/features", "tenant: features")  # the panel caches both 5 min
        self.call("GET", "/export/style-templates", "styles: list")

    @task
    def export_a_contract(self) -> None:
        page = self.call(
            "GET", "/contracts", "contracts: list, filtered", params={"status": "completed", "pageSize": 25}
        )
        candidates = [c for c in (page or {}).get("items", []) if c["validationState"] != "has_conflicts"]
        if not candidates:
            page = self.call("GET", "/contracts", "contracts: list", params={"pageSize": 25})
            candidates = [c for c in (page or {}).get("items", []) if c["validationState"] != "has_conflicts"]
        if not candidates:
            return
        contract = self.rng.choice(candidates)["id"]
        self.call("GET", f"/contracts/{contract}", "contract: get")
        self.call("GET", "/export-jobs", "exports: list", params={"contractId": contract, "pageSize": 1})
        self.think(1, 3)
        fmt = "pdf" if self.rng.random() < EXPORT_PDF_SHARE else "docx"
        job = self.call(
            "POST",
            "/export-jobs",
            "export: request",
            json={"contractId": contract, "format": fmt},
            expect=(202,),
            tolerate=((409, "export.already_queued"),),  # the panel follows the running job
        )
        job_id = None if job is None else job.get("jobId") if "tolerated" in job else job["id"]
        if job_id is None:
            return
        started = time.monotonic()
        while True:
            time.sleep(1.0)  # the export panel's POLL_MS
            status = self.call("GET", f"/export-jobs/{job_id}", "export: status")
            if status is None:
                return
            if status["status"] == "done":
                break
            if status["status"] == "failed" or time.monotonic() - started > EXPORT_TIMEOUT_S:
                self.environment.events.request.fire(
                    request_type="JOB",
                    name=f"export: {fmt.upper()} job (queued to done)",
                    response_time=(time.monotonic() - started) * 1000,
                    response_length=0,
                    exception=RuntimeError(f"job {status['status']}: {status.get('errorCode')}"),
                    context=self.context(),
                )
                return
        queued = datetime.fromisoformat(status["queuedAt"])
        completed = datetime.fromisoformat(status["completedAt"])
        self.environment.events.request.fire(  # the worker's side of the end-to-end time
            request_type="JOB",
            name=f"export: {fmt.upper()} job (queued to done)",
            response_time=(completed - queued).total_seconds() * 1000,
            response_length=status.get("size") or 0,
            exception=None,
            context=self.context(),
        )
        self.think(0.5, 2)
        data = self.call("GET", status["downloadUrl"], f"export: download {fmt.upper()}", raw=True)
        if data is not None and len(data) < 1000:
            raise AssertionError(f"export {job_id}: {len(data)} bytes")


CLAUSE_TEXT = (
    "Der Arbeitnehmer verpflichtet sich, über alle ihm bekannt gewordenen Betriebs- und "
    "Geschäftsgeheimnisse auch nach dem Ende des Arbeitsverhältnisses für die Dauer von "
    "{{frist_monate}} Monaten Stillschweigen zu bewahren."
)


class ContentEditor(ApiUser):
    """Authors clauses: a new clause or a new version, a few edits of the draft (with think time),
    the publishing gates, submit to a colleague; reviews what colleagues submitted."""

    weight = MIX["ContentEditor"][0]
    wait_time = between(5, 15)

    def on_start(self) -> None:
        super().on_start()
        me = self.call("GET", "/identity/me", "me")
        self.tenant_id = me["tenantId"] if me else None

    @task(3)
    def author(self) -> None:
        found = self.call("GET", "/content/clauses", "content: clauses", params={"q": "Verschwiegenheit"})
        own = [c for c in (found or {}).get("items", []) if c["tenantId"] == self.tenant_id]
        if own and self.rng.random() < 0.5:  # publishers' clauses are read-only here: own ones only
            clause = self.rng.choice(own)
            version = self.call(
                "POST",
                f"/content/clauses/{clause['id']}/versions",
                "content: new version",
                json={"changeNote": "Überarbeitung"},
                expect=(201,),
            )
        else:
            created = self.call(
                "POST",
                "/content/clauses",
                "content: clause create",
                json={
                    "title": f"Verschwiegenheit {self.rng.randint(1, 10**6)}",
                    "jurisdiction": "DE",
                    "legalArea": "Arbeitsrecht",
                    "heading": "Verschwiegenheit",
                    "content": CLAUSE_TEXT,
                    "parameters": {"frist_monate": {"type": "number", "label": "Frist in Monaten"}},
                    "changeNote": "Neu",
                },
                expect=(201,),
            )
            clause, version = (created, created["version"]) if created else (None, None)
        if clause is None or version is None:
            return
        path = f"/content/clauses/{clause['id']}/versions/{version['id']}"
        text = version.get("content") or CLAUSE_TEXT
        for edit in range(self.rng.randint(2, 4)):
            self.think(2, 6)  # writing: a sentence more (placeholders and parameters stay as they are)
            text += f"\n\nErgänzung {edit + 1}: Die Regelung gilt auch gegenüber verbundenen Unternehmen."
            if self.call("PATCH", path, "content: draft edit", json={"content": text}) is None:
                return
        self.call("GET", f"{path}/publishing-gates", "content: gates")
        self.think(1, 3)
        reviewers = self.call(
            "GET", "/content/reviewers", "content: reviewers", params={"versionId": version["id"]}
        )
        colleagues = [
            r["id"] for r in (reviewers or {}).get("items", []) if r["email"] in self.account["reviewers"]
        ]
        if colleagues:
            self.call(
                "POST", f"{path}/submit", "content: submit", json={"reviewerId": self.rng.choice(colleagues)}
            )

    @task(2)
    def review(self) -> None:
        queue = self.call("GET", "/content/review-queue", "content: review queue")
        for item in (queue or {}).get("items", [])[:2]:
            path = f"/content/{item['kind']}s/{item['entityId']}/versions/{item['versionId']}"
            self.call("GET", path, "content: version")
            self.call("GET", f"{path}/publishing-gates", "content: gates")
            self.think(2, 6)  # reading
            if self.rng.random() < 0.7:
                self.call("POST", f"{path}/approve", "content: approve")
            else:
                self.call(
                    "POST",
                    f"{path}/request-changes",
                    "content: request changes",
                    json={"comment": "Bitte die Frist begründen."},
                )


class TenantAdmin(ApiUser):
    """Reads the audit log: first page, filters (action, object type, a day, a person), later pages;
    now and then the user list."""

    weight = MIX["TenantAdmin"][0]
    wait_time = between(3, 8)

    @task(5)
    def audit_log(self) -> None:
        page = self.call("GET", "/identity/audit-logs", "audit: page", params={"pageSize": 50})
        for number in range(2, 2 + self.rng.randint(0, 3)):  # paging on
            self.think(1, 3)
            self.call("GET", "/identity/audit-logs", "audit: page", params={"page": number, "pageSize": 50})
        self.think(1, 3)
        day = ACCOUNTS["auditDay"]
        actor = self.rng.choice(page["items"])["actorId"] if page and page["items"] else None
        params = self.rng.choice(
            [
                {"action": self.rng.choice(AUDIT_ACTIONS), "pageSize": 50},
                {"objectType": "contract", "pageSize": 50},
                {"from": day, "to": day, "pageSize": 50},
                {"actorId": actor, "pageSize": 50} if actor else {"objectType": "user", "pageSize": 50},
            ]
        )
        self.call("GET", "/identity/audit-logs", "audit: filtered", params=params)

    @task(1)
    def users(self) -> None:
        self.call("GET", "/identity/users", "users: list", params={"pageSize": 25})


for _name, _count in COUNTS.items():  # the runner fixes each class's count (bench/load/mix.py)
    globals()[_name].fixed_count = _count
