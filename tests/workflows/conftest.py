"""Fixtures of the workflow tests that need a mailbox: acme's mailbox on the session's Dovecot
server, with the product's workers for every queue."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from temporalio.client import Client

from config.settings import Settings, StorageSettings, TemporalSettings
from config.temporal_names import QUEUE_ROLES
from db.engine import session_factory
from db.tables import MailboxRow, MailMessageRow
from starter.demo_data import load_demo_data
from tests.harness.dovecot import DovecotServer, ImapUser
from tests.workflows.ap_scenarios import PRIYA, Sessions, set_ap_template
from tests.workflows.leave_scenarios import person
from tests.workflows.mail_scenarios import INBOX_ADDRESS, add_mailbox
from worker import build_activity_deps, build_workers


@dataclass
class MailEnv:
    """The workers' client and settings, the database, and acme's mailbox on Dovecot."""

    client: Client
    settings: Settings
    sessions: Sessions
    files: Path
    dovecot: DovecotServer
    user: ImapUser
    mailbox: MailboxRow

    def deliver(self, *messages: bytes) -> None:
        """Put the messages in the inbox, unread."""
        self.dovecot.append_many(self.user.name, self.user.password, "INBOX", list(messages))

    def unseen(self) -> list[int]:
        """The inbox's unread messages."""
        return self.dovecot.uids(self.user.name, self.user.password, "INBOX", unseen_only=True)

    def processed(self) -> list[int]:
        """The messages moved to the processed folder."""
        return self.dovecot.uids(self.user.name, self.user.password, "Processed")

    @property
    def mailbox_id(self) -> int:
        """The mailbox's id."""
        assert self.mailbox.id is not None
        return self.mailbox.id


@pytest.fixture
async def mail_env(
    temporal_client: Client,
    mail_settings: Settings,
    sqlite_engine: AsyncEngine,
    tmp_path: Path,
    dovecot: DovecotServer,
    imap_user: ImapUser,
) -> AsyncIterator[MailEnv]:
    sessions = session_factory(sqlite_engine)
    await load_demo_data(sessions)
    await set_ap_template(sessions)
    settings = mail_settings.model_copy(
        update={
            "temporal": TemporalSettings(task_queue_prefix=f"mail-{uuid.uuid4().hex[:8]}-"),
            "storage": StorageSettings(backend="local", local_root=tmp_path / "files"),
        }
    )
    settings = settings.model_copy(
        update={"mail": settings.mail.model_copy(update={"reply_address": INBOX_ADDRESS})}
    )
    mailbox = await add_mailbox(
        sessions,
        dovecot.host,
        dovecot.port,
        imap_user.name,
        imap_user.password,
        tmp_path / "secrets",
        owner_id=(await person(sessions, PRIYA)).id,
    )
    deps = build_activity_deps(settings, sessions)
    with ThreadPoolExecutor(max_workers=settings.worker.max_concurrent_activities) as executor:
        async with AsyncExitStack() as stack:
            for worker in build_workers(temporal_client, QUEUE_ROLES, deps, executor):
                await stack.enter_async_context(worker)
            yield MailEnv(
                temporal_client,
                settings,
                sessions,
                tmp_path / "files",
                dovecot,
                imap_user,
                mailbox,
            )


async def records(env: MailEnv) -> list[MailMessageRow]:
    """What intake recorded, oldest first."""
    async with env.sessions() as session:
        query = select(MailMessageRow).where(MailMessageRow.mailbox_id == env.mailbox_id)
        return list((await session.exec(query.order_by(col(MailMessageRow.id)))).all())


async def ap_runs(env: MailEnv) -> list[str]:
    """The AP runs started for acme's mailed invoices (by workflow id)."""
    ids = {record.workflow_id for record in await records(env) if record.workflow_id}
    found = []
    for workflow_id in sorted(ids):
        description = await env.client.get_workflow_handle(workflow_id).describe()
        assert description.workflow_type == "ApInvoiceWorkflow"
        found.append(workflow_id)
    return found


async def until_recorded(env: MailEnv, count: int, within: float = 30.0) -> None:
    """Wait until intake recorded at least `count` messages of the mailbox."""
    deadline = time.monotonic() + within
    while len(await records(env)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"intake recorded fewer than {count} messages in {within}s")
        await asyncio.sleep(0.05)
