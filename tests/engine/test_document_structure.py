"""A document that reads as a German contract (issue 11): title, parties block, preamble,
display headings, numbered paragraphs, closing, signature block, option texts."""

from __future__ import annotations

import datetime
from typing import Any

from servanda.engine.assembly import assemble
from servanda.engine.document import BLANK, ClauseText, Document, DocumentMeta, MissingParameter, build
from servanda.engine.html import render
from servanda.engine.interview import evaluate
from servanda.engine.shapes import Parameter, Question, Structure

from .helpers import cid, question, slot

OPTIONS = [
    {"value": "de", "label": "Bundesrepublik Deutschland", "insertText": "der Bundesrepublik Deutschland"},
    {"value": "eu", "label": "Europäische Union", "insertText": "der Europäischen Union"},
    {"value": "at", "label": "Österreich"},
]
QUESTIONS = [
    question("ag_name", required=True),
    question("ag_anschrift", required=True),
    question("ag_vertreter"),
    question("an_name", required=True),
    question("an_anschrift", required=True),
    question("gebiet", "single_choice", options=OPTIONS, parameterKeys=["gebiet"]),
    question("gebiete", "multiple_choice", options=OPTIONS, parameterKeys=["gebiete"]),
    question("ort"),
]


def template(**document: Any) -> Structure:
    settings = {
        "title": "Arbeitsvertrag",
        "parties": [
            {
                "role": "Arbeitgeber",
                "nameQuestion": "ag_name",
                "addressQuestion": "ag_anschrift",
                "representativeQuestion": "ag_vertreter",
            },
            {"role": "Arbeitnehmer", "nameQuestion": "an_name", "addressQuestion": "an_anschrift"},
        ],
        "partiesOutro": "wird folgender Arbeitsvertrag geschlossen:",
        "signature": {"placeQuestion": "ort"},
        **document,
    }
    return Structure.model_validate(
        {
            "document": settings,
            "sections": [
                # authored last, placed first: the placement decides
                {
                    "id": "schluss",
                    "title": "Schluss",
                    "order": 9,
                    "placement": "closing",
                    "slots": [slot("ausfertigung", "required")],
                },
                {
                    "id": "allgemein",
                    "title": "Allgemeines",
                    "order": 1,
                    "showHeading": True,
                    "slots": [slot("taetigkeit", "required", order=0), slot("gebiet", "required", order=1)],
                },
                {
                    "id": "vorspann",
                    "title": "Vorspann",
                    "order": 0,
                    "placement": "preamble",
                    "slots": [slot("praeambel", "required")],
                },
                {
                    "id": "ende",
                    "title": "Ende",
                    "order": 2,
                    "slots": [slot("schlussbestimmungen", "required")],
                },
            ],
        }
    )


CLAUSES = {
    cid("praeambel"): ClauseText(
        cid("praeambel"), "Präambel (Standard)", "Die Parteien wollen zusammenarbeiten.", heading="Präambel"
    ),
    cid("taetigkeit"): ClauseText(
        cid("taetigkeit"),
        "Tätigkeit (Standard)",
        "Der Arbeitnehmer wird als Buchhalter eingestellt.",
        heading="Tätigkeit",
    ),
    cid("gebiet"): ClauseText(
        cid("gebiet"),
        "Gebiet (DE)",
        "Das Verbot gilt im Gebiet {{gebiet}}.\n\nEs gilt auch in {{gebiete}}.\n\nWeiteres regelt § 5.",
        {
            "gebiet": Parameter.model_validate({"type": "single_choice", "label": "G", "options": OPTIONS}),
            "gebiete": Parameter.model_validate(
                {"type": "multiple_choice", "label": "G", "options": OPTIONS}
            ),
        },
        heading="Wettbewerbsverbot",
    ),
    cid("schlussbestimmungen"): ClauseText(
        cid("schlussbestimmungen"), "Schlussbestimmungen", "Änderungen bedürfen der Schriftform."
    ),
    cid("ausfertigung"): ClauseText(
        cid("ausfertigung"), "Ausfertigung", "Jede Partei erhält eine Ausfertigung."
    ),
}
FULL = {
    "ag_name": "Muster GmbH",
    "ag_anschrift": "Hauptstraße 1, 80331 München",
    "ag_vertreter": "die Geschäftsführerin Maria Muster",
    "an_name": "Erika Mustermann",
    "an_anschrift": "Nebenweg 2, 80333 München",
    "gebiet": "de",
    "gebiete": ["de", "eu", "at"],
    "ort": "München",
}


def document(
    answers: dict[str, Any], structure: Structure | None = None, questions: list[Question] | None = None
) -> Document:
    struct = structure or template()
    state = evaluate(questions or QUESTIONS, answers)
    meta = DocumentMeta(
        "Arbeitsvertrag Erika Mustermann", "AZ 1/26", datetime.date(2026, 4, 1), "Vorlage AV", 2
    )
    return build(
        structure=struct, assembly=assemble(struct, {}, state), clauses=CLAUSES, state=state, meta=meta
    )


def test_the_whole_document_reads_as_a_contract() -> None:
    assert document(FULL).plain_text() == (
        "Arbeitsvertrag\n\n"
        "zwischen\n\n"
        "Muster GmbH, Hauptstraße 1, 80331 München, vertreten durch die Geschäftsführerin Maria Muster\n"
        "– nachfolgend „Arbeitgeber“ –\n\n"
        "und\n\n"
        "Erika Mustermann, Nebenweg 2, 80333 München\n– nachfolgend „Arbeitnehmer“ –\n\n"
        "wird folgender Arbeitsvertrag geschlossen:\n\n"
        "Präambel\n\nDie Parteien wollen zusammenarbeiten.\n\n"
        "Allgemeines\n\n"
        "§ 1 Tätigkeit\n\nDer Arbeitnehmer wird als Buchhalter eingestellt.\n\n"
        "§ 2 Wettbewerbsverbot\n\n"
        "(1) Das Verbot gilt im Gebiet der Bundesrepublik Deutschland.\n\n"
        "(2) Es gilt auch in der Bundesrepublik Deutschland, der Europäischen Union und Österreich.\n\n"
        "(3) Weiteres regelt § 5.\n\n"
        "§ 3 Schlussbestimmungen\n\nÄnderungen bedürfen der Schriftform.\n\n"
        "Jede Partei erhält eine Ausfertigung.\n\n"
        f"München, den {BLANK}\n\n______________________________\nArbeitgeber\nMuster GmbH\n\n"
        f"München, den {BLANK}\n\n______________________________\nArbeitnehmer\nErika Mustermann\n"
    )


def test_display_heading_is_separate_from_the_internal_title() -> None:
    doc = document(FULL)
    gebiet = next(c for c in doc.clauses() if c.clause_id == cid("gebiet"))
    assert gebiet.heading == "§ 2 Wettbewerbsverbot" and gebiet.title == "Gebiet (DE)"
    # without a heading of its own, a numbered clause falls back to its title
    assert [c.heading for c in doc.clauses()][-2] == "§ 3 Schlussbestimmungen"


def test_paragraphs_are_numbered_only_in_a_section_with_more_than_one() -> None:
    doc = document(FULL)
    numbers = {c.clause_id: [p.number for p in c.paragraphs] for c in doc.clauses()}
    assert numbers[cid("gebiet")] == [1, 2, 3]
    assert numbers[cid("taetigkeit")] == [None]


def test_preamble_and_closing_are_unnumbered_and_numbering_is_continuous() -> None:
    doc = document(FULL)
    assert [(s.id, s.placement) for s in doc.sections] == [
        ("vorspann", "preamble"),
        ("allgemein", "body"),
        ("ende", "body"),
        ("schluss", "closing"),
    ]
    assert [c.number for c in doc.clauses()] == [None, 1, 2, 3, None]
    # an unnumbered clause without a heading of its own shows none
    assert [c.heading for c in doc.clauses()][-1] == ""
    assert doc.outline()[0].headings == ("Präambel",)


def test_section_headings_only_where_the_template_says() -> None:
    doc = document(FULL)
    assert [s.show_heading for s in doc.sections] == [False, True, False, False]
    assert "\n\nEnde\n\n" not in doc.plain_text() and "\n\nAllgemeines\n\n" in doc.plain_text()


def test_parties_block_marks_missing_names_and_skips_an_unanswered_representative() -> None:
    doc = document({"an_name": "Erika Mustermann", "an_anschrift": "Nebenweg 2"})
    assert doc.parties is not None
    employer, employee = doc.parties.parties
    assert employer.text == "[[ag_name]], [[ag_anschrift]]"
    assert employer.runs[0].bold and employer.runs[0].placeholder == "ag_name"
    assert employee.text == "Erika Mustermann, Nebenweg 2"
    assert employee.designation == "– nachfolgend „Arbeitnehmer“ –"
    assert MissingParameter(None, "ag_name", True) in doc.missing_required
    assert MissingParameter(None, "ag_anschrift", True) in doc.missing_required


def test_signature_block_has_place_date_and_a_line_per_party() -> None:
    doc = document({k: v for k, v in FULL.items() if k != "ort"})
    assert doc.signature is not None
    assert doc.signature.place_date == f"{BLANK}, den {BLANK}"
    assert [(line.role, line.name) for line in doc.signature.lines] == [
        ("Arbeitgeber", "Muster GmbH"),
        ("Arbeitnehmer", "Erika Mustermann"),
    ]
    with_date = template(signature={"placeQuestion": "ort", "dateQuestion": "tag"})
    questions = [*QUESTIONS, question("tag", "date")]
    signed = document({**FULL, "tag": "2026-03-15"}, with_date, questions)
    assert signed.signature is not None and signed.signature.place_date == "München, den 15.03.2026"


def test_option_insert_text_fits_the_sentence_and_the_label_stays_for_the_interview() -> None:
    doc = document({**FULL, "gebiet": "at"})
    gebiet = next(c for c in doc.clauses() if c.clause_id == cid("gebiet"))
    assert gebiet.paragraphs[0].text == "Das Verbot gilt im Gebiet Österreich."  # no insertText: the label
    assert QUESTIONS[5].options[0].label == "Bundesrepublik Deutschland"  # type: ignore[index, union-attr]


def test_html_preview_shows_the_structure_and_header_and_footer_unobtrusively() -> None:
    html = render(document(FULL))
    assert html.index('<div class="document-header">ENTWURF<br>Unser Zeichen: AZ 1/26</div>') < html.index(
        "<h1>Arbeitsvertrag</h1>"
    )
    assert '<p class="party"><strong>Muster GmbH</strong>, Hauptstraße 1' in html
    assert "<br>– nachfolgend „Arbeitgeber“ –</p>" in html
    assert '<section class="contract-section preamble" data-section-id="vorspann">' in html
    assert "<h2>Allgemeines</h2>" in html and "<h2>Ende</h2>" not in html
    assert '<p><span class="paragraph-number">(1)</span> Das Verbot gilt' in html
    assert '<div class="signatures">' in html
    assert html.rstrip().endswith(
        '<div class="document-footer">Entwurf vom 01.04.2026 · Vorlage „Vorlage AV“, Fassung 2</div>\n</article>'
    )
    assert "Arbeitsvertrag Erika Mustermann" not in html  # the working title is a property only


def test_a_hidden_answer_never_reaches_the_document() -> None:
    questions = [
        question("zeigen", "yes_no"),
        question(
            "gebiet",
            "single_choice",
            options=OPTIONS,
            parameterKeys=["gebiet"],
            conditions=[{"question": "zeigen", "operator": "equals", "value": True}],
        ),
        question("gebiete", "multiple_choice", options=OPTIONS, parameterKeys=["gebiete"]),
    ]
    doc = document({"zeigen": False, "gebiet": "de", "gebiete": ["at"]}, questions=questions)
    gebiet = next(c for c in doc.clauses() if c.clause_id == cid("gebiet"))
    assert gebiet.paragraphs[0].text == "Das Verbot gilt im Gebiet [[gebiet]]."
    state = evaluate(questions, {"zeigen": False, "gebiet": "de"})
    assert [q.key for q in state.inactive_answers()] == ["gebiet"]
    assert state.question("gebiet").as_json()["inactive"] is True  # type: ignore[union-attr]
