"""`python -m worker`: run Baton's workers for the configured task queues.

Each queue group can run in its own process (`--queues documents`), so a stage scales by
starting more processes on one machine or many.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.worker import Worker

from activities.ap_invoice import ApInvoiceActivities
from activities.directory import DirectoryActivities
from activities.documents import DocumentActivities
from activities.erp.activity import ErpActivities
from activities.extraction.activity import ExtractionActivities
from activities.leave import LeaveActivities
from activities.mail_intake.activity import MailIntakeActivities
from activities.notify import NotifyActivities
from activities.process_templates import ProcessTemplateActivities
from activities.reference_data import ReferenceDataActivities
from activities.retry_notices import RetryNoticeInterceptor
from activities.storage import ObjectStore, build_object_store
from config.logging_setup import configure_logging
from config.secrets import SecretResolver
from config.settings import Settings, get_settings
from config.temporal_client import connect_temporal
from config.temporal_names import QUEUE_ROLES, QueueRole
from db.engine import create_engine, session_factory
from db.migrate import migrate
from workflows.registry import WORKFLOWS, workflow_runner

logger = logging.getLogger("worker")


@dataclass
class ActivityDeps:
    """What activities are built from, once per worker process."""

    settings: Settings
    notify: NotifyActivities
    templates: ProcessTemplateActivities
    store: ObjectStore
    directory: DirectoryActivities
    leave: LeaveActivities
    reference: ReferenceDataActivities
    erp: ErpActivities
    ap_invoice: ApInvoiceActivities
    extraction: ExtractionActivities
    mail_intake: MailIntakeActivities


def activities_for(role: QueueRole, deps: ActivityDeps) -> list[Callable[..., Any]]:
    """The activities a worker on this kind of queue runs."""
    if role == "io":
        return [
            deps.notify.send_email,
            deps.templates.load_process_policies,
            deps.directory.resolve_assignees,
            deps.directory.find_person,
            deps.directory.find_manager,
            deps.leave.leave_balance,
            deps.leave.find_overlapping_leave,
            deps.leave.record_approved_leave,
            deps.reference.find_supplier,
            deps.reference.org_buyer_names,
            deps.reference.find_purchase_order,
            deps.reference.find_goods_receipt,
            deps.reference.claim_invoice_number,
            deps.reference.release_invoice_claim,
            deps.erp.post_invoice_to_erp,
            deps.erp.fetch_purchase_order_from_erp,
            deps.erp.fetch_goods_receipt_from_erp,
            deps.ap_invoice.store_invoice_manifest,
            deps.ap_invoice.fetch_purchase_order,
            deps.ap_invoice.verify_invoice,
            deps.mail_intake.list_unseen_messages,
            deps.mail_intake.take_in_messages,
        ]
    if role == "documents":
        return [DocumentActivities(deps.store).inspect_pdf, deps.extraction.extract_invoice]
    return []


def build_workers(
    client: Client, roles: Sequence[QueueRole], deps: ActivityDeps, executor: ThreadPoolExecutor
) -> list[Worker]:
    """One worker per queue, with the workflows or activities that queue carries."""
    interceptors = [RetryNoticeInterceptor(deps.notify.send_email)]
    queues = deps.settings.task_queues()
    workers = []
    for role in roles:
        workers.append(
            Worker(
                client,
                task_queue=queues.name(role),
                workflows=WORKFLOWS if role == "workflows" else [],
                activities=activities_for(role, deps),
                activity_executor=executor,
                interceptors=interceptors,
                max_concurrent_activities=deps.settings.worker.max_concurrent_activities,
                max_concurrent_workflow_tasks=deps.settings.worker.max_concurrent_workflow_tasks,
                sticky_queue_schedule_to_start_timeout=timedelta(
                    seconds=deps.settings.worker.sticky_timeout_seconds
                ),
                workflow_runner=workflow_runner(),
            )
        )
    return workers


def build_activity_deps(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> ActivityDeps:
    """The activity classes of one worker process."""
    store = build_object_store(settings)
    reference = ReferenceDataActivities(sessions)
    secrets = SecretResolver(settings.secrets)
    erp = ErpActivities(store, reference.erp_config_for_org, secrets)
    return ActivityDeps(
        settings=settings,
        notify=NotifyActivities(settings, sessions),
        templates=ProcessTemplateActivities(sessions),
        store=store,
        directory=DirectoryActivities(sessions),
        leave=LeaveActivities(sessions),
        reference=reference,
        erp=erp,
        ap_invoice=ApInvoiceActivities(store, reference, erp),
        extraction=ExtractionActivities(store),
        mail_intake=MailIntakeActivities(settings, sessions, store, secrets),
    )


async def run_workers(settings: Settings, roles: Sequence[QueueRole]) -> None:
    """Run workers for the queues until SIGINT or SIGTERM."""
    engine = create_engine(settings.database.url, echo=settings.database.echo)
    if settings.database.migrate_on_start:
        await migrate(engine)
    deps = build_activity_deps(settings, session_factory(engine))
    client = await connect_temporal(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with ThreadPoolExecutor(max_workers=settings.worker.max_concurrent_activities) as executor:
        workers = build_workers(client, roles, deps, executor)
        tasks = [asyncio.create_task(worker.run()) for worker in workers]
        logger.info("polling %s", ", ".join(worker.task_queue for worker in workers))
        await stop.wait()
        logger.info("stopping workers")
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        await asyncio.gather(*tasks, return_exceptions=True)
    await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    """Parse `--queues` and run the workers."""
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--queues",
        default=",".join(settings.worker.queues),
        help="comma-separated queue groups: workflows, documents, io",
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.queues.split(",") if name.strip()]
    unknown = [name for name in names if name not in QUEUE_ROLES]
    if unknown or not names:
        parser.error(f"unknown queue groups {unknown}; choose from {', '.join(QUEUE_ROLES)}")
    configure_logging(settings.log_level)
    roles = [role for role in QUEUE_ROLES if role in names]
    asyncio.run(run_workers(settings, roles))


if __name__ == "__main__":
    main()
