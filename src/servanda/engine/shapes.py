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


class Shape(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Condition(Shape):
    question: str = Field(pattern=QUESTION_KEY)
    operator: Operator
    value: Any = None

    @model_validator(mode="after")
    def _in_takes_a_list(self) -> Condition:
        if self.operator == "in" and not isinstance(self.value, list):
            raise ValueError("operator 'in' needs a list value")
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


class Parameter(Shape):
    type: QuestionType
    label: str = Field(min_length=1, max_length=300)
    required: bool = False
    default: Any = None
    options: list[Option] | dict[str, Any] | None = None


class Slot(Shape):
    id: str = Field(pattern=ELEMENT_ID)
    clause_id: uuid.UUID
    type: Literal["required", "optional", "alternative"]
    alternative_clause_ids: list[uuid.UUID] = []
    default_selected: bool = False
    include_when: Condition | None = None
    order: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> Slot:
        if self.type != "alternative" and self.alternative_clause_ids:
            raise ValueError("only alternative slots have alternativeClauseIds")
        if self.type != "optional" and (self.include_when is not None or self.default_selected):
            raise ValueError("defaultSelected and includeWhen belong to optional slots")
        return self

    def clause_ids(self) -> list[uuid.UUID]:
        return [self.clause_id, *self.alternative_clause_ids]


class Section(Shape):
    id: str = Field(pattern=ELEMENT_ID)
    title: str = Field(min_length=1, max_length=300)
    order: int = 0
    slots: list[Slot] = []


class Structure(Shape):
    sections: list[Section] = []

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
            raise ValueError("choice questions need options [{value, label}]")
        if isinstance(self.options, list) and len({o.value for o in self.options}) != len(self.options):
            raise ValueError("option values must be unique")
        return self
