"""Request and response bodies of the contracts module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from servanda.content.schemas import Tag
from servanda.platform.api_models import ApiInput, ApiModel


class ContractCreate(ApiInput):
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
            raise ValueError("exactly one of templateId and lawFirmTemplateId")
        if self.visibility == "team" and self.team_id is None:
            raise ValueError("visibility 'team' needs a teamId")
        return self


class ContractPatch(ApiInput):
    answers: dict[str, Any] | None = None
    selected_slots: dict[str, uuid.UUID | None] | None = None
    dismissed_warnings: list[str] | None = Field(default=None, max_length=500)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    client_reference: str | None = Field(default=None, max_length=200)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    visibility: Literal["private", "team"] | None = None
    team_id: uuid.UUID | None = None


class ContractSummary(ApiModel):
    id: uuid.UUID
    title: str
    client_reference: str | None
    tags: list[str]
    status: str
    validation_state: str
    jurisdiction: str
    template_version_id: uuid.UUID
    creator_id: uuid.UUID
    visibility: str
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
    custom_answers: dict[str, Any]
    custom_slot_selections: dict[str, Any]
    status: str
    visibility: str
    team_id: uuid.UUID | None
    tags: list[str]
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
