"""HTTP endpoints of the export module: export jobs (``jobs``) and style templates (``styles``).

Every router is in :data:`routers`; the app registers them.
"""

from __future__ import annotations

from fastapi import APIRouter

from servanda.export.endpoints.jobs import router as jobs_router
from servanda.export.endpoints.styles import router as styles_router

routers: list[APIRouter] = []
routers.append(jobs_router)
routers.append(styles_router)
