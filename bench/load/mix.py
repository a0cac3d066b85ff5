"""The user mix of the load test and the quality.md targets its operations are held to.

Shared by the runner (which seeds one account per simulated user) and the locustfile
(which fixes each class's user count to the same numbers). Pure: no locust, no gevent.

Why these proportions (a law firm's working day, not a stress pattern):

- **60 % lawyers browsing** - most of a lawyer's time in the product is reading: the
  dashboard, the catalog, the contract list and opening contracts to look at them.
- **25 % lawyers interviewing** - at any moment about a quarter of the signed-in lawyers are
  drafting: create a contract, answer the interview (every answer autosaves, the preview
  follows), validate, resolve an override, complete some.
- **8 % lawyers exporting** - an export ends a drafting session (one or two per contract), so
  fewer users are exporting than drafting at any instant; DOCX mostly (80 %), PDF for the
  rest (ODT is a beta behind a feature flag, off by default).
- **5 % editors** - a small knowledge-management team per firm or publisher (about one editor
  per 12 lawyers): clause drafts, edits, four-eyes review.
- **2 % admins** - occasional: the audit log (filters, pages), the user list.
"""

from __future__ import annotations

import math

# Class name -> (weight in %, role of its accounts)
MIX: dict[str, tuple[int, str]] = {
    "LawyerBrowsing": (60, "user"),
    "LawyerInterviewing": (25, "user"),
    "LawyerExporting": (8, "user"),
    "ContentEditor": (5, "editor"),
    "TenantAdmin": (2, "admin"),
}

EXPORT_PDF_SHARE = 0.2

# quality.md targets by operation name (the names the locustfile gives its requests).
P95_TARGETS_MS: dict[str, float] = {
    "contract: autosave": 25.0,  # autosave PATCH with 20 concurrent users
    "contract: validate": 25.0,  # rule validation through the API
    "contract: create": 50.0,  # contract create with pinning
    "catalog: page": 30.0,  # catalog / list endpoints, 20 concurrent
    "catalog: search": 30.0,
    "contracts: list": 30.0,
    "contracts: list, filtered": 30.0,
    "contracts: list, search": 30.0,
    "audit: page": 30.0,
    "audit: filtered": 30.0,
}
P50_TARGETS_MS: dict[str, float] = {
    "export: DOCX job (queued to done)": 500.0,  # DOCX export end-to-end
    "export: PDF job (queued to done)": 1500.0,  # warm converter (the ODT target; PDF held to it)
}
THROUGHPUT_TARGET_RPS = 500.0  # sustained mixed API throughput on 2 cores
MEMORY_GROWTH_LIMIT = 0.10  # issue 15: no growth beyond 10 % between start and end


def user_counts(users: int) -> dict[str, int]:
    """Users per class for ``users`` in all: largest remainder of the weights, at least one each
    (so a short run with few users still drives every class)."""
    if users < len(MIX):
        raise ValueError(f"at least {len(MIX)} users: one per class")
    total = sum(weight for weight, _ in MIX.values())
    exact = {name: users * weight / total for name, (weight, _) in MIX.items()}
    counts = {name: max(1, math.floor(share)) for name, share in exact.items()}
    by_remainder = sorted(exact, key=lambda name: exact[name] - math.floor(exact[name]), reverse=True)
    index = 0
    while sum(counts.values()) < users:
        counts[by_remainder[index % len(by_remainder)]] += 1
        index += 1
    while sum(counts.values()) > users:  # the minimum of one pushed the sum over
        largest = max(counts, key=lambda name: counts[name])
        counts[largest] -= 1
    return counts
