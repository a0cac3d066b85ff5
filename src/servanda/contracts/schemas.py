"""Request and response bodies of the contracts module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from servanda.content.schemas import Tag
from servanda.engine.assembly import ChoiceSource
from servanda.engine.evaluate import ProblemCode
from servanda.engine.rules import Action, ValidationState
from servanda.engine.shapes import Question, Severity
from servanda.platform.api_models import ApiInput, ApiModel, Stored
from servanda.platform.validation_messages import InputError

ContractStatus = Literal["draft", "completed", "archived"]
Visibility = Literal["private", "team"]
# A stored answer, by question type: text, currency (decimal string), date (ISO), single choice → string;
# number → number; yes/no → boolean; multiple choice → strings.
Answer = str | int | float | bool | list[str]


class ContractCreate(ApiInput):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "templateId": "3f2b8c1e-5d4a-4e7b-9c61-2a8f0d3e7b15",
                    "title": "Arbeitsvertrag Müller",
                    "clientReference": "2027/0815",
                    "tags": ["arbeitsrecht"],
                }
            ]
        }
    }

    template_id: uuid.UUID | None = None
    law_firm_template_id: uuid.UUID | None = None
    title: str = Field(min_length=1, max_length=300)
    client_reference: str | None = Field(default=None, max_length=200)
    tags: list[Tag] = Field(default=[], max_length=50)
    jurisdiction: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    visibility: Literal["private", "team"] = "private"
    team_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ContractCreate:
        if (self.template_id is None) == (self.law_firm_template_id is None):
            raise InputError(
                "Genau eines der Felder templateId und lawFirmTemplateId ist anzugeben.",
                "exactly one of templateId and lawFirmTemplateId",
            )
        if self.visibility == "team" and self.team_id is None:
            raise InputError(
                "Die Sichtbarkeit „team“ braucht eine teamId.", "visibility 'team' needs a teamId"
            )
        return self


class ContractPatch(ApiInput):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "answers": {"mitarbeiterzahl": 12, "branche": "IT", "beginn": "2027-01-01"},
                    "selectedSlots": {"verguetung": "8d0c2f4a-1b7e-4c3d-a5f6-9e2b7c4d1a03"},
                    "dismissedWarnings": ["4b1d…"],
                }
            ]
        }
    }

    answers: dict[str, Any] | None = None
    selected_slots: dict[str, uuid.UUID | None] | None = None
    dismissed_warnings: list[str] | None = Field(default=None, max_length=500)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    client_reference: str | None = Field(default=None, max_length=200)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    visibility: Literal["private", "team"] | None = None
    team_id: uuid.UUID | None = None


class ResolutionRequest(ApiInput):
    """One offered resolution option to apply: the violation's fingerprint and the option's id."""

    fingerprint: str = Field(min_length=1, max_length=100)
    option_id: str = Field(min_length=1, max_length=200)


class ContractSummary(ApiModel):
    id: uuid.UUID
    title: str
    client_reference: str | None
    tags: list[str]
    status: ContractStatus
    validation_state: ValidationState
    jurisdiction: str
    template_version_id: uuid.UUID
    creator_id: uuid.UUID
    visibility: Visibility
    team_id: uuid.UUID | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class LawFirmTemplateCreate(ApiInput):
    template_id: uuid.UUID
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=5000)
    custom_answers: dict[str, Any] = {}
    custom_slot_selections: dict[str, uuid.UUID | None] = {}
    visibility: Literal["private", "team"] = "private"
    team_id: uuid.UUID | None = None
    tags: list[Tag] = Field(default=[], max_length=50)
    status: Literal["draft", "published"] = "published"


class LawFirmTemplatePatch(ApiInput):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    custom_answers: dict[str, Any] | None = None
    custom_slot_selections: dict[str, uuid.UUID | None] | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    status: Literal["draft", "published"] | None = None


class SaveAsTemplate(ApiInput):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=5000)
    visibility: Literal["private", "team"] = "private"
    team_id: uuid.UUID | None = None


class LawFirmTemplateOut(ApiModel):
    id: uuid.UUID
    title: str
    description: str
    source_template_version_id: uuid.UUID
    source_contract_id: uuid.UUID | None
    custom_answers: Stored[dict[str, Answer]]
    custom_slot_selections: Stored[dict[str, uuid.UUID | None]]  # slot id → clause id (None: left out)
    status: Literal["draft", "published"]
    visibility: Visibility
    team_id: uuid.UUID | None
    tags: list[str]
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


# -- the contract view -----------------------------------------------------------------------


class InactiveAnswer(ApiModel):
    """A stored answer the contract does not use: its question is hidden or skipped."""

    question: str
    text: str
    answer: Stored[Answer]


class InterviewQuestion(Question):
    """A question of the interview as authored, with its state in this contract.

    ``required`` is the effective one: a hidden or skipped question is never required.
    """

    visible: bool
    answer: Answer | None
    inactive: bool


class SlotOption(ApiModel):
    """A clause a slot offers, with the text the contract would contain if it were chosen."""

    clause_id: uuid.UUID
    title: str  # internal title
    heading: str  # display heading in the document
    text: str  # paragraphs (blank-line separated) with the current answers; missing values as [[key]]


class SlotView(ApiModel):
    """A slot of the template and what the contract puts into it."""

    slot_id: str
    section_id: str
    type: Literal["required", "optional", "alternative"]
    clause_id: uuid.UUID | None  # None: left out
    options: list[SlotOption]
    source: ChoiceSource  # what decided the choice
    editable: bool
    answers_clause_id: uuid.UUID | None  # what the answers choose (selectWhen), if anything
    overridden: bool  # the user chose another alternative than the answers call for


class ResolutionOptionOut(ApiModel):
    option_id: str  # "<action>:<slotId>:<clauseId>", for POST /contracts/{id}/resolutions
    action: Action
    clause_id: uuid.UUID
    slot_id: str
    label: str
    auto_applicable: bool


class ViolationOut(ApiModel):
    fingerprint: str
    rule_type: str
    severity: Severity
    source_clause_id: uuid.UUID
    target_clause_ids: list[uuid.UUID]
    message: str
    suggestion: str | None
    dismissed: bool
    resolution_options: list[ResolutionOptionOut]


class ValidationResult(ApiModel):
    validation_state: ValidationState
    messages: list[ViolationOut]


class CompletionProblemOut(ApiModel):
    code: ProblemCode
    ref: str  # fingerprint, question key, "clauseId:key" or slot id
    message: str


class VersionInfo(ApiModel):
    """What the contract is pinned to, and whether the template has moved on."""

    template_id: uuid.UUID
    template_title: str
    template_version_id: uuid.UUID
    template_version_number: int
    latest_template_version_id: uuid.UUID | None
    newer_version_available: bool
    deprecated_pins: list[uuid.UUID]  # template and clause versions withdrawn since pinning
    warning: str | None
    clause_version_ids: list[uuid.UUID]


class ContractView(ContractSummary):
    """The full contract: snapshot, interview with visibility, slots with options, validation, pins."""

    answers: Stored[dict[str, Answer]]
    inactive_answers: list[InactiveAnswer]
    selected_slots: Stored[dict[str, uuid.UUID | None]]
    dismissed_warnings: Stored[list[str]]
    interview: Stored[list[InterviewQuestion]]
    slots: list[SlotView]
    validation: ValidationResult
    progress: float
    completion_problems: list[CompletionProblemOut]
    version_info: VersionInfo


class OutlineEntryOut(ApiModel):
    section_id: str
    title: str
    headings: list[str]


class Preview(ApiModel):
    html: str
    outline: list[OutlineEntryOut]


class ClauseRef(ApiModel):
    clause_id: uuid.UUID
    title: str


class DiffRun(ApiModel):
    op: Literal["equal", "delete", "insert"]
    text: str


class UpdatedClause(ClauseRef):
    from_version: int
    to_version: int
    diff: list[DiffRun]  # word diff of the clause text


class MigrationReport(ApiModel):
    """What moving a contract onto the current published template version keeps and changes."""

    migrated_answers: list[str]
    dropped_answers: list[str]
    reset_slots: list[str]
    from_template_version: int
    to_template_version: int
    added_clauses: list[ClauseRef]
    removed_clauses: list[ClauseRef]
    updated_clauses: list[UpdatedClause]
    new_violations: list[ViolationOut]


class ContractChange(ApiModel):
    """The answer of upgrade and derive: the contract (as GET) and what moving it changed."""

    contract: ContractView
    migration_report: MigrationReport
