"""Content packs: import a library of clauses and templates from one JSON file (content-packs.md).

Validation is complete before anything is written: the JSON Schema, then key
uniqueness and reference resolution, each error with its JSON path. The
import runs in one transaction (an invalid pack imports nothing) and is
idempotent: entities are matched by their pack key (``external_key``); an
unchanged one is left alone, a changed one gets a new draft version. The API
creates drafts for the four-eyes workflow; the operator CLI may publish.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.content.models import Clause, Template
from servanda.content.service import CLAUSES, KINDS, TEMPLATES, ContentService, _jsonable
from servanda.engine.shapes import Parameter, Question, Rule, Structure
from servanda.identity.principal import Principal
from servanda.platform import errors, validation_messages

FORMAT = "servanda-content-pack/1"
RULES = TypeAdapter(list[Rule])
PARAMETERS = TypeAdapter(dict[str, Parameter])
QUESTIONS = TypeAdapter(list[Question])


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = (resources.files("servanda.content") / "pack_schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def shipped_packs() -> list[Path]:
    """The packs the product ships: inside the installed package, or in the source checkout."""
    for candidate in (
        Path(str(resources.files("servanda"))) / "content-packs",
        Path(__file__).resolve().parents[3] / "content-packs",
    ):
        if candidate.is_dir():
            return sorted(candidate.glob("*.json"))
    return []


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@dataclass
class ImportReport:
    created: list[dict[str, Any]] = field(default_factory=list)
    new_version: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "newVersion": self.new_version,
            "unchanged": self.unchanged,
            "published": self.published,
        }


def validate(pack: Any) -> list[dict[str, str]]:
    """All errors of a pack, with JSON paths; empty when the pack can be imported."""
    errors = [
        {"field": _path(error.absolute_path), "message": schema_message(error)}
        for error in sorted(
            jsonschema.Draft202012Validator(schema()).iter_errors(pack),
            key=lambda e: list(map(str, e.absolute_path)),
        )
    ]
    if errors:
        return errors
    clause_keys = [c["key"] for c in pack.get("clauses", [])]
    for kind, entries in (("clauses", pack.get("clauses", [])), ("templates", pack.get("templates", []))):
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if entry["key"] in seen:
                errors.append(
                    {"field": f"$.{kind}[{i}].key", "message": f"Schlüssel '{entry['key']}' ist doppelt."}
                )
            seen.add(entry["key"])
    known = set(clause_keys)
    for i, clause in enumerate(pack.get("clauses", [])):
        for j, rule in enumerate(clause.get("rules", [])):
            for k, target in enumerate(rule.get("targets", [])):
                if isinstance(target, str) and target not in known:
                    errors.append(
                        {
                            "field": f"$.clauses[{i}].rules[{j}].targets[{k}]",
                            "message": f"Unbekannte Klausel '{target}'.",
                        }
                    )
    for i, template in enumerate(pack.get("templates", [])):
        for s, section in enumerate(template.get("structure", [])):
            for t, slot in enumerate(section.get("slots", [])):
                for name, ref in (
                    [("clause", slot.get("clause"))]
                    + [(f"alternatives[{a}]", alt) for a, alt in enumerate(slot.get("alternatives", []))]
                    + [
                        (f"selectWhen[{w}].clause", entry.get("clause"))
                        for w, entry in enumerate(slot.get("selectWhen", []))
                    ]
                ):
                    if isinstance(ref, str) and ref not in known:
                        errors.append(
                            {
                                "field": f"$.templates[{i}].structure[{s}].slots[{t}].{name}",
                                "message": f"Unbekannte Klausel '{ref}'.",
                            }
                        )
    return errors


_JSON_TYPES = {
    "string": "ein Text",
    "integer": "eine ganze Zahl",
    "number": "eine Zahl",
    "boolean": "true oder false",
    "array": "eine Liste",
    "object": "ein Objekt",
    "null": "null",
}


def _listed(values: Any) -> str:
    return ", ".join(json.dumps(v, ensure_ascii=False) for v in values)


def schema_message(error: jsonschema.ValidationError) -> str:
    """A JSON Schema violation in German, by its keyword (jsonschema's own texts are English)."""
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "required":
        missing = [p for p in expected if isinstance(instance, dict) and p not in instance]
        return f"Pflichtfeld fehlt: {_listed(missing or expected)}."
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return "Muss " + " oder ".join(_JSON_TYPES.get(str(k), str(k)) for k in kinds) + " sein."
    if keyword == "enum":
        return f"Erlaubte Werte: {_listed(expected)}."
    if keyword == "const":
        return f"Muss {json.dumps(expected, ensure_ascii=False)} sein."
    if keyword == "pattern":
        return "Hat nicht das erwartete Format."
    if keyword == "format":
        return f"Hat nicht das Format {expected}."
    if keyword == "minLength":
        return "Darf nicht leer sein." if expected == 1 else f"Muss mindestens {expected} Zeichen lang sein."
    if keyword == "maxLength":
        return f"Darf höchstens {expected} Zeichen lang sein."
    if keyword == "minItems":
        return "Darf nicht leer sein." if expected == 1 else f"Muss mindestens {expected} Einträge haben."
    if keyword == "maxItems":
        return f"Darf höchstens {expected} Einträge haben."
    if keyword == "uniqueItems":
        return "Die Einträge müssen eindeutig sein."
    if keyword == "minimum":
        return f"Muss mindestens {expected} sein."
    if keyword == "maximum":
        return f"Darf höchstens {expected} sein."
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        extras = [k for k in instance if k not in known] if isinstance(instance, dict) else []
        return f"Nicht vorgesehene Felder: {_listed(extras)}." if extras else "Nicht vorgesehene Felder."
    if keyword == "propertyNames":
        return "Ungültiger Schlüssel."
    if keyword in ("anyOf", "oneOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        if best is not None:
            return schema_message(best)
    if keyword in ("anyOf", "oneOf"):
        return "Entspricht keiner der erlaubten Formen."
    if keyword == "not":
        return "Dieser Wert ist hier nicht erlaubt."
    return "Der Wert ist ungültig."


def _ref(ref: Any, ids: dict[str, uuid.UUID]) -> str:
    return str(ids[ref]) if isinstance(ref, str) else str(ref["clauseId"])


def _clause_fields(clause: dict[str, Any], ids: dict[str, uuid.UUID]) -> dict[str, Any]:
    rules = []
    for rule in clause.get("rules", []):
        converted = {k: v for k, v in rule.items() if k != "targets"}
        if "targets" in rule:
            converted["targetClauseIds"] = [_ref(t, ids) for t in rule["targets"]]
        rules.append(converted)
    return {
        "content": clause.get("content", ""),
        "heading": clause.get("heading"),
        "parameters": PARAMETERS.validate_python(clause.get("parameters", {})),
        "rules": RULES.validate_python(rules),
        "change_note": clause.get("changeNote"),
    }


def _template_fields(template: dict[str, Any], ids: dict[str, uuid.UUID]) -> dict[str, Any]:
    sections = []
    for s, section in enumerate(template.get("structure", [])):
        slots = []
        for t, slot in enumerate(section.get("slots", [])):
            converted: dict[str, Any] = {
                "id": slot["id"],
                "type": slot["type"],
                "clauseId": _ref(slot["clause"], ids),
                "order": t,
            }
            if slot.get("alternatives"):
                converted["alternativeClauseIds"] = [_ref(a, ids) for a in slot["alternatives"]]
            for key in ("defaultSelected", "includeWhen"):
                if key in slot:
                    converted[key] = slot[key]
            if slot.get("selectWhen"):
                converted["selectWhen"] = [
                    {"clauseId": _ref(w["clause"], ids), "condition": w["condition"]}
                    for w in slot["selectWhen"]
                ]
            slots.append(converted)
        extra = {key: section[key] for key in ("placement", "showHeading") if key in section}
        sections.append({"id": section["id"], "title": section["title"], "order": s, "slots": slots, **extra})
    return {
        "structure": Structure.model_validate({"sections": sections, "document": template.get("document")}),
        "interview": QUESTIONS.validate_python(template.get("interview", [])),
        "change_note": template.get("changeNote"),
    }


def _entity_fields(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": entry["title"],
        "tags": entry.get("tags", []),
        "jurisdiction": entry.get("jurisdiction"),
        "legal_area": entry.get("legalArea"),
        "description": entry.get("description", ""),
        "category": entry.get("category"),
    }


def _same(version: Any, fields: dict[str, Any], kind_fields: tuple[str, ...]) -> bool:
    stored = {f: getattr(version, f) for f in kind_fields if f in fields}
    return json.dumps(stored, sort_keys=True, default=str) == json.dumps(
        {k: v for k, v in _jsonable(fields).items() if k in stored}, sort_keys=True, default=str
    )


async def import_pack(
    service: ContentService, principal: Principal, pack: Any, *, publish: bool = False
) -> ImportReport:
    """Import ``pack`` in the service's transaction (the caller's unit of work): all or nothing."""
    problems = validate(pack)
    if problems:
        raise errors.Invalid(
            "content.invalid_pack",
            "Das Inhaltspaket ist ungültig; es wurde nichts importiert.",
            errors=problems,
        )
    report = ImportReport()
    session = service.session
    try:
        ids = await _ensure_clauses(service, session, principal, pack, report)
        touched: list[tuple[str, Any, Any]] = []
        for clause in pack.get("clauses", []):
            touched.append(
                await _sync(
                    service,
                    session,
                    principal,
                    "clauses",
                    clause,
                    _clause_fields(clause, ids),
                    ids[clause["key"]],
                    report,
                )
            )
        for template in pack.get("templates", []):
            existing = await session.scalar(
                select(Template).where(
                    Template.external_key == template["key"], Template.tenant_id == principal.tenant_id
                )
            )
            fields = _template_fields(template, ids)
            if existing is None:
                entity, version = await service.create(
                    principal, TEMPLATES, _entity_fields(template), fields, template["key"]
                )
                report.created.append({"kind": "template", "key": template["key"], "id": str(entity.id)})
                touched.append(("templates", entity, version))
            else:
                touched.append(
                    await _sync(
                        service,
                        session,
                        principal,
                        "templates",
                        template,
                        fields,
                        existing.id,
                        report,
                        entity=existing,
                    )
                )
        if publish:
            for path, entity, version in touched:  # clauses first: template gates need them published
                if version.status in ("draft", "approved"):
                    await service.publish(principal, KINDS[path], entity.id, version.id, skip_review=True)
                    report.published.append(
                        {
                            "kind": KINDS[path].name,
                            "key": entity.external_key,
                            "versionNumber": version.version_number,
                        }
                    )
        await audit.record(
            session,
            principal,
            "content.import",
            "content_pack",
            str(pack.get("name", ""))[:100],
            {
                "format": pack.get("format"),
                "name": pack.get("name"),
                "publish": publish,
                "created": len(report.created),
                "newVersion": len(report.new_version),
                "unchanged": len(report.unchanged),
                "published": len(report.published),
            },
        )
    except ValidationError as error:  # a shape the schema let through but the engine refuses
        raise errors.Invalid(
            "content.invalid_pack",
            "Das Inhaltspaket ist ungültig; es wurde nichts importiert.",
            errors=[
                {"field": ".".join(map(str, e["loc"])), "message": validation_messages.message(e)}
                for e in error.errors()
            ],
        ) from None
    return report


async def _ensure_clauses(
    service: ContentService, session: AsyncSession, principal: Principal, pack: Any, report: ImportReport
) -> dict[str, uuid.UUID]:
    """Pack key → clause id; new clauses are created first (without rules) so rules can point at them."""
    keys = [c["key"] for c in pack.get("clauses", [])]
    existing: dict[str, uuid.UUID] = {
        c.external_key: c.id
        for c in (
            await session.scalars(
                select(Clause).where(Clause.tenant_id == principal.tenant_id, Clause.external_key.in_(keys))
            )
        ).all()
        if c.external_key
    }
    for clause in pack.get("clauses", []):
        if clause["key"] in existing:
            continue
        fields = {
            "content": clause.get("content", ""),
            "heading": clause.get("heading"),
            "parameters": PARAMETERS.validate_python(clause.get("parameters", {})),
            "change_note": clause.get("changeNote"),
        }
        entity, _ = await service.create(principal, CLAUSES, _entity_fields(clause), fields, clause["key"])
        existing[clause["key"]] = entity.id
        report.created.append({"kind": "clause", "key": clause["key"], "id": str(entity.id)})
    return existing


async def _sync(
    service: ContentService,
    session: AsyncSession,
    principal: Principal,
    path: str,
    entry: dict[str, Any],
    fields: dict[str, Any],
    entity_id: uuid.UUID,
    report: ImportReport,
    entity: Any = None,
) -> tuple[str, Any, Any]:
    kind = KINDS[path]
    entity = entity or await session.get(kind.entity, entity_id)
    latest = await service.latest_version(kind, entity_id)
    assert latest is not None, "every entity has a version"
    created_now = any(r["key"] == entry["key"] and r["kind"] == kind.name for r in report.created)
    if created_now:  # version 1 was made without rules (forward references); complete it
        for key, value in _jsonable(fields).items():
            setattr(latest, key, value)
        return path, entity, latest
    if _same(latest, fields, kind.version_fields):
        report.unchanged.append({"kind": kind.name, "key": entry["key"], "id": str(entity_id)})
        return path, entity, latest
    version = await service.create_version(principal, kind, entity_id, latest.id, fields)
    report.new_version.append(
        {
            "kind": kind.name,
            "key": entry["key"],
            "id": str(entity_id),
            "versionNumber": version.version_number,
        }
    )
    return path, entity, version
