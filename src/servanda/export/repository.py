"""Queries of the export module: the public read side for other modules."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from servanda.export.models import StyleTemplate


async def style_template_exists(session: AsyncSession, style_template_id: uuid.UUID) -> bool:
    """Whether the style is visible to the tenant: the built-in system style or one of its own (RLS)."""
    return await session.get(StyleTemplate, style_template_id) is not None
