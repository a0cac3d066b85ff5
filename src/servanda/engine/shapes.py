"""The shapes of authored content that the engine interprets (engine.md).

Rules of a clause version, the structure (sections and slots) and the
interview of a template version. Validated on every write (422 naming the
field path) and by content-pack import; pure data, no I/O.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

Severity = Literal["hard", "soft"]
QuestionType = Literal["text", "number", "currency", "date", "yes_no", "single_choice", "multiple_choice"]
Operator = Literal["equals", "not_equals", "greater_than", "less_than", "contains", "in"]
Jurisdiction = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
QUESTION_KEY = r"^[a-z][a-z0-9_]{0,99}$"
PARAMETER_KEY = r"^[a-z][a-z0-9_]{0,99}$"
ELEMENT_ID = r"^[a-z0-9][a-z0-9_-]{0,99}$"

# Which operators make sense for which question type (publishing gate "type-compatible").
OPERATORS_BY_TYPE: dict[str, frozenset[str]] = {
    "text": frozenset({"equals", "not_equals", "contains", "in"}),
    "number": frozenset({"equals", "not_equals", "greater_than", "less_than", "in"}),
    "currency": frozenset({"equals", "not_equals", "greater_than", "less_than", "in"}),
    "date": frozenset({"equals", "not_equals", "greater_than", "less_than", "in"}),
    "yes_no": frozenset({"equals", "not_equals"}),
    "single_choice": frozenset({"equals", "not_equals", "in"}),
    "multiple_choice": frozenset({"contains"}),
}


def _empty(value: Any) -> bool:
    return not value


def _is(default: Any) -> Any:
    # New optional fields are left out of the stored JSON while they hold their default, so
    # content written before they existed keeps its exact stored form (idempotent re-import).
    return lambda value: value == default


class ShapeError(ValueError):
    """A shape's own rule refused: German ``de`` for people, English ``en`` (``str()``) on request.

    The HTTP adapter (``platform/validation_messages.py``) picks the language by ``Accept-Language``.
    """

    def __init__(self, de: str, en: str) -> None:
        super().__init__(en)
        self.de = de
        self.en = en


class Shape(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Condition(Shape):
    question: str = Field(pattern=QUESTION_KEY)
    operator: Operator
    value: Any = None

    @model_validator(mode="after")
    def _in_takes_a_list(self) -> Condition:
        if self.operator == "in" and not isinstance(self.value, list):
            raise ShapeError(
                "Der Operator „in“ braucht eine Liste als Wert.", "operator 'in' needs a list value"
            )
        return self


class QuestionCondition(Condition):
    logic: Literal["show", "hide", "skip"] = "show"


class _Rule(Shape):
    severity: Severity
    message: str = Field(min_length=1, max_length=2000)
    suggestion: str | None = Field(default=None, max_length=2000)


class RequiresRule(_Rule):
    type: Literal["requires"]
    target_clause_ids: list[uuid.UUID] = Field(min_length=1)


class ForbidsRule(_Rule):
    type: Literal["forbids"]
    target_clause_ids: list[uuid.UUID] = Field(min_length=1)


class IncompatibleRule(_Rule):
    type: Literal["incompatible_with"]
    target_clause_ids: list[uuid.UUID] = Field(min_length=1)


class ScopedToRule(_Rule):
    type: Literal["scoped_to"]
    jurisdictions: list[Jurisdiction] = Field(min_length=1)


class RequiresAnswerRule(_Rule):
    type: Literal["requires_answer"]
    condition: Condition


Rule = Annotated[
    RequiresRule | ForbidsRule | IncompatibleRule | ScopedToRule | RequiresAnswerRule,
    Field(discriminator="type"),
]
TARGETED_RULES = ("requires", "forbids", "incompatible_with")


class Option(Shape):
    value: str = Field(min_length=1, max_length=200)
    label: str = Field(min_length=1, max_length=500)
    # The words the document inserts where they differ from the label the interview shows
    # ("der Bundesrepublik Deutschland" for "Bundesrepublik Deutschland"); None: the label.
    insert_text: str | None = Field(default=None, min_length=1, max_length=2000)

    @property
    def text(self) -> str:
        return self.insert_text if self.insert_text is not None else self.label


class Parameter(Shape):
    type: QuestionType
    label: str = Field(min_length=1, max_length=300)
    required: bool = False
    default: Any = None
    options: list[Option] | dict[str, Any] | None = None


class SelectWhen(Shape):
    """An alternative slot's answer-driven choice: ``clauseId`` when ``condition`` holds."""

    clause_id: uuid.UUID
    condition: Condition


class Slot(Shape):
    id: str = Field(pattern=ELEMENT_ID)
    clause_id: uuid.UUID
    type: Literal["required", "optional", "alternative"]
    alternative_clause_ids: list[uuid.UUID] = []
    default_selected: bool = False
    include_when: Condition | None = None
    # Alternative slots: the first entry whose condition holds chooses the clause; a manual
    # choice that differs is an override and gets a soft warning (engine.md "Assembly").
    select_when: list[SelectWhen] = Field(default=[], exclude_if=_empty)
    order: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> Slot:
        if self.type != "alternative" and self.alternative_clause_ids:
            raise ShapeError(
                "Nur Alternativ-Slots haben alternativeClauseIds.",
                "only alternative slots have alternativeClauseIds",
            )
        if self.type != "optional" and (self.include_when is not None or self.default_selected):
            raise ShapeError(
                "defaultSelected und includeWhen gehören zu optionalen Slots.",
                "defaultSelected and includeWhen belong to optional slots",
            )
        if self.type != "alternative" and self.select_when:
            raise ShapeError(
                "selectWhen gehört zu Alternativ-Slots.", "selectWhen belongs to alternative slots"
            )
        if any(entry.clause_id not in self.clause_ids() for entry in self.select_when):
            raise ShapeError(
                "selectWhen nennt eine Klausel, die keine Alternative des Slots ist.",
                "selectWhen names a clause that is not one of the slot's alternatives",
            )
        return self

    def clause_ids(self) -> list[uuid.UUID]:
        return [self.clause_id, *self.alternative_clause_ids]


class Section(Shape):
    id: str = Field(pattern=ELEMENT_ID)
    title: str = Field(min_length=1, max_length=300)
    order: int = 0
    slots: list[Slot] = []
    # Where the section's clauses stand: "body" (numbered §§), "preamble" (unnumbered, after
    # the parties block) or "closing" (unnumbered, before the signature block).
    placement: Literal["body", "preamble", "closing"] = Field(default="body", exclude_if=_is("body"))
    # Sections group clauses for the interview and authoring; the document shows the
    # section title as a heading only when the template says so.
    show_heading: bool = Field(default=False, exclude_if=_is(False))


class Party(Shape):
    """A contracting party of the parties block and the signature block, fed by questions."""

    role: str = Field(min_length=1, max_length=100)  # "Arbeitgeber": "– nachfolgend „Arbeitgeber“ –"
    name_question: str = Field(pattern=QUESTION_KEY)
    address_question: str | None = Field(default=None, pattern=QUESTION_KEY)
    representative_question: str | None = Field(default=None, pattern=QUESTION_KEY)


class Signature(Shape):
    """Place and date above the signature lines (one per party); unanswered → a blank line."""

    place_question: str | None = Field(default=None, pattern=QUESTION_KEY)
    date_question: str | None = Field(default=None, pattern=QUESTION_KEY)


class DocumentSettings(Shape):
    """How a template's contract reads as a document (engine.md "Rendering")."""

    title: str | None = Field(default=None, min_length=1, max_length=300)  # default: the template title
    parties: list[Party] = Field(default=[], max_length=10)
    parties_intro: str = Field(default="zwischen", min_length=1, max_length=200)
    parties_outro: str | None = Field(default=None, min_length=1, max_length=500)
    signature: Signature | None = None

    def question_keys(self) -> list[tuple[str, str]]:
        """(field path, question key) of every question the settings name."""
        keys: list[tuple[str, str]] = []
        for i, party in enumerate(self.parties):
            for name in ("name_question", "address_question", "representative_question"):
                key = getattr(party, name)
                if key is not None:
                    keys.append((f"parties.{i}.{to_camel(name)}", key))
        if self.signature is not None:
            for name in ("place_question", "date_question"):
                key = getattr(self.signature, name)
                if key is not None:
                    keys.append((f"signature.{to_camel(name)}", key))
        return keys


class Structure(Shape):
    sections: list[Section] = []
    document: DocumentSettings | None = None

    def slots(self) -> list[Slot]:
        return [slot for section in self.sections for slot in section.slots]


class Question(Shape):
    key: str = Field(pattern=QUESTION_KEY)
    text: str = Field(min_length=1, max_length=1000)
    type: QuestionType
    required: bool = False
    help_text: str | None = Field(default=None, max_length=2000)
    explanation: str | None = Field(default=None, max_length=5000)
    section: str | None = Field(default=None, max_length=100)
    options: list[Option] | dict[str, Any] | None = None
    default_value: Any = None
    validation: dict[str, Any] | None = None
    parameter_keys: list[str] = []
    conditions: list[QuestionCondition] = []

    @model_validator(mode="after")
    def _choices_have_options(self) -> Question:
        if self.type in ("single_choice", "multiple_choice") and not isinstance(self.options, list):
            raise ShapeError(
                "Auswahlfragen brauchen Optionen [{value, label}].",
                "choice questions need options [{value, label}]",
            )
        if isinstance(self.options, list) and len({o.value for o in self.options}) != len(self.options):
            raise ShapeError("Die Werte der Optionen müssen eindeutig sein.", "option values must be unique")
        return self
