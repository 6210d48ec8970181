"""AP invoices: upload one to start its run, report on runs, and read and steer one run."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.invoices import actions, intake, reports

router = APIRouter()
# The reports come before the actions: `/invoices/failures` is no transaction id.
for part in (intake, reports, actions):
    router.include_router(part.router)

__all__ = ["router"]
