"""Optimistic concurrency of contracts: the row version as an entity tag, ``If-Match`` as versions.

Every stored change of a contract raises its ``version`` (a trigger, migration 0014). The
contract view carries it as a strong entity tag (``"v7"``); a state-changing call with
``If-Match`` goes ahead only when one of the tags it names is the current version, checked
under the row lock the write holds (``require_version`` runs after ``FOR UPDATE``), so no other
write can slip in between the check and the update. Without ``If-Match`` (or with ``*``) the
calls work as before.
"""

from __future__ import annotations

import re

from servanda.contracts.models import ContractInstance
from servanda.platform import errors

# One entity tag of an If-Match list (RFC 9110 8.8.3): optionally weak, then a quoted opaque tag.
_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')

MODIFIED_ELSEWHERE = (
    "Der Vertrag wurde inzwischen an anderer Stelle geändert (in einem anderen Tab oder von einer "
    "anderen Person). Nichts wurde gespeichert; bitte laden Sie den aktuellen Stand."
)


def entity_tag(version: int) -> str:
    """The strong entity tag of a contract version, as the ``ETag`` header carries it."""
    return f'"v{version}"'


def expected_versions(if_match: str | None) -> frozenset[int] | None:
    """The versions an ``If-Match`` value accepts; ``None`` when there is no precondition.

    ``*`` accepts any (existing) contract. Weak tags never match (If-Match compares strongly);
    a value that is not a list of entity tags accepts nothing, so the call answers 412.
    """
    if if_match is None or not if_match.strip():
        return None
    if if_match.strip() == "*":
        return None
    versions: set[int] = set()
    position = 0
    while position < len(if_match):
        match = _TAG.match(if_match, position)
        if match is None:
            return frozenset()
        weak, opaque = match.groups()
        if not weak and opaque[:1] == "v" and opaque[1:].isascii() and opaque[1:].isdigit():
            versions.add(int(opaque[1:]))
        position = match.end()
    return frozenset(versions)


def require_version(contract: ContractInstance, expected: frozenset[int] | None) -> None:
    """412 ``contract.modified_elsewhere`` unless ``contract`` (locked) has an expected version."""
    if expected is not None and contract.version not in expected:
        raise errors.PreconditionFailed("contract.modified_elsewhere", MODIFIED_ELSEWHERE)
