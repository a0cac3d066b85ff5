"""HTTP endpoints of the export module: export jobs (``jobs``) and style templates (``styles``).

Every router is in :data:`routers`; the app registers them.
"""

from __future__ import annotations

from fastapi import APIRouter

routers: list[APIRouter] = []
