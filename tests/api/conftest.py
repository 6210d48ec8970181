"""The API on real parts: a SQLite file with the demo data, local storage, the test SMTP server
and the session's Temporal server, with workers on a task queue prefix of the test's own."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, closing
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.worker import Worker

from api.main import create_app
from api.state import AppState
from config.settings import (
    ApiSettings,
    DatabaseSettings,
    MailSettings,
    SecuritySettings,
    Settings,
    StorageSettings,
    TemporalSettings,
)
from config.temporal_names import QUEUE_ROLES
from db.engine import create_engine, session_factory
from db.migrate import migrate
from starter.demo_data import DEMO_PASSWORD, load_demo_data
from tests.harness.smtp import SmtpServer
from worker import build_activity_deps, build_workers

PUBLIC_URL = "http://baton.test"
SECRET_KEY = "api-suite-signing-key-0123456789-abcdefghijklmnop"

LoginAs = Callable[[str], Awaitable[dict[str, str]]]


def api_settings_for(tmp_path: Path, smtp_host: str, smtp_port: int) -> Settings:
    """Settings for one test: its own database, files and queue prefix; mail to the given server."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        temporal=TemporalSettings(task_queue_prefix=f"api-{uuid.uuid4().hex[:12]}-"),
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'baton.db'}"),
        storage=StorageSettings(backend="local", local_root=tmp_path / "files"),
        mail=MailSettings(
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_security="none",
            smtp_timeout_seconds=5.0,
            sender="Baton <baton@baton.test>",
        ),
        security=SecuritySettings(secret_key=SecretStr(SECRET_KEY)),
        api=ApiSettings(public_url=PUBLIC_URL),
    )


def _sqlite_path(settings: Settings) -> Path:
    return Path(settings.database.url.removeprefix("sqlite+aiosqlite:///"))


@pytest.fixture(scope="session")
async def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file holding the demo data, made once (hashing passwords is slow)."""
    path = tmp_path_factory.mktemp("demo-db") / "demo.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(engine)
        await load_demo_data(session_factory(engine))
    finally:
        await engine.dispose()
    return path


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database, whatever its journal holds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@pytest.fixture
def api_settings(tmp_path: Path, smtp_server: SmtpServer) -> Settings:
    """This test's settings: files under tmp_path, mail to the test SMTP server."""
    return api_settings_for(tmp_path, smtp_server.host, smtp_server.port)


@pytest.fixture
async def app(
    api_settings: Settings, temporal_client: Client, demo_database: Path
) -> AsyncIterator[FastAPI]:
    """The API with its lifespan entered and the demo orgs and people in its database."""
    _copy_sqlite(demo_database, _sqlite_path(api_settings))
    application = create_app(api_settings, temporal_client)
    async with application.router.lifespan_context(application):
        await load_demo_data(baton_state(application).sessions)
        yield application


def baton_state(application: FastAPI) -> AppState:
    """The state the API holds for its lifetime."""
    state: AppState = application.state.baton
    return state


@pytest.fixture
def baton(app: FastAPI) -> AppState:
    """The running API's state: settings, database sessions, store."""
    return baton_state(app)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls the app in process, as a browser or script would."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as http:
        yield http


async def log_in(
    client: httpx.AsyncClient, email: str, password: str = DEMO_PASSWORD
) -> dict[str, str]:
    """The token pair of a user, logging in with the form a browser would send."""
    response = await client.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def login_as(client: httpx.AsyncClient) -> LoginAs:
    """Log a demo user in and get the headers that authenticate their calls."""

    async def headers(email: str) -> dict[str, str]:
        return bearer((await log_in(client, email))["access_token"])

    return headers


@asynccontextmanager
async def running_workers(
    temporal: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[list[Worker]]:
    """The product's workers for every queue of the settings' prefix, until the block ends."""
    deps = build_activity_deps(settings, sessions)
    with ThreadPoolExecutor(max_workers=settings.worker.max_concurrent_activities) as executor:
        async with AsyncExitStack() as stack:
            workers = build_workers(temporal, QUEUE_ROLES, deps, executor)
            for worker in workers:
                await stack.enter_async_context(worker)
            yield workers


@pytest.fixture
async def workers(app: FastAPI, temporal_client: Client) -> AsyncIterator[list[Worker]]:
    """Real workers polling the app's queues, with the app's settings and database."""
    state = baton_state(app)
    async with running_workers(temporal_client, state.settings, state.sessions) as running:
        yield running
