"""HTML of the document model for the live preview.

Every piece of text is escaped (answers may contain ``<script>``); the only markup is the
fixed structure below plus ``<strong>`` for bold runs of authored clause text. Attribute
values come from the engine (UUIDs, authored element ids), never from answers.
"""

from __future__ import annotations

from html import escape

from servanda.engine.document import ClauseBlock, Document, Paragraph, Run


def _text(text: str) -> str:
    # A line break inside a paragraph is kept as <br>; everything else is escaped text.
    return "<br>".join(escape(line, quote=True) for line in text.split("\n"))


def _run(run: Run) -> str:
    if run.placeholder is not None:
        html = f'<span class="placeholder">{_text(run.text)}</span>'
    else:
        html = _text(run.text)
    return f"<strong>{html}</strong>" if run.bold else html


def _paragraph(paragraph: Paragraph) -> str:
    return "<p>" + "".join(_run(run) for run in paragraph.runs) + "</p>"


def _clause(clause: ClauseBlock) -> str:
    parts = [f'<div class="clause" data-clause-id="{escape(str(clause.clause_id), quote=True)}">']
    parts.append(f"<h3>{_text(clause.heading)}</h3>")
    parts.extend(_paragraph(p) for p in clause.paragraphs)
    parts.append("</div>")
    return "\n".join(parts)


def render(document: Document) -> str:
    parts = ['<article class="contract">', "<header>", f"<h1>{_text(document.title)}</h1>"]
    metadata = document.metadata_lines()
    if metadata:
        parts.append('<dl class="metadata">')
        for label, value in metadata:
            parts.append(f"<dt>{_text(label)}</dt><dd>{_text(value)}</dd>")
        parts.append("</dl>")
    parts.append("</header>")
    for section in document.sections:
        parts.append(f'<section class="contract-section" data-section-id="{escape(section.id, quote=True)}">')
        parts.append(f"<h2>{_text(section.title)}</h2>")
        parts.extend(_clause(clause) for clause in section.clauses)
        parts.append("</section>")
    parts.append("</article>")
    return "\n".join(parts) + "\n"
