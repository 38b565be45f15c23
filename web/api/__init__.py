"""The integration API: REST intake, ПОС upload and Open311 GeoReport v2 (one router)."""

from __future__ import annotations

from fastapi import APIRouter

from web.api.intake import router as intake_router
from web.api.open311 import router as open311_router
from web.api.pos_upload import router as pos_upload_router

api_router = APIRouter()
api_router.include_router(intake_router)
api_router.include_router(pos_upload_router)
api_router.include_router(open311_router)

__all__ = ["api_router", "intake_router", "open311_router", "pos_upload_router"]
