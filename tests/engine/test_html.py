"""HTML preview: everything escaped, bold only from clause text, placeholders marked."""

from __future__ import annotations

import datetime
import re

from servanda.engine.assembly import assemble
from servanda.engine.document import ClauseText, DocumentMeta, build
from servanda.engine.html import render
from servanda.engine.interview import evaluate
from servanda.engine.shapes import Parameter

from .helpers import cid, question, slot, structure

HOSTILE = '<script>alert("x")</script> **fett** {{andere}} <img src=x onerror=alert(1)> &amp; "\' [[x]]'


def rendered(answers: dict[str, str], meta: DocumentMeta | None = None) -> str:
    struct = structure(("s", [slot("k", "required")]))
    questions = [question("name", parameterKeys=["name"]), question("andere", parameterKeys=["andere"])]
    clauses = {
        cid("k"): ClauseText(
            cid("k"),
            "Klausel <i>",
            "**{{name}}** und {{andere}}\nzweite Zeile",
            {"name": Parameter(type="text", label="N")},
        )
    }
    state = evaluate(questions, answers)
    document = build(
        structure=struct,
        assembly=assemble(struct, {}, state),
        clauses=clauses,
        state=state,
        meta=meta or DocumentMeta(),
    )
    return render(document)


def test_hostile_answer_is_escaped_text() -> None:
    html = rendered({"name": HOSTILE})
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&amp;amp;" in html
    # ** and {{...}} in an answer are not interpreted: one bold run holds the whole answer.
    assert "**fett** {{andere}}" in html
    assert html.count("<strong>") == 1


def test_bold_from_clause_text_and_placeholders_marked() -> None:
    html = rendered({})
    assert '<strong><span class="placeholder">[[name]]</span></strong>' in html
    assert '<span class="placeholder">[[andere]]</span><br>zweite Zeile</p>' in html


def test_header_footer_and_titles_are_escaped() -> None:
    meta = DocumentMeta("<b>Titel</b>", '"><script>', datetime.date(2026, 4, 1), "Vorlage & Co", 2)
    html = rendered({"name": "x"}, meta)
    assert "<h1>Vorlage &amp; Co</h1>" in html  # the template's title; the working title is a property
    assert "Unser Zeichen: &quot;&gt;&lt;script&gt;</div>" in html
    assert "Vorlage „Vorlage &amp; Co“, Fassung 2</div>" in html
    assert "<h3>§ 1 Klausel &lt;i&gt;</h3>" in html
    assert "<b>" not in html and "<script>" not in html


def test_no_attribute_carries_user_data() -> None:
    html = rendered({"name": 'x" onclick="evil()', "andere": "y"})
    attributes = re.findall(r'(\w[\w-]*)="([^"]*)"', html)
    assert all(
        value
        in (
            "contract",
            "document-header",
            "document-footer",
            "contract-section",
            "clause",
            "placeholder",
            "s",
            str(cid("k")),
        )
        for _, value in attributes
    ), attributes
    assert "onclick" not in [name for name, _ in attributes]
