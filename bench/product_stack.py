"""The product as the AP and mail benchmarks run it: the real workers for every queue role on
a given Temporal client, a temp SQLite database with the demo data, local files and a capturing
SMTP server, all in this process."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from bench.decisions import bench_settings, smtp_capture
from config.settings import Settings
from config.temporal_names import QUEUE_ROLES
from db.engine import create_engine, session_factory
from db.migrate import migrate
from starter.demo_data import load_demo_data
from worker import build_activity_deps, build_workers

WORKER_THREADS = 20


@dataclass(frozen=True)
class ProductStack:
    """The running product's settings, its database sessions and its scratch folder."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    scratch: Path


@asynccontextmanager
async def product_stack(client: Client) -> AsyncIterator[ProductStack]:
    """Start the workers on fresh data; everything is stopped and removed afterwards."""
    async with AsyncExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="baton-bench-")))
        _, smtp_port = stack.enter_context(smtp_capture())
        settings = bench_settings(scratch, smtp_port, uuid.uuid4().hex[:8])
        engine = create_engine(settings.database.url)
        stack.push_async_callback(engine.dispose)
        await migrate(engine)
        sessions = session_factory(engine)
        await load_demo_data(sessions)
        executor = stack.enter_context(ThreadPoolExecutor(max_workers=WORKER_THREADS))
        deps = build_activity_deps(settings, sessions)
        for worker in build_workers(client, QUEUE_ROLES, deps, executor):
            await stack.enter_async_context(worker)
        yield ProductStack(settings, sessions, scratch)
