"""Request and response bodies of the content module."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from servanda.engine.shapes import PARAMETER_KEY, Condition, Parameter, Question, Rule, Structure
from servanda.platform.api_models import ApiInput, ApiModel, Stored
from servanda.platform.validation_messages import InputError

Kind = Literal["clauses", "templates"]
ContentKind = Literal["clause", "template"]
VersionStatus = Literal["draft", "review", "approved", "published", "deprecated"]
ReviewAction = Literal[
    "create", "edit", "submit", "approve", "reject", "request_changes", "publish", "deprecate"
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True)]
Jurisdiction = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class ClauseFields(ApiInput):
    """The versioned part of a clause."""

    content: str | None = Field(default=None, max_length=100_000)
    # the display heading in documents ("Vergütung"); the entity title stays internal
    heading: str | None = Field(default=None, min_length=1, max_length=300)
    parameters: dict[str, Parameter] | None = None
    rules: list[Rule] | None = Field(default=None, max_length=200)
    change_note: str | None = Field(default=None, max_length=2000)
    valid_from: date | None = None
    valid_until: date | None = None

    @field_validator("parameters")
    @classmethod
    def _parameter_keys(cls, value: dict[str, Parameter] | None) -> dict[str, Parameter] | None:
        import re

        for key in value or {}:
            if not re.match(PARAMETER_KEY, key):
                raise InputError(
                    f"Ungültiger Parameterschlüssel „{key}“ (Kleinbuchstaben, Ziffern, _).",
                    f"invalid parameter key '{key}'",
                )
        return value


class TemplateFields(ApiInput):
    """The versioned part of a template."""

    structure: Structure | None = None
    interview: list[Question] | None = Field(default=None, max_length=500)
    default_style_template_id: uuid.UUID | None = None
    change_note: str | None = Field(default=None, max_length=2000)


class EntityFields(ApiInput):
    title: str = Field(min_length=1, max_length=300)
    tags: list[Tag] = Field(default=[], max_length=50)
    jurisdiction: Jurisdiction | None = None
    legal_area: str | None = Field(default=None, max_length=100)
    description: str = Field(default="", max_length=5000)  # templates only
    category: str | None = Field(default=None, max_length=100)  # templates only


class VersionOut(ApiModel):
    """A clause or template version; the members of the other kind are null."""

    id: uuid.UUID
    entity_id: uuid.UUID
    version_number: int
    status: VersionStatus
    change_note: str | None
    author_id: uuid.UUID | None
    # the author and every editor of the draft (four-eyes: none of them may review it)
    contributor_ids: list[uuid.UUID] = []
    reviewer_id: uuid.UUID | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # clause versions
    content: str | None = None
    heading: str | None = None
    parameters: Stored[dict[str, Parameter] | None] = None
    rules: Stored[list[Rule] | None] = None
    valid_from: date | None = None
    valid_until: date | None = None
    # template versions
    structure: Stored[Structure | None] = None
    interview: Stored[list[Question] | None] = None
    default_style_template_id: uuid.UUID | None = None


class VersionSummary(ApiModel):
    id: uuid.UUID
    version_number: int
    status: VersionStatus


class EntityOut(ApiModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    title: str
    tags: list[str]
    jurisdiction: str | None
    legal_area: str | None
    description: str | None = None
    category: str | None = None
    current_published_version_id: uuid.UUID | None
    external_key: str | None
    created_at: datetime
    updated_at: datetime
    latest_version: VersionSummary | None = None


class CreatedEntity(EntityOut):
    """A new clause or template (``POST /content/{kind}``) with its first version, a draft."""

    version: VersionOut


class SubmitRequest(ApiInput):
    model_config = {
        "json_schema_extra": {"examples": [{"reviewerId": "6a9e3d2b-7c14-4f58-b0e2-1d5c8a4f9b27"}]}
    }

    reviewer_id: uuid.UUID


class CommentRequest(ApiInput):
    comment: str = Field(max_length=5000)


class GateOut(ApiModel):
    gate: str
    passed: bool
    messages: list[str]


class GateReport(ApiModel):
    """A version's publishing gates: ``passed`` when every gate passed (publish needs it)."""

    passed: bool
    gates: list[GateOut]


class ReviewOut(ApiModel):
    id: uuid.UUID
    kind: ContentKind
    entity_id: uuid.UUID
    version_id: uuid.UUID
    version_number: int
    action: ReviewAction
    from_status: VersionStatus | None
    to_status: VersionStatus
    actor_id: uuid.UUID | None
    comment: str | None
    created_at: datetime


class Contributor(ApiModel):
    id: uuid.UUID
    display_name: str | None  # None: the user no longer exists


class ChangelogVersion(ApiModel):
    version_id: uuid.UUID
    version_number: int
    status: VersionStatus
    author_id: uuid.UUID | None
    contributors: list[Contributor]
    reviewer_id: uuid.UUID | None
    change_note: str | None
    published_at: datetime | None
    history: list[ReviewOut]


class ReviewQueueItem(ApiModel):
    kind: ContentKind
    entity_id: uuid.UUID
    title: str
    version_id: uuid.UUID
    version_number: int
    author_id: uuid.UUID | None
    submitted_at: datetime | None


class Reviewer(ApiModel):
    """A colleague who may be named reviewer (GET /content/reviewers)."""

    id: uuid.UUID
    display_name: str
    email: str
    role: Literal["editor", "admin"]


class ImportedEntry(ApiModel):
    kind: ContentKind
    key: str
    id: uuid.UUID


class ImportedVersion(ImportedEntry):
    version_number: int


class PublishedEntry(ApiModel):
    kind: ContentKind
    key: str
    version_number: int


class ImportReportOut(ApiModel):
    """What a content-pack import did, by the pack's keys."""

    created: list[ImportedEntry]
    new_version: list[ImportedVersion]
    unchanged: list[ImportedEntry]
    published: list[PublishedEntry]


class RuleGraphNode(ApiModel):
    """A clause of the template with the slot that holds it."""

    id: uuid.UUID
    title: str
    slot_id: str
    slot_type: Literal["required", "optional", "alternative"]
    version_id: uuid.UUID | None  # its published version, else its latest; None: no version visible
    published: bool
    scoped_to: list[str]
    requires_answer: list[Condition]


class RuleGraphEdge(ApiModel):
    """A rule of ``source`` naming ``target`` (requires, forbids, incompatible_with)."""

    source: uuid.UUID
    target: uuid.UUID
    type: Literal["requires", "forbids", "incompatible_with"]
    severity: Literal["hard", "soft"]
    message: str
    target_in_template: bool


class RuleGraph(ApiModel):
    template_id: uuid.UUID
    version_id: uuid.UUID
    nodes: list[RuleGraphNode]
    edges: list[RuleGraphEdge]


class CatalogVersion(ApiModel):
    id: uuid.UUID
    version_number: int
    published_at: datetime | None


class CatalogItem(ApiModel):
    id: uuid.UUID
    title: str
    description: str
    category: str | None
    legal_area: str | None
    jurisdiction: str | None
    tags: list[str]
    publisher_tenant_id: uuid.UUID
    publisher_name: str | None
    own: bool
    current_version: CatalogVersion


class CatalogClause(ApiModel):
    id: uuid.UUID
    title: str


class CatalogSlot(ApiModel):
    id: str
    type: str
    clauses: list[CatalogClause]


class CatalogSection(ApiModel):
    id: str
    title: str
    slots: list[CatalogSlot]


class CatalogChange(ApiModel):
    """A released version of a catalog template and its change note (the changelog readers see)."""

    version_number: int
    published_at: datetime | None
    change_note: str | None


class CatalogDetail(CatalogItem):
    sections: list[CatalogSection]
    question_count: int
    changelog: list[CatalogChange]
