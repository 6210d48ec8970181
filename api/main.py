"""The FastAPI application: a thin layer over Temporal and the database."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from activities.storage import build_object_store
from api.pages import approvals as approval_pages
from api.routes import (
    attachments,
    auth,
    files,
    health,
    invoices,
    leave,
    operations,
    pipeline,
    runs,
    tasks,
    templates,
    users,
)
from api.routes.mailboxes import routers as mailbox_routers
from api.routes.reference import routers as reference_routers
from api.state import AppState
from config.settings import Settings, get_settings
from db.engine import create_engine, session_factory
from db.migrate import migrate

logger = logging.getLogger(__name__)

DESCRIPTION = """
Baton runs business processes (AP invoices, leave requests) as durable Temporal workflows.

Log in with **Authorize** (email as username) to call the endpoints; every call is scoped to
your organisation and every endpoint names the roles it needs.
"""


def create_app(settings: Settings | None = None, temporal_client: Client | None = None) -> FastAPI:
    """The API application for the given settings (the process settings by default)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database.url, echo=settings.database.echo)
        if settings.database.migrate_on_start:
            await migrate(engine)
        state = AppState(settings, engine, session_factory(engine), build_object_store(settings))
        if temporal_client is not None:
            state.use_client(temporal_client)
        else:
            try:
                await state.temporal()
            except Exception as error:
                logger.warning("Temporal is not reachable yet (%s); will retry on use", error)
        app.state.baton = state
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="Baton", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    routers = (health, auth, users, templates, files, operations, leave, runs, attachments, tasks)
    for module in routers:
        app.include_router(module.router)
    app.include_router(invoices.router)
    for router in reference_routers:
        app.include_router(router)
    for router in mailbox_routers:
        app.include_router(router)
    app.include_router(pipeline.router)
    app.include_router(approval_pages.router)
    return app
