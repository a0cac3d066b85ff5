"""The document model: numbering, parameters, placeholders, bold, outline, plain text."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from servanda.engine.assembly import assemble
from servanda.engine.document import ClauseText, Document, DocumentMeta, MissingParameter, Pin, Run, build
from servanda.engine.interview import evaluate
from servanda.engine.shapes import Parameter, Question

from .helpers import cid, options, question, slot, structure

STRUCT = structure(
    ("eins", [slot("parteien", "required"), slot("leer")]),
    ("zwei", [slot("gehalt", "required"), slot("optional")]),
    ("drei", [slot("ungewaehlt")]),
)
QUESTIONS = [
    question("name", parameterKeys=["arbeitgeber"]),
    question("betrag", "currency", parameterKeys=["gehalt"]),
    question("branche", "multiple_choice", options=options("it", "handel"), parameterKeys=["branchen"]),
    question("zeigen", "yes_no"),
    question(
        "versteckt",
        conditions=[{"question": "zeigen", "operator": "equals", "value": True}],
        parameterKeys=["notiz"],
    ),
]


def param(type: str = "text", **fields: Any) -> Parameter:
    return Parameter.model_validate({"type": type, "label": "L", **fields})


CLAUSES = {
    cid("parteien"): ClauseText(
        cid("parteien"),
        "Vertragsparteien",
        "Zwischen\n\n**{{arbeitgeber}}** – Arbeitgeber –\n\nund\n  \n{{arbeitnehmer}}",
        {"arbeitgeber": param(required=True), "arbeitnehmer": param(required=False)},
    ),
    cid("gehalt"): ClauseText(
        cid("gehalt"),
        "Vergütung",
        "Gehalt: {{ gehalt }}.\nZeile zwei.\n\nBranchen: {{branchen}}. Frist: {{frist}}. Notiz: {{notiz}}. {{undeklariert}}",
        {
            "gehalt": param("currency", required=True),
            "branchen": param("multiple_choice"),
            "frist": param("number", default=4),
            "notiz": param(default="keine"),
        },
    ),
    cid("optional"): ClauseText(cid("optional"), "Optional", "Nur wenn gewählt."),
}
META = DocumentMeta("Arbeitsvertrag Müller", "M-2026-1", datetime.date(2026, 4, 1), "Arbeitsvertrag", 3)


def document(
    answers: dict[str, Any],
    selected_slots: dict[str, Any] | None = None,
    questions: list[Question] | None = None,
) -> Document:
    state = evaluate(questions or QUESTIONS, answers)
    assembly = assemble(STRUCT, selected_slots or {}, state)
    return build(structure=STRUCT, assembly=assembly, clauses=CLAUSES, state=state, meta=META)


def clause(doc: Document, clause_id: uuid.UUID) -> Any:
    return next(c for c in doc.clauses() if c.clause_id == clause_id)


def test_numbering_is_continuous_across_sections_and_empty_sections_are_left_out() -> None:
    doc = document({}, {"optional": str(cid("optional"))})
    assert [c.heading for c in doc.clauses()] == ["§ 1 Vertragsparteien", "§ 2 Vergütung", "§ 3 Optional"]
    assert [s.id for s in doc.sections] == ["eins", "zwei"]
    outline = doc.outline()
    assert [(o.title, o.headings) for o in outline] == [
        ("Abschnitt eins", ("§ 1 Vertragsparteien",)),
        ("Abschnitt zwei", ("§ 2 Vergütung", "§ 3 Optional")),
    ]


def test_paragraphs_split_on_blank_lines_and_keep_line_breaks() -> None:
    doc = document({"name": "A GmbH"})
    paragraphs = clause(doc, cid("parteien")).paragraphs
    assert [p.text for p in paragraphs] == ["Zwischen", "A GmbH – Arbeitgeber –", "und", "[[arbeitnehmer]]"]
    assert [p.display_text for p in paragraphs][:2] == ["(1) Zwischen", "(2) A GmbH – Arbeitgeber –"]
    assert clause(doc, cid("gehalt")).paragraphs[0].text.endswith(".\nZeile zwei.")


def test_parameters_come_from_answers_then_defaults_then_placeholders() -> None:
    doc = document({"name": "A GmbH", "betrag": "4500.00", "branche": ["it", "handel"]})
    text = clause(doc, cid("gehalt")).paragraphs[1].text
    assert clause(doc, cid("gehalt")).paragraphs[0].text.startswith("Gehalt: 4.500,00 EUR.")
    assert text == "Branchen: Label it und Label handel. Frist: 4. Notiz: keine. [[undeklariert]]"


def test_hidden_question_falls_back_to_the_default() -> None:
    doc = document({"zeigen": False, "versteckt": "geheim"})
    assert "Notiz: keine." in clause(doc, cid("gehalt")).paragraphs[1].text
    doc = document({"zeigen": True, "versteckt": "sichtbar"})
    assert "Notiz: sichtbar." in clause(doc, cid("gehalt")).paragraphs[1].text


def test_missing_parameters_are_recorded_with_required_flag() -> None:
    doc = document({})
    assert doc.missing_parameters == (
        MissingParameter(cid("parteien"), "arbeitgeber", True),
        MissingParameter(cid("parteien"), "arbeitnehmer", False),
        MissingParameter(cid("gehalt"), "gehalt", True),
        MissingParameter(cid("gehalt"), "branchen", False),
        MissingParameter(cid("gehalt"), "undeklariert", True),
    )
    assert [m.key for m in doc.missing_required] == ["arbeitgeber", "gehalt", "undeklariert"]
    assert doc.missing_parameters[0] == (cid("parteien"), "arbeitgeber", True)


def test_placeholder_runs_are_marked() -> None:
    runs = clause(document({}), cid("parteien")).paragraphs[1].runs
    assert runs[0] == Run("[[arbeitgeber]]", bold=True, placeholder="arbeitgeber")
    assert runs[1] == Run(" – Arbeitgeber –")


def test_bold_comes_from_clause_text_only() -> None:
    doc = document({"name": "**X** {{arbeitnehmer}} <b>"})
    runs = clause(doc, cid("parteien")).paragraphs[1].runs
    assert runs == (Run("**X** {{arbeitnehmer}} <b>", bold=True), Run(" – Arbeitgeber –"))


def test_unpaired_bold_marker_is_literal() -> None:
    text = ClauseText(cid("parteien"), "T", "a **b** c ** d")
    state = evaluate([], {})
    assembly = assemble(STRUCT, {}, state)
    doc = build(structure=STRUCT, assembly=assembly, clauses={cid("parteien"): text}, state=state, meta=META)
    assert clause(doc, cid("parteien")).paragraphs[0].runs == (Run("a "), Run("b", True), Run(" c ** d"))


def test_metadata_stays_out_of_the_body() -> None:
    doc = document({"name": "A GmbH"})
    # The title is the template's, not the contract's working title.
    assert doc.title == "Arbeitsvertrag"
    assert doc.properties.title == "Arbeitsvertrag Müller"
    assert (doc.properties.template_title, doc.properties.template_version) == ("Arbeitsvertrag", 3)
    assert doc.header == ("ENTWURF", "Unser Zeichen: M-2026-1")
    assert doc.footer == ("Entwurf vom 01.04.2026 · Vorlage „Arbeitsvertrag“, Fassung 3",)
    text = doc.plain_text()
    assert text.startswith(
        "Arbeitsvertrag\n\n§ 1 Vertragsparteien\n\n(1) Zwischen\n\n(2) A GmbH – Arbeitgeber –\n\n"
    )
    for metadata in ("Vorlage", "Version", "M-2026-1", "Müller", "ENTWURF", "01.04.2026"):
        assert metadata not in text
    assert "**" not in text


def test_completed_contracts_have_no_draft_marks_and_pins_go_to_the_properties() -> None:
    pins = (
        Pin(cid("gehalt"), "Vergütung", 2, uuid.UUID(int=2)),
        Pin(cid("parteien"), "Parteien", 1, uuid.UUID(int=1)),
    )
    meta = DocumentMeta(
        "Titel", "M-1", datetime.date(2026, 4, 1), "Arbeitsvertrag", 3, draft=False, pins=pins
    )
    state = evaluate(QUESTIONS, {})
    doc = build(
        structure=STRUCT, assembly=assemble(STRUCT, {}, state), clauses=CLAUSES, state=state, meta=meta
    )
    assert doc.header == ("Unser Zeichen: M-1",)
    assert doc.footer == ()
    properties = doc.as_json()["properties"]
    assert [p["versionNumber"] for p in properties["pins"]] == [2, 1]
    assert properties["draft"] is False and len(properties["pinStand"]) == 8
    draft = build(
        structure=STRUCT,
        assembly=assemble(STRUCT, {}, state),
        clauses=CLAUSES,
        state=state,
        meta=DocumentMeta(date=datetime.date(2026, 4, 1), template_title="AV", template_version=1, pins=pins),
    )
    assert draft.footer == (
        f"Entwurf vom 01.04.2026 · Vorlage „AV“, Fassung 1 · Klauselstand {draft.properties.pin_stand}",
    )


def test_title_falls_back_to_template_and_metadata_is_optional() -> None:
    state = evaluate([], {})
    doc = build(
        structure=STRUCT,
        assembly=assemble(STRUCT, {}, state),
        clauses={},
        state=state,
        meta=DocumentMeta(template_title="Vorlage", draft=False),
    )
    assert doc.title == "Vorlage" and doc.sections == ()
    assert doc.header == () and doc.footer == ()
    assert doc.parties is None and doc.signature is None


def test_as_json() -> None:
    data = document({"name": "A"}).as_json()
    assert data["sections"][0]["clauses"][0]["heading"] == "§ 1 Vertragsparteien"
    assert data["sections"][0]["clauses"][0]["paragraphs"][1] == {
        "number": 2,
        "runs": [
            {"text": "A", "bold": True, "placeholder": None},
            {"text": " – Arbeitgeber –", "bold": False, "placeholder": None},
        ],
    }
    assert {"clauseId": str(cid("gehalt")), "key": "gehalt", "required": True} in data["missingParameters"]
    assert data["header"] == ["ENTWURF", "Unser Zeichen: M-2026-1"]
    assert data["properties"]["title"] == "Arbeitsvertrag Müller"
