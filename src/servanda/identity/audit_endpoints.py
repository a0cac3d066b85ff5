"""Audit log endpoints (admin): list with filters, export."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/identity/audit-logs", tags=["audit"])
