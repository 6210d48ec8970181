"""The steps that bring the local stack up: Temporal, database, demo data, then the servers."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import make_url
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from config.settings import Settings
from config.temporal_client import connect_temporal
from db.engine import create_engine, session_factory
from db.migrate import migrate
from starter.demo_data import load_demo_data
from starter.dev_ports import (
    LOOPBACK,
    PortInUse,
    check_ports_free,
    is_loopback,
    port_is_free,
    probe_host,
    service_ports,
    temporal_port,
)
from starter.dev_processes import ProcessRunner
from starter.mail_schedules import sync_configured_schedules
from starter.search_attributes import register_search_attributes
from starter.temporal_server import dev_server_command

logger = logging.getLogger("starter.dev")

TEMPORAL_READY_SECONDS = 60.0
API_READY_SECONDS = 120.0


class StartupFailed(RuntimeError):
    """The stack could not come up; the message says why and what to change."""


@dataclass(frozen=True)
class StackPlan:
    """Where the local stack's parts listen and what its children's environment adds."""

    settings: Settings
    temporal_address: str
    temporal_ui_url: str
    api_url: str
    mail_inbox_url: str
    with_mail_catcher: bool
    env_overrides: Mapping[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> StackPlan:
        """The plan for these settings: Temporal and the servers on this machine."""
        dev = settings.dev
        # The stack applies the migrations once before it starts the children.
        overrides = {"PYTHONUNBUFFERED": "1", "BATON_DATABASE__MIGRATE_ON_START": "false"}
        address = settings.temporal.address
        host, _, port = address.rpartition(":")
        if not (is_loopback(host) and port == str(dev.temporal_port)):
            address = f"localhost:{dev.temporal_port}"
            overrides["BATON_TEMPORAL__ADDRESS"] = address
        ui_url = settings.temporal.ui_url
        ui = urlsplit(ui_url)
        if is_loopback(ui.hostname or "") and ui.port != dev.temporal_ui_port:
            ui_url = f"http://localhost:{dev.temporal_ui_port}"
            overrides["BATON_TEMPORAL__UI_URL"] = ui_url
        api_host = probe_host(settings.api.host)
        shown_api_host = "localhost" if api_host == LOOPBACK else api_host
        return cls(
            settings=settings,
            temporal_address=address,
            temporal_ui_url=ui_url,
            api_url=f"http://{shown_api_host}:{settings.api.port}",
            mail_inbox_url=f"http://localhost:{dev.mail_catcher_port}",
            with_mail_catcher=is_loopback(settings.mail.smtp_host),
            env_overrides=overrides,
        )

    @property
    def stack_settings(self) -> Settings:
        """The settings as the children see them (with the stack's Temporal address)."""
        temporal = self.settings.temporal.model_copy(
            update={"address": self.temporal_address, "ui_url": self.temporal_ui_url}
        )
        return self.settings.model_copy(update={"temporal": temporal})

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of every child: this process's, plus the stack's additions."""
        return {**(os.environ if base is None else base), **self.env_overrides}


async def _temporal_answers(settings: Settings, *, within: float) -> bool:
    """Whether a Temporal server answers at the settings' address with their namespace."""
    try:
        client = await asyncio.wait_for(connect_temporal(settings), within)
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=settings.temporal.namespace),
            timeout=timedelta(seconds=within),
        )
    except Exception:
        return False
    return True


async def check_ports(plan: StackPlan) -> bool:
    """Refuses taken ports with a clear message; True when a Temporal server is already up."""
    settings = plan.stack_settings
    grpc = temporal_port(settings)
    reuse_temporal = False
    if not port_is_free(grpc.host, grpc.port):
        if not await _temporal_answers(settings, within=3.0):
            raise PortInUse(
                f"port {grpc.port} for the Temporal server is in use by a program that is not "
                f"a Temporal server. Stop that program, or choose another port with "
                f"{grpc.setting}=... in the environment or in .env"
            )
        reuse_temporal = True
        logger.info("a Temporal server already answers at %s: using it", plan.temporal_address)
    ports = service_ports(
        settings, with_temporal_ui=not reuse_temporal, with_mail=plan.with_mail_catcher
    )
    check_ports_free([grpc, *ports] if not reuse_temporal else ports)
    return reuse_temporal


async def start_temporal(plan: StackPlan, runner: ProcessRunner) -> None:
    """Starts the dev server persisting to data/temporal/temporal.db."""
    settings = plan.settings
    db_file = settings.data_dir / "temporal" / "temporal.db"
    command = dev_server_command(
        db_file=db_file, port=settings.dev.temporal_port, ui_port=settings.dev.temporal_ui_port
    )
    if settings.temporal.namespace != "default":
        command += ["--namespace", settings.temporal.namespace]
    logger.info(
        "starting the Temporal dev server on %s (runs kept in %s)", plan.temporal_address, db_file
    )
    await runner.start("temporal", command, shutdown_order=1)


async def wait_for_temporal(plan: StackPlan) -> None:
    """Waits until a client connects and the namespace answers; registers search attributes."""
    settings = plan.stack_settings
    started = time.monotonic()
    deadline = started + TEMPORAL_READY_SECONDS
    while not await _temporal_answers(settings, within=5.0):
        if time.monotonic() > deadline:
            raise StartupFailed(
                f"Temporal did not answer at {plan.temporal_address} "
                f"within {TEMPORAL_READY_SECONDS:.0f} s"
            )
        await asyncio.sleep(0.5)
    client = await connect_temporal(settings)
    added = await register_search_attributes(client, settings.temporal.namespace)
    if added:
        logger.info("registered search attributes: %s", ", ".join(added))
    logger.info(
        "Temporal is ready at %s, namespace %s (%.1f s)",
        plan.temporal_address,
        settings.temporal.namespace,
        time.monotonic() - started,
    )


async def prepare_database(plan: StackPlan) -> None:
    """Applies the migrations and, unless switched off, loads the demo data."""
    settings = plan.settings
    url = make_url(settings.database.url).render_as_string(hide_password=True)
    logger.info("applying database migrations to %s", url)
    engine = create_engine(settings.database.url, echo=settings.database.echo)
    try:
        await migrate(engine)
        if settings.dev.load_demo_data:
            await load_demo_data(session_factory(engine))
        else:
            logger.info("demo data not loaded (BATON_DEV__LOAD_DEMO_DATA=false)")
    finally:
        await engine.dispose()


async def start_servers(plan: StackPlan, runner: ProcessRunner) -> None:
    """Starts the mail catcher, one worker per queue group, and the API."""
    python = sys.executable
    settings = plan.settings
    if plan.with_mail_catcher:
        logger.info(
            "starting the mail catcher (SMTP %s:%s, inbox %s)",
            settings.mail.smtp_host,
            settings.mail.smtp_port,
            plan.mail_inbox_url,
        )
        await runner.start("mail", [python, "-m", "starter.mail_catcher"])
    else:
        logger.info(
            "outgoing mail goes to %s:%s (no mail catcher)",
            settings.mail.smtp_host,
            settings.mail.smtp_port,
        )
    for queue in dict.fromkeys(settings.worker.queues):
        logger.info("starting a worker for the %s queue group", queue)
        await runner.start(f"worker:{queue}", [python, "-m", "worker", "--queues", queue])
    logger.info("starting the API on %s", plan.api_url)
    await runner.start("api", [python, "-m", "api"])


async def wait_for_api(plan: StackPlan) -> None:
    """Waits until GET /health on the API answers 200."""
    url = f"http://{probe_host(plan.settings.api.host)}:{plan.settings.api.port}/health"
    started = time.monotonic()
    last = "no answer yet"
    async with httpx.AsyncClient(timeout=5.0) as http:
        while time.monotonic() - started < API_READY_SECONDS:
            try:
                response = await http.get(url)
                if response.status_code == 200:
                    logger.info("API is healthy (%.1f s)", time.monotonic() - started)
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}"
            await asyncio.sleep(0.5)
    raise StartupFailed(f"{url} did not answer 200 within {API_READY_SECONDS:.0f} s ({last})")


def ensure_data_dir(settings: Settings) -> Path:
    """Creates the data folder (and Temporal's inside it); its absolute path."""
    (settings.data_dir / "temporal").mkdir(parents=True, exist_ok=True)
    return settings.data_dir.resolve()


async def bring_up(plan: StackPlan, runner: ProcessRunner) -> None:
    """Every startup step in order; raises `StartupFailed` or `PortInUse` when one fails."""
    logger.info("data folder: %s", ensure_data_dir(plan.settings))
    for name, value in plan.env_overrides.items():
        if name.startswith("BATON_"):
            logger.info("children use %s=%s (from the dev ports)", name, value)
    if not await check_ports(plan):
        await start_temporal(plan, runner)
    await wait_for_temporal(plan)
    await prepare_database(plan)
    synced = await sync_configured_schedules(plan.stack_settings)
    logger.info("%d mailbox schedule(s) in step with the database", synced)
    await start_servers(plan, runner)
    await wait_for_api(plan)
