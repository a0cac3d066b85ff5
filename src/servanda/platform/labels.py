"""German labels of internal status keys, as the web client shows them.

Messages for people (a problem document's ``detail``, ``errors[].message``)
name statuses and workflow steps by these labels, never by their internal keys
(``review``, ``draft``): the one table both the content workflow and the
contracts module use. A pure table: no business module is imported.
"""

from __future__ import annotations

# Content versions (clauses and templates) and the outcomes of a review.
VERSION_STATUS_LABELS: dict[str, str] = {
    "draft": "Entwurf",
    "review": "In Prüfung",
    "approved": "Freigegeben",
    "published": "Veröffentlicht",
    "deprecated": "Veraltet",
    "rejected": "Abgelehnt",
    "changes_requested": "Änderungen angefordert",
}

# Contract instances.
CONTRACT_STATUS_LABELS: dict[str, str] = {
    "draft": "Entwurf",
    "completed": "Abgeschlossen",
    "archived": "Archiviert",
}

# The steps of the content workflow, as the buttons name them.
WORKFLOW_ACTION_LABELS: dict[str, str] = {
    "submit": "Zur Prüfung einreichen",
    "approve": "Freigeben",
    "reject": "Ablehnen",
    "request_changes": "Änderungen anfordern",
    "publish": "Veröffentlichen",
    "deprecate": "Als veraltet markieren",
}


def version_status(key: str) -> str:
    """The German label of a content version status (the key itself if unknown)."""
    return VERSION_STATUS_LABELS.get(key, key)


def contract_status(key: str) -> str:
    """The German label of a contract status (the key itself if unknown)."""
    return CONTRACT_STATUS_LABELS.get(key, key)


def workflow_action(key: str) -> str:
    """The German label of a content workflow step (the key itself if unknown)."""
    return WORKFLOW_ACTION_LABELS.get(key, key)
