"""Migrated database engines: every test using `db_engine` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from db.engine import create_engine, session_factory
from db.migrate import migrate


def _sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'baton.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return _sqlite_url(tmp_path)


async def _migrated_engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def db_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated engine, once on SQLite and once on PostgreSQL."""
    async for engine in _migrated_engine(db_url):
        yield engine


@pytest.fixture
def db_sessions(db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory on `db_engine`."""
    return session_factory(db_engine)


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on a SQLite file, for tests that need only one database."""
    async for engine in _migrated_engine(_sqlite_url(tmp_path)):
        yield engine
