"""Mail intake paths, shared by the workflow tests and the history recorder.

acme gets a mailbox on the Dovecot server (its password as a `file:` secret reference); mail from
the demo supplier Lieferant GmbH (lieferant.de) carries invoices built like the supplier's text
PDFs, and `run_intake` runs one `MailIntakeWorkflow` check of the mailbox to its end.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from config.settings import Settings
from db.engine import session_scope
from db.tables import MailboxRow, MailScreening
from models.mailboxes import MailIntakeInput, MailIntakeResult, mail_intake_workflow_id
from starter.sample_invoices import demo_samples
from tests.harness.mime_messages import authentication_results, invoice_mail
from workflows.mail_intake import MailIntakeWorkflow

Sessions = async_sessionmaker[AsyncSession]

SUPPLIER = "billing@lieferant.de"
INBOX_ADDRESS = "invoices@acme.example"
AUTHSERV_ID = "mx.acme.example"


def _write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret)


async def add_mailbox(
    sessions: Sessions,
    host: str,
    port: int,
    user: str,
    password: str,
    secrets_folder: Path,
    **settings: Any,
) -> MailboxRow:
    """acme's mailbox for `user`, with its password in a file the reference names."""
    password_file = secrets_folder / f"imap-{user}"
    await asyncio.to_thread(_write_secret, password_file, password)
    row = MailboxRow(
        org_id="acme",
        name=f"invoices-{user}",
        address=INBOX_ADDRESS,
        host=host,
        port=port,
        tls="none",
        username=user,
        password_ref=f"file:{password_file}",
        folder="INBOX",
        processed_folder="Processed",
        interval_seconds=60,
        batch_size=settings.pop("batch_size", 100),
        trusted_authserv_ids=[AUTHSERV_ID],
        **settings,
    )
    async with session_scope(sessions) as session:
        session.add(row)
    return row


async def set_screening(sessions: Sessions, rules: list[dict[str, str]], **limits: int) -> None:
    """acme's screening rules and attachment limits."""
    async with session_scope(sessions) as session:
        row = await session.get(MailScreening, "acme")
        values: dict[str, Any] = {
            "rules": rules,
            "max_attachment_bytes": limits.get("max_attachment_bytes", 5 * 2**20),
            "max_attachments": limits.get("max_attachments", 10),
        }
        if row is None:
            session.add(MailScreening(org_id="acme", **values))
        else:
            row.sqlmodel_update(values)
            session.add(row)


async def run_intake(
    client: Client, settings: Settings, mailbox_id: int, **options: Any
) -> MailIntakeResult:
    """One check of the mailbox, run to its end (continuing as new while batches are full)."""
    return await client.execute_workflow(
        MailIntakeWorkflow.run,
        MailIntakeInput(org="acme", mailbox_id=mailbox_id, **options),
        id=f"{mail_intake_workflow_id('acme', mailbox_id)}-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queues().workflows,
    )


def supplier_results(domain: str = "lieferant.de", **results: str) -> list[str]:
    """What acme's receiving server wrote about a mail from `domain`."""
    return [authentication_results(AUTHSERV_ID, domain=domain, **results)]


def invoice_message(suffix: str, *, sender: str = SUPPLIER, **headers: Any) -> bytes:
    """A mail from the supplier carrying a matched invoice under the threshold."""
    invoice = demo_samples(suffix)["matched-under-threshold"]
    domain = sender.rpartition("@")[2]
    headers.setdefault("authentication_results", supplier_results(domain))
    return invoice_mail(
        sender,
        INBOX_ADDRESS,
        f"Invoice {invoice.number}",
        [(f"Rechnung {invoice.number}.pdf", invoice.pdf())],
        **headers,
    )
