"""The migrations build the schema of `db.tables` on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

import db.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from db.engine import session_scope
from db.migrate import alembic_config, migrate
from db.tables import Org, User


def _schema(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    return {
        table: {
            "columns": sorted(column["name"] for column in inspector.get_columns(table)),
            "indexes": sorted(str(index["name"]) for index in inspector.get_indexes(table)),
        }
        for table in inspector.get_table_names()
    }


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_schema_has_every_table(db_engine: AsyncEngine) -> None:
    async with db_engine.connect() as connection:
        schema = await connection.run_sync(_schema)

    assert set(SQLModel.metadata.tables) <= set(schema)
    for name, table in SQLModel.metadata.tables.items():
        assert schema[name]["columns"] == sorted(column.name for column in table.columns)


async def test_migrations_reach_head_and_running_them_again_changes_nothing(
    db_engine: AsyncEngine,
) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with db_engine.connect() as connection:
        before = await connection.run_sync(_schema)
        assert await connection.run_sync(_current_revision) == head

    await migrate(db_engine)

    async with db_engine.connect() as connection:
        assert await connection.run_sync(_schema) == before
        assert await connection.run_sync(_current_revision) == head
        versions = await connection.execute(text("SELECT count(*) FROM alembic_version"))
        assert versions.scalar_one() == 1


async def test_migrations_match_the_table_models(db_engine: AsyncEngine) -> None:
    async with db_engine.connect() as connection:
        differences = await connection.run_sync(_differences)

    assert differences == []


async def test_duplicate_user_email_is_refused(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with session_scope(db_sessions) as session:
        session.add(Org(id="acme", name="Acme"))
        session.add(User(org_id="acme", email="ann@acme.test", name="Ann", password_hash="x"))

    with pytest.raises(IntegrityError):
        async with session_scope(db_sessions) as session:
            session.add(User(org_id="acme", email="ann@acme.test", name="Ann 2", password_hash="y"))


async def test_sqlite_engine_is_migrated(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.connect() as connection:
        schema = await connection.run_sync(_schema)
    assert "app_user" in schema
    assert sqlite_engine.url.get_backend_name() == "sqlite"
