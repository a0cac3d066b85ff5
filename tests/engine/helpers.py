"""Builders for engine tests: questions, slots, clauses, and the shipped content packs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from servanda.engine.evaluate import ClauseVersion
from servanda.engine.rules import PinnedClause
from servanda.engine.shapes import Parameter, Question, Rule, Structure

NAMESPACE = uuid.UUID("6f1c1f4e-3d1b-4b8e-9a56-0c6b2f0e7a11")
PACKS = Path(__file__).resolve().parents[2] / "content-packs"
RULES = TypeAdapter(list[Rule])
PARAMETERS = TypeAdapter(dict[str, Parameter])


def cid(key: str) -> uuid.UUID:
    """Deterministic clause id for a pack-local or test key."""
    return uuid.uuid5(NAMESPACE, key)


def question(key: str, type: str = "text", **fields: Any) -> Question:
    return Question.model_validate({"key": key, "text": f"Frage {key}?", "type": type, **fields})


def options(*values: str) -> list[dict[str, str]]:
    return [{"value": v, "label": f"Label {v}"} for v in values]


def rule(type: str, *targets: str, severity: str = "hard", **fields: Any) -> Rule:
    data: dict[str, Any] = {"type": type, "severity": severity, "message": f"{type} verletzt", **fields}
    if targets:
        data["targetClauseIds"] = [str(cid(t)) for t in targets]
    return RULES.validate_python([data])[0]


def slot(
    id: str,
    type: str = "optional",
    clause: str | None = None,
    *alternatives: str,
    selected: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    """A slot dict; ``selected`` sets ``defaultSelected`` where the slot type has it (optional)."""
    data: dict[str, Any] = {"id": id, "type": type, "clauseId": str(cid(clause or id)), **fields}
    if alternatives:
        data["alternativeClauseIds"] = [str(cid(a)) for a in alternatives]
    if selected and type == "optional":
        data["defaultSelected"] = True
    return data


def structure(*sections: tuple[str, list[dict[str, Any]]]) -> Structure:
    return Structure.model_validate(
        {
            "sections": [
                {
                    "id": sid,
                    "title": f"Abschnitt {sid}",
                    "order": i,
                    "slots": [{**s, "order": j} for j, s in enumerate(slots)],
                }
                for i, (sid, slots) in enumerate(sections)
            ]
        }
    )


def pinned(*clauses: tuple[str, list[Rule]]) -> dict[uuid.UUID, PinnedClause]:
    return {cid(k): PinnedClause(cid(k), f"Klausel {k}", tuple(rules)) for k, rules in clauses}


# --- content packs -----------------------------------------------------------------------------


class Pack:
    """A shipped pack converted the way import does it, with uuid5 ids for the pack keys."""

    def __init__(self, name: str, template: str | None = None) -> None:
        data = json.loads((PACKS / name).read_text(encoding="utf-8"))
        self.ids = {c["key"]: cid(c["key"]) for c in data["clauses"]}
        self.titles = {c["key"]: c["title"] for c in data["clauses"]}
        self.clauses = {self.ids[c["key"]]: self._clause(c) for c in data["clauses"]}
        entry = next(t for t in data["templates"] if template is None or t["key"] == template)
        self.template_title = entry["title"]
        self.jurisdiction = entry.get("jurisdiction")
        self.structure = self._structure(entry["structure"], entry.get("document"))
        self.questions = TypeAdapter(list[Question]).validate_python(entry.get("interview", []))

    def _ref(self, ref: Any) -> str:
        return str(self.ids[ref]) if isinstance(ref, str) else str(ref["clauseId"])

    def _clause(self, clause: dict[str, Any]) -> ClauseVersion:
        rules = []
        for r in clause.get("rules", []):
            converted = {k: v for k, v in r.items() if k != "targets"}
            if "targets" in r:
                converted["targetClauseIds"] = [self._ref(t) for t in r["targets"]]
            rules.append(converted)
        return ClauseVersion(
            clause_id=self.ids[clause["key"]],
            title=clause["title"],
            content=clause.get("content", ""),
            parameters=PARAMETERS.validate_python(clause.get("parameters", {})),
            rules=tuple(RULES.validate_python(rules)),
            heading=clause.get("heading"),
        )

    def _structure(self, sections: list[dict[str, Any]], document: dict[str, Any] | None) -> Structure:
        converted = []
        for s, section in enumerate(sections):
            slots = []
            for t, entry in enumerate(section.get("slots", [])):
                item: dict[str, Any] = {
                    "id": entry["id"],
                    "type": entry["type"],
                    "clauseId": self._ref(entry["clause"]),
                    "order": t,
                }
                if entry.get("alternatives"):
                    item["alternativeClauseIds"] = [self._ref(a) for a in entry["alternatives"]]
                for key in ("defaultSelected", "includeWhen"):
                    if key in entry:
                        item[key] = entry[key]
                if entry.get("selectWhen"):
                    item["selectWhen"] = [
                        {"clauseId": self._ref(w["clause"]), "condition": w["condition"]}
                        for w in entry["selectWhen"]
                    ]
                slots.append(item)
            extra = {k: section[k] for k in ("placement", "showHeading") if k in section}
            converted.append(
                {"id": section["id"], "title": section["title"], "order": s, "slots": slots, **extra}
            )
        return Structure.model_validate({"sections": converted, "document": document})

    def slot_of(self, key: str) -> str:
        clause_id = self.ids[key]
        return next(s.id for s in self.structure.slots() if clause_id in s.clause_ids())

    def key_of(self, clause_id: uuid.UUID) -> str:
        return next(str(k) for k, v in self.ids.items() if v == clause_id)
