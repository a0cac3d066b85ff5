"""The document model (engine.md "Rendering") that feeds the HTML preview and the exports.

Title, metadata, then per section a heading and per selected clause "§ n Title" (numbered
continuously across the document) with its paragraphs. Clause text is split into paragraphs
on blank lines; a single line break inside a paragraph stays as ``\\n`` in the run text.

Markup comes only from the authored clause text, and only ``**bold**``: the text is
tokenised *before* parameters are substituted, so an answer containing ``**``, ``{{x}}`` or
``<script>`` is inserted as plain text and never interpreted. An unpaired ``**`` is literal.

Parameter value = the effective answer of the first question whose ``parameterKeys``
contains the key, else the clause parameter's ``default``; formatted in German. No value →
placeholder ``[[key]]`` and an entry in ``missing_parameters``; a placeholder that the clause
does not declare as a parameter counts as required (it cannot be left in a final document).
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from servanda.engine.assembly import Assembly, ordered_sections
from servanda.engine.formatting import format_date, format_value
from servanda.engine.interview import InterviewState
from servanda.engine.shapes import Parameter, Question, Structure

# The same placeholder syntax the publishing gates check (content/gates.py).
_TOKEN = re.compile(r"\*\*|{{\s*([a-zA-Z0-9_]+)\s*}}")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
BOLD = "**"


@dataclass(frozen=True)
class ClauseText:
    """What the document needs of a pinned clause version."""

    clause_id: uuid.UUID
    title: str
    content: str
    parameters: Mapping[str, Parameter] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentMeta:
    title: str = ""
    client_reference: str | None = None
    date: datetime.date | None = None  # passed in (the contract's date): the engine reads no clock
    template_title: str = ""
    template_version: int | None = None


@dataclass(frozen=True)
class Run:
    text: str
    bold: bool = False
    placeholder: str | None = None  # the parameter key when this run is a missing value

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "bold": self.bold, "placeholder": self.placeholder}


@dataclass(frozen=True)
class Paragraph:
    runs: tuple[Run, ...]

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


@dataclass(frozen=True)
class ClauseBlock:
    clause_id: uuid.UUID
    number: int
    title: str
    paragraphs: tuple[Paragraph, ...]

    @property
    def heading(self) -> str:
        return f"§ {self.number} {self.title}"


@dataclass(frozen=True)
class DocumentSection:
    id: str
    title: str
    clauses: tuple[ClauseBlock, ...]


class MissingParameter(NamedTuple):
    clause_id: uuid.UUID
    key: str
    required: bool


@dataclass(frozen=True)
class OutlineEntry:
    section_id: str
    title: str
    headings: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    title: str
    meta: DocumentMeta
    sections: tuple[DocumentSection, ...]
    missing_parameters: tuple[MissingParameter, ...]

    def clauses(self) -> Iterator[ClauseBlock]:
        for section in self.sections:
            yield from section.clauses

    def outline(self) -> list[OutlineEntry]:
        return [OutlineEntry(s.id, s.title, tuple(c.heading for c in s.clauses)) for s in self.sections]

    @property
    def missing_required(self) -> list[MissingParameter]:
        return [m for m in self.missing_parameters if m.required]

    def metadata_lines(self) -> list[tuple[str, str]]:
        """(German label, value) of the metadata that is present."""
        lines = []
        if self.meta.client_reference:
            lines.append(("Mandantenreferenz", self.meta.client_reference))
        if self.meta.date is not None:
            lines.append(("Datum", format_date(self.meta.date)))
        if self.meta.template_title:
            version = (
                f" (Version {self.meta.template_version})" if self.meta.template_version is not None else ""
            )
            lines.append(("Vorlage", f"{self.meta.template_title}{version}"))
        return lines

    def plain_text(self) -> str:
        blocks = [self.title]
        meta = "\n".join(f"{label}: {value}" for label, value in self.metadata_lines())
        if meta:
            blocks.append(meta)
        for section in self.sections:
            blocks.append(section.title)
            for clause in section.clauses:
                blocks.append(clause.heading)
                blocks.extend(p.text for p in clause.paragraphs)
        return "\n\n".join(blocks) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "metadata": [{"label": label, "value": value} for label, value in self.metadata_lines()],
            "sections": [
                {
                    "id": s.id,
                    "title": s.title,
                    "clauses": [
                        {
                            "clauseId": str(c.clause_id),
                            "number": c.number,
                            "heading": c.heading,
                            "paragraphs": [[r.as_json() for r in p.runs] for p in c.paragraphs],
                        }
                        for c in s.clauses
                    ],
                }
                for s in self.sections
            ],
            "missingParameters": [
                {"clauseId": str(m.clause_id), "key": m.key, "required": m.required}
                for m in self.missing_parameters
            ],
        }


# --- parameter values ------------------------------------------------------------------------


def _questions_by_parameter(state: InterviewState) -> dict[str, Question]:
    by_key: dict[str, Question] = {}
    for question_state in state.questions:
        for key in question_state.question.parameter_keys:
            by_key.setdefault(key, question_state.question)
    return by_key


def _value(parameter: Parameter | None, question: Question | None, state: InterviewState) -> str | None:
    if question is not None:
        answer = state.effective(question.key)
        if answer is not None:
            return format_value(question.type, answer, question.options) or None
    if parameter is not None and parameter.default is not None:
        return format_value(parameter.type, parameter.default, parameter.options) or None
    return None


# --- clause text ------------------------------------------------------------------------------


def paragraphs_of(content: str) -> list[str]:
    text = content.replace("\r\n", "\n").replace("\r", "\n").strip()
    return [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def _merge(runs: list[Run]) -> tuple[Run, ...]:
    merged: list[Run] = []
    for run in runs:
        if not run.text:
            continue
        previous = merged[-1] if merged else None
        if (
            previous
            and previous.placeholder is None
            and run.placeholder is None
            and previous.bold == run.bold
        ):
            merged[-1] = Run(previous.text + run.text, run.bold)
        else:
            merged.append(run)
    return tuple(merged)


def _paragraph(text: str, substitute: Any) -> Paragraph:
    """Runs of one paragraph; ``substitute(key, bold)`` gives the run for a placeholder."""
    markers = [m for m in _TOKEN.finditer(text) if m.group(0) == BOLD]
    # An odd number of ** leaves the last one unpaired: it is text, not a switch.
    literal = markers[-1].start() if len(markers) % 2 else None
    runs: list[Run] = []
    bold = False
    cursor = 0
    for match in _TOKEN.finditer(text):
        runs.append(Run(text[cursor : match.start()], bold))
        cursor = match.end()
        if match.group(1) is not None:
            runs.append(substitute(match.group(1), bold))
        elif match.start() == literal:
            runs.append(Run(BOLD, bold))
        else:
            bold = not bold
    runs.append(Run(text[cursor:], bold))
    return Paragraph(_merge(runs))


def _clause_block(
    clause: ClauseText,
    number: int,
    questions: Mapping[str, Question],
    state: InterviewState,
    missing: dict[tuple[uuid.UUID, str], MissingParameter],
) -> ClauseBlock:
    def substitute(key: str, bold: bool) -> Run:
        parameter = clause.parameters.get(key)
        value = _value(parameter, questions.get(key), state)
        if value is not None:
            return Run(value, bold)
        required = parameter.required if parameter is not None else True
        missing.setdefault((clause.clause_id, key), MissingParameter(clause.clause_id, key, required))
        return Run(f"[[{key}]]", bold, placeholder=key)

    paragraphs = tuple(_paragraph(text, substitute) for text in paragraphs_of(clause.content))
    return ClauseBlock(clause.clause_id, number, clause.title, paragraphs)


def build(
    *,
    structure: Structure,
    assembly: Assembly,
    clauses: Mapping[uuid.UUID, ClauseText],
    state: InterviewState,
    meta: DocumentMeta,
) -> Document:
    """The document of the selected clauses. Sections without a selected clause are left out;
    a selected clause without a pinned text is skipped (pins cover every clause a slot offers)."""
    questions = _questions_by_parameter(state)
    missing: dict[tuple[uuid.UUID, str], MissingParameter] = {}
    sections: list[DocumentSection] = []
    placed: set[uuid.UUID] = set()
    number = 0
    for section in ordered_sections(structure):
        blocks: list[ClauseBlock] = []
        for choice in assembly.slots:
            clause_id = choice.clause_id
            if choice.section_id != section.id or clause_id is None or clause_id in placed:
                continue
            clause = clauses.get(clause_id)
            if clause is None:
                continue
            placed.add(clause_id)
            number += 1
            blocks.append(_clause_block(clause, number, questions, state, missing))
        if blocks:
            sections.append(DocumentSection(section.id, section.title, tuple(blocks)))
    title = meta.title or meta.template_title
    return Document(title, meta, tuple(sections), tuple(missing.values()))
