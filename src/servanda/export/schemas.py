"""Request and response bodies of the export jobs API (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from servanda.platform.api_models import ApiInput, ApiModel
from servanda.platform.validation_messages import InputError

ExportFormat = Literal["docx", "odt", "pdf"]
ExportStatus = Literal["queued", "running", "done", "failed", "archived"]
MAX_BATCH = 20


class ExportRequest(ApiInput):
    contract_id: uuid.UUID
    format: ExportFormat
    style_template_id: uuid.UUID | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [{"contractId": "0b9f3c1e-8f3a-4d43-9d8e-2c6a0d1b7e55", "format": "docx"}]
        }
    }


class BatchRequest(ApiInput):
    contract_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BATCH)
    format: ExportFormat
    style_template_id: uuid.UUID | None = None

    @field_validator("contract_ids")
    @classmethod
    def _unique(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(value)) != len(value):
            raise InputError(
                "Jeder Vertrag darf nur einmal vorkommen.", "Each contract may appear only once."
            )
        return value


class ExportJobOut(ApiModel):
    """An export job. ``downloadUrl`` (valid until ``downloadUrlExpiresAt``, 15 minutes) is given
    only by ``GET /export-jobs/{id}`` for a finished job; lists leave it empty."""

    id: uuid.UUID
    contract_id: uuid.UUID
    format: ExportFormat
    style_template_id: uuid.UUID | None
    status: ExportStatus
    attempts: int
    requested_by: uuid.UUID | None
    queued_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    next_attempt_at: datetime | None
    archived_at: datetime | None
    duration_ms: int | None = Field(description="From start to completion of the last attempt")
    error_code: str | None
    error_message: str | None
    size: int | None = Field(description="Bytes of the file (when done)")
    sha256: str | None = Field(description="SHA-256 of the file (hex, when done)")
    download_url: str | None = None
    download_url_expires_at: datetime | None = None


class ExportCount(ApiModel):
    status: ExportStatus
    format: ExportFormat
    count: int


class ExportStats(ApiModel):
    """The tenant's export jobs: how many per status and format, how fast, how far behind."""

    counts: list[ExportCount]
    total: int
    done_last_day: int
    failed_last_day: int
    avg_duration_ms: float | None = Field(description="Done jobs of the last 24 h: start to completion")
    p95_duration_ms: float | None
    avg_queue_wait_ms: float | None = Field(description="Done jobs of the last 24 h: queued to start")
    oldest_queued_age_s: float | None = Field(description="Age of the oldest waiting job, if any")


class ManifestEntry(ApiModel):
    """One contract of a batch as the worker recorded it: ``done`` with its file, or ``failed``
    with the reason (the ZIP's ``manifest.json`` holds the same entries)."""

    contract_id: uuid.UUID | None = None
    title: str | None = None
    status: str | None = None
    file: str | None = Field(None, description="The member's name in the ZIP")
    sha256: str | None = None
    size: int | None = None
    error_code: str | None = None
    error: str | None = Field(None, description="Why this contract failed (German)")


class ExportBatchOut(ApiModel):
    id: uuid.UUID
    format: ExportFormat
    style_template_id: uuid.UUID | None
    contract_ids: list[uuid.UUID]
    status: ExportStatus
    attempts: int
    requested_by: uuid.UUID | None
    total: int
    done_count: int
    failed_count: int
    manifest: list[ManifestEntry]
    queued_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    error_code: str | None
    error_message: str | None
    size: int | None = Field(description="Bytes of the file (when done)")
    sha256: str | None = Field(description="SHA-256 of the file (hex, when done)")
    download_url: str | None = None
    download_url_expires_at: datetime | None = None
