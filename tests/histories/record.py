"""Record the histories of each workflow path: `python -m tests.histories.record`.

Runs each scenario on a throwaway dev server with the real workers, an SMTP server on
loopback and a SQLite database, then writes `tests/histories/<workflow>-<path>.json`.
Record again only for a new path or a new workflow (name the scenarios to record only them);
a changed workflow must replay the old files (guard the change with `workflow.patched`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config.settings import MailSettings, Settings, TemporalSettings
from config.temporal_names import QUEUE_ROLES, SEARCH_ATTRIBUTES
from db.engine import create_engine, session_factory
from db.migrate import migrate
from db.tables import ProcessTemplate
from models.mailboxes import mail_intake_workflow_id
from models.operations import MailCheckInput
from starter.demo_data import load_demo_data
from starter.temporal_server import temporal_binary
from tests.harness.dovecot import DovecotServer
from tests.harness.mime_messages import plain_mail
from tests.harness.ports import free_port
from tests.harness.smtp import SmtpServer
from tests.workflows import ap_scenarios, leave_scenarios, mail_scenarios
from worker import build_activity_deps, build_workers
from workflows.mail_check import MailCheckWorkflow

logger = logging.getLogger(__name__)
HISTORIES = Path(__file__).parent

Scenario = Callable[[Client, Settings], Awaitable[str]]


async def mail_check_delivered(client: Client, settings: Settings) -> str:
    """A test email that goes out."""
    handle = await client.start_workflow(
        MailCheckWorkflow.run,
        MailCheckInput(org="acme", to=["ops@acme.example"], requested_by="admin@acme.example"),
        id="acme:mail_check:recorded-delivered",
        task_queue=settings.task_queues().workflows,
    )
    await handle.result()
    return handle.id


async def mail_check_failed(client: Client, settings: Settings) -> str:
    """A test email whose send fails for good (the org allows no retries, nobody answers)."""
    handle = await client.start_workflow(
        MailCheckWorkflow.run,
        MailCheckInput(org="globex", to=["ops@globex.example"], requested_by="a@globex.example"),
        id="globex:mail_check:recorded-failed",
        task_queue=settings.task_queues().workflows,
    )
    await handle.result()
    return handle.id


def leave_request(path: leave_scenarios.Path, key: str) -> Scenario:
    """A leave request path (see tests/workflows/leave_scenarios.py), run to its end."""

    async def scenario(client: Client, settings: Settings) -> str:
        engine = create_engine(settings.database.url)
        try:
            handle = await path(
                client, settings.task_queues().workflows, session_factory(engine), key=key
            )
            await handle.result()
        finally:
            await engine.dispose()
        return handle.id

    return scenario


def ap_invoice(path: ap_scenarios.Path) -> Scenario:
    """An AP invoice path (see tests/workflows/ap_scenarios.py), run to its end."""

    async def scenario(client: Client, settings: Settings) -> str:
        engine = create_engine(settings.database.url)
        try:
            handle = await path(client, settings, session_factory(engine))
            await handle.result()
        finally:
            await engine.dispose()
        return handle.id

    return scenario


def mail_intake(deliver: list[bytes], *, wrong_password: bool = False, **options: Any) -> Scenario:
    """A check of a mailbox on a throwaway Dovecot server holding `deliver`, run to its end."""

    async def scenario(client: Client, settings: Settings) -> str:
        server = DovecotServer()
        server.start()
        engine = create_engine(settings.database.url)
        try:
            user = f"record{uuid.uuid4().hex[:8]}"
            server.add_user(user, "right-password")
            if deliver:
                server.append_many(user, "right-password", "INBOX", deliver)
            sessions = session_factory(engine)
            password = "wrong-password" if wrong_password else "right-password"
            with tempfile.TemporaryDirectory() as secrets_folder:
                mailbox = await mail_scenarios.add_mailbox(
                    sessions, server.host, server.port, user, password, Path(secrets_folder)
                )
                assert mailbox.id is not None
                try:
                    result = await mail_scenarios.run_intake(
                        client, settings, mailbox.id, **options
                    )
                    logger.info("intake: %s", result.handled)
                except WorkflowFailureError as error:
                    logger.info("intake failed as it should: %s", error.cause)
            return await _latest_intake_run(client, mailbox.id)
        finally:
            await engine.dispose()
            server.remove()

    return scenario


async def _latest_intake_run(client: Client, mailbox_id: int) -> str:
    prefix = mail_intake_workflow_id("acme", mailbox_id)
    async for execution in client.list_workflows(f"WorkflowId STARTS_WITH '{prefix}-'"):
        return execution.id
    raise LookupError(f"no intake run of mailbox {mailbox_id}")


def _mixed_mail() -> list[bytes]:
    token = uuid.uuid4().hex[:6]
    spoofed = mail_scenarios.supplier_results(dmarc="fail", spf="fail", dkim="fail")
    return [
        mail_scenarios.invoice_message(f"-rec{token}"),
        plain_mail(mail_scenarios.SUPPLIER, mail_scenarios.INBOX_ADDRESS, "Our new bank details"),
        mail_scenarios.invoice_message(f"-spoof{token}", authentication_results=spoofed),
    ]


SCENARIOS: dict[str, tuple[Scenario, bool]] = {
    "MailCheckWorkflow-delivered": (mail_check_delivered, True),
    "MailCheckWorkflow-failed": (mail_check_failed, False),
    "LeaveRequestWorkflow-approve": (
        leave_request(leave_scenarios.approve_path, "recorded-approve"),
        True,
    ),
    "LeaveRequestWorkflow-reject": (
        leave_request(leave_scenarios.reject_path, "recorded-reject"),
        True,
    ),
    "LeaveRequestWorkflow-withdraw": (
        leave_request(leave_scenarios.withdraw_path, "recorded-withdraw"),
        True,
    ),
    "LeaveRequestWorkflow-escalate": (
        leave_request(leave_scenarios.escalate_path, "recorded-escalate"),
        True,
    ),
    "LeaveRequestWorkflow-expire": (
        leave_request(leave_scenarios.expire_path, "recorded-expire"),
        True,
    ),
    "ApInvoiceWorkflow-auto-approve": (ap_invoice(ap_scenarios.auto_approve_path), True),
    "ApInvoiceWorkflow-exception": (ap_invoice(ap_scenarios.exception_path), True),
    "ApInvoiceWorkflow-duplicate": (ap_invoice(ap_scenarios.duplicate_path), True),
    "ApInvoiceWorkflow-broken-file": (ap_invoice(ap_scenarios.broken_file_path), True),
    "ApInvoiceWorkflow-operator-retry": (ap_invoice(ap_scenarios.operator_retry_path), True),
    "MailIntakeWorkflow-mixed": (mail_intake(_mixed_mail(), chunk_size=2), True),
    "MailIntakeWorkflow-continued": (mail_intake(_mixed_mail(), batch_size=2), True),
    "MailIntakeWorkflow-mailbox-refused": (mail_intake([], wrong_password=True), True),
}


async def _prepare_database(url: str) -> None:
    engine = create_engine(url)
    await migrate(engine)
    await load_demo_data(session_factory(engine))
    async with session_factory(engine)() as session:
        session.add(
            ProcessTemplate(
                org_id="globex",
                process="mail_check",
                body_yaml="steps: {send_test_email: {retry: {count: 0}}}",
            )
        )
        await session.commit()
    await engine.dispose()


async def record(only: list[str]) -> None:
    """Run every scenario (or those named) and write its history."""
    smtp = SmtpServer()
    smtp.start()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/baton.db"
        await _prepare_database(url)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal_binary()),
            port=free_port(),
            search_attributes=SEARCH_ATTRIBUTES,
            data_converter=pydantic_data_converter,
        )
        try:
            for name, (scenario, mail_up) in SCENARIOS.items():
                if only and name not in only:
                    continue
                settings = Settings(
                    _env_file=None,
                    data_dir=Path(folder),
                    database={"url": url},
                    storage={"backend": "local", "local_root": Path(folder) / "files"},
                    temporal=TemporalSettings(task_queue_prefix=f"record-{name}-"),
                    mail=MailSettings(
                        smtp_host=smtp.host, smtp_port=smtp.port if mail_up else free_port()
                    ),
                )
                engine = create_engine(url)
                deps = build_activity_deps(settings, session_factory(engine))
                with ThreadPoolExecutor(max_workers=4) as executor:
                    workers = build_workers(env.client, QUEUE_ROLES, deps, executor)
                    tasks = [asyncio.create_task(worker.run()) for worker in workers]
                    workflow_id = await scenario(env.client, settings)
                    await asyncio.gather(*(worker.shutdown() for worker in workers))
                    await asyncio.gather(*tasks)
                await engine.dispose()
                history = await env.client.get_workflow_handle(workflow_id).fetch_history()
                (HISTORIES / f"{name}.json").write_text(history.to_json())
                logger.info("recorded %s (%d events)", name, len(history.events))
        finally:
            await env.shutdown()
            smtp.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description="Record workflow histories for replay tests.")
    parser.add_argument("only", nargs="*", help="scenario names (default: all)")
    asyncio.run(record(parser.parse_args().only))
