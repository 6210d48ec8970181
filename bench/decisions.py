"""Decision latency: a manager's REST decision to the next assignee's "Please decide" email.

Run `python -m bench.decisions [--decisions 120 --rate 12 --signals 120 --warmup 12] [--json]`.

Everything runs in this process on an embedded dev server: the product's real workers for every
queue role (temp SQLite database with the demo data), the API app over httpx's ASGI transport,
and an SMTP server that timestamps each message as it arrives. Leave requests are created first
and each waits on its manager step; then the manager's approvals go out over REST at a fixed
rate, and each is timed from sending the request to the SMTP server receiving HR's "Please
decide" email for that run. The bare signal-to-completion floor is measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import httpx
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from temporalio.client import Client

from api.main import create_app
from api.state import AppState
from bench.baseline import MachineFacts, machine_facts
from bench.floor import (
    LatencyFigures,
    bounded_gather,
    embedded_dev_server,
    floor_worker,
    measure_signal_latency,
    of_floor,
    percentile,
)
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
from starter.demo_data import DEMO_PASSWORD, EMPLOYEE, HR_OFFICER, MANAGER, load_demo_data
from worker import build_activity_deps, build_workers

log = logging.getLogger("bench.decisions")

T = TypeVar("T")

BASE_URL = "http://baton.bench"
FIRST_DAY = date(2030, 1, 7)
START_CONCURRENCY = 8
IDLE_CONCURRENCY = 20
SETTLE_TIMEOUT_S = 120.0
MAIL_TIMEOUT_S = 60.0
ASSIGNED_EVENT = "task_assigned"
RUN_ID = re.compile(r"acme:leave_request:[0-9a-f-]{36}")


@dataclass(frozen=True)
class DecisionFigures:
    """Decision-to-email latency of runs that were already waiting on their manager."""

    decisions: int
    rate_per_second: float
    accepted: int
    completed: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    rest_p50_ms: float
    rest_p99_ms: float


@dataclass(frozen=True)
class DecisionBenchFigures:
    """Everything one decisions run measured."""

    machine: MachineFacts
    floor_signal_latency: LatencyFigures
    decision_latency: DecisionFigures


# -- the SMTP server that timestamps what it receives ---------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server received it, with `time.perf_counter()` at receipt."""

    received_at: float
    rcpt_tos: list[str]
    raw: bytes


class TimestampingHandler:
    """An aiosmtpd handler that keeps each message and the moment its data arrived."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mail: list[ReceivedMail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message; the clock is read before anything else is done with it."""
        received_at = time.perf_counter()
        raw = bytes(envelope.original_content or envelope.content)
        with self._lock:
            self._mail.append(ReceivedMail(received_at, list(envelope.rcpt_tos), raw))
        return "250 Message accepted for delivery"

    def since(self, start: int) -> list[ReceivedMail]:
        """The messages received after the first `start` ones, oldest first."""
        with self._lock:
            return self._mail[start:]


class AssignmentMail:
    """When each run's first "Please decide" email reached each recipient.

    Messages are parsed once, outside the SMTP server's thread, and only when asked, so
    looking does not compete with the workers for the CPU while decisions are measured.
    """

    def __init__(self, handler: TimestampingHandler) -> None:
        self._handler = handler
        self._parsed = 0
        self._first: dict[tuple[str, str], float] = {}

    def times(self, recipient: str) -> dict[str, float]:
        """Receipt times of the recipient's assignment emails, by run id."""
        for received in self._handler.since(self._parsed):
            self._parsed += 1
            run_id = assigned_run(received.raw)
            if run_id is None:
                continue
            for to in received.rcpt_tos:
                self._first.setdefault((to, run_id), received.received_at)
        return {run: at for (to, run), at in self._first.items() if to == recipient}


def assigned_run(raw: bytes) -> str | None:
    """The run id of a "Please decide" (task assigned) email, None for any other message."""
    message = message_from_bytes(raw, policy=policy.default)
    if not isinstance(message, EmailMessage) or message["X-Baton-Event"] != ASSIGNED_EVENT:
        return None
    body = message.get_body(preferencelist=("plain",))
    found = RUN_ID.search(str(body.get_content())) if body is not None else None
    return found.group(0) if found else None


@contextmanager
def smtp_capture() -> Iterator[tuple[TimestampingHandler, int]]:
    """A timestamping SMTP server on 127.0.0.1 (its own thread): the handler and the port."""
    handler = TimestampingHandler()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


# -- the product, in this process ------------------------------------------------------------


def bench_settings(scratch: Path, smtp_port: int, token: str) -> Settings:
    """Settings for the bench: a temp SQLite file and files, mail to the capturing server,
    task queues of this measurement's own."""
    return Settings(
        _env_file=None,
        data_dir=scratch / "data",
        temporal=TemporalSettings(task_queue_prefix=f"bench-{token}-"),
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{scratch / 'baton.db'}"),
        storage=StorageSettings(backend="local", local_root=scratch / "files"),
        mail=MailSettings(
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_security="none",
            smtp_timeout_seconds=10.0,
            sender="Baton <baton@baton.bench>",
        ),
        security=SecuritySettings(secret_key=SecretStr(secrets.token_urlsafe(48))),
        api=ApiSettings(public_url=BASE_URL),
    )


@dataclass
class BatonStack:
    """The API client, the captured mail and the people of the measured runs."""

    http: httpx.AsyncClient
    mail: AssignmentMail
    employee: dict[str, str]
    manager: dict[str, str]
    next_day: int = 0


@asynccontextmanager
async def baton_stack(client: Client, scratch: Path, token: str) -> AsyncIterator[BatonStack]:
    """The API app and the product's workers for every queue role, with the demo data."""
    with smtp_capture() as (handler, port):
        settings = bench_settings(scratch, port, token)
        app = create_app(settings, client)
        async with app.router.lifespan_context(app), AsyncExitStack() as stack:
            state: AppState = app.state.baton
            await load_demo_data(state.sessions)
            executor = stack.enter_context(
                ThreadPoolExecutor(max_workers=settings.worker.max_concurrent_activities)
            )
            deps = build_activity_deps(settings, state.sessions)
            for worker in build_workers(client, QUEUE_ROLES, deps, executor):
                await stack.enter_async_context(worker)
            transport = httpx.ASGITransport(app=app)
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=60.0)
            )
            yield BatonStack(
                http=http,
                mail=AssignmentMail(handler),
                employee=await bearer_of(http, EMPLOYEE.email),
                manager=await bearer_of(http, MANAGER.email),
            )


async def bearer_of(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    """The Authorization header of a demo user, logged in over REST."""
    response = await http.post("/auth/login", data={"username": email, "password": DEMO_PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# -- leave requests waiting on their manager -------------------------------------------------


async def waiting_requests(stack: BatonStack, client: Client, count: int) -> list[str]:
    """Start `count` one-day leave requests (each on a day of its own) and return their ids
    once every one waits on the manager step: manager's email sent, nothing pending."""

    def start(day: date) -> Callable[[], Awaitable[str]]:
        async def start_one() -> str:
            body = {"leave_type": "annual", "from": day.isoformat(), "to": day.isoformat()}
            response = await stack.http.post("/leave-requests", json=body, headers=stack.employee)
            if response.status_code != 201:
                raise RuntimeError(f"leave request refused: {response.text}")
            workflow_id: str = response.json()["workflow_id"]
            return workflow_id

        return start_one

    days = [FIRST_DAY + timedelta(days=stack.next_day + number) for number in range(count)]
    stack.next_day += count
    workflow_ids = await bounded_gather([start(day) for day in days], START_CONCURRENCY)
    await _until(
        lambda: _mailed(stack, MANAGER.email, workflow_ids), "every manager was told to decide"
    )
    idle = [_idle_check(client, workflow_id) for workflow_id in workflow_ids]
    await bounded_gather(idle, IDLE_CONCURRENCY)
    return workflow_ids


async def _mailed(stack: BatonStack, recipient: str, workflow_ids: list[str]) -> bool:
    return set(workflow_ids) <= set(stack.mail.times(recipient))


def _idle_check(client: Client, workflow_id: str) -> Callable[[], Awaitable[None]]:
    async def idle() -> None:
        async def settled() -> bool:
            raw = (await client.get_workflow_handle(workflow_id).describe()).raw_description
            return not raw.HasField("pending_workflow_task") and not raw.pending_activities

        await _until(settled, f"{workflow_id} waits on its manager")

    return idle


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {SETTLE_TIMEOUT_S:g}s: {what}")
        await asyncio.sleep(0.05)


# -- the measurement --------------------------------------------------------------------------


async def measure_decisions(
    stack: BatonStack, workflow_ids: list[str], rate_per_second: float
) -> DecisionFigures:
    """Approve each waiting run over REST on a fixed schedule; time each to HR's email."""
    sent_at: dict[str, float] = {}
    rest_s: list[float] = []

    async def decide(workflow_id: str) -> bool:
        sent_at[workflow_id] = started = time.perf_counter()
        response = await stack.http.post(
            f"/runs/{workflow_id}/decision", json={"decision": "approve"}, headers=stack.manager
        )
        rest_s.append(time.perf_counter() - started)
        if response.status_code != 200:
            log.warning("decision on %s answered %s", workflow_id, response.status_code)
        return response.status_code == 200

    loop = asyncio.get_running_loop()
    begin = loop.time()
    pending: list[asyncio.Task[bool]] = []
    for number, workflow_id in enumerate(workflow_ids):
        await asyncio.sleep(max(0.0, begin + number / rate_per_second - loop.time()))
        pending.append(asyncio.create_task(decide(workflow_id)))
    accepted = sum(await asyncio.gather(*pending))
    received = await _hr_mail(stack, workflow_ids)
    latencies = [received[wid] - sent_at[wid] for wid in workflow_ids if wid in received]
    if not latencies:
        raise RuntimeError("no decision led to an email to the next assignee")
    return DecisionFigures(
        decisions=len(workflow_ids),
        rate_per_second=rate_per_second,
        accepted=accepted,
        completed=len(latencies),
        p50_ms=percentile(latencies, 50) * 1000,
        p95_ms=percentile(latencies, 95) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies) * 1000,
        rest_p50_ms=percentile(rest_s, 50) * 1000,
        rest_p99_ms=percentile(rest_s, 99) * 1000,
    )


async def _hr_mail(stack: BatonStack, workflow_ids: list[str]) -> dict[str, float]:
    """HR's "Please decide" email times by run, once all arrived (or the wait is over)."""
    deadline = time.monotonic() + MAIL_TIMEOUT_S
    while True:
        received = stack.mail.times(HR_OFFICER.email)
        missing = [wid for wid in workflow_ids if wid not in received]
        if not missing:
            return received
        if time.monotonic() > deadline:
            log.warning("%d decision(s) got no email to HR in time", len(missing))
            return received
        await asyncio.sleep(0.05)


async def measure_against_floor(
    client: Client, scratch: Path, options: argparse.Namespace
) -> tuple[LatencyFigures, DecisionFigures]:
    """Warm up, create the waiting runs, then measure the floor and the decisions back to back."""
    token = uuid4().hex[:8]
    floor_queue = f"bench-floor-{token}"
    async with baton_stack(client, scratch, token) as stack:
        if options.warmup:
            log.info("warming up: %s decisions and signals", options.warmup)
            warm = await waiting_requests(stack, client, options.warmup)
            await measure_decisions(stack, warm, options.rate)
        log.info("starting %s leave requests and waiting for their managers", options.decisions)
        workflow_ids = await waiting_requests(stack, client, options.decisions)
        async with floor_worker(client, floor_queue):
            if options.warmup:
                await measure_signal_latency(
                    client,
                    task_queue=floor_queue,
                    samples=options.warmup,
                    rate_per_second=options.rate,
                )
            log.info("measuring the floor: %s signals at %g/s", options.signals, options.rate)
            floor = await measure_signal_latency(
                client,
                task_queue=floor_queue,
                samples=options.signals,
                rate_per_second=options.rate,
            )
        log.info("measuring decisions: %s at %g/s", options.decisions, options.rate)
        decisions = await measure_decisions(stack, workflow_ids, options.rate)
    return floor, decisions


async def run_decisions(options: argparse.Namespace, machine: MachineFacts) -> DecisionBenchFigures:
    """Start the dev server, then measure."""
    with tempfile.TemporaryDirectory(prefix="baton-bench-decisions-") as scratch:
        async with embedded_dev_server() as client:
            floor, decisions = await measure_against_floor(client, Path(scratch), options)
    return DecisionBenchFigures(
        machine=machine, floor_signal_latency=floor, decision_latency=decisions
    )


# -- reporting ----------------------------------------------------------------------------------


def format_table(figures: DecisionBenchFigures) -> str:
    """The figures as a table a person can compare run to run."""
    machine, floor, decisions = (
        figures.machine,
        figures.floor_signal_latency,
        figures.decision_latency,
    )
    rows = [
        "Baton decision latency benchmark",
        f"  machine       {machine.cores} cores, {machine.platform}, Python {machine.python}",
        f"  temporal      server {machine.temporal_server} (dev server, SQLite WAL), "
        f"CLI {machine.temporal_cli}, SDK temporalio {machine.temporalio_sdk}",
        "",
        f"REST decision -> next assignee's email: {decisions.decisions} decisions at "
        f"{decisions.rate_per_second:g}/s; floor: {floor.samples} signals at "
        f"{floor.rate_per_second or 0:g}/s",
        f"  {'':<12}{'decision':>12}{'floor':>12}",
    ]
    for name in ("p50", "p95", "p99", "max"):
        value, base = getattr(decisions, f"{name}_ms"), getattr(floor, f"{name}_ms")
        rows.append(f"  {name:<12}{value:>9.1f} ms{base:>9.1f} ms   {of_floor(value, base)}")
    rows += [
        f"  {'completed':<12}{decisions.completed:>12}{floor.completed:>12}   "
        f"of {decisions.decisions} / {floor.samples}",
        f"  {'accepted':<12}{decisions.accepted:>12}   REST answer p50 "
        f"{decisions.rest_p50_ms:.1f} ms, p99 {decisions.rest_p99_ms:.1f} ms",
    ]
    return "\n".join(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.decisions", description=__doc__)
    parser.add_argument("--decisions", type=int, default=120, help="manager decisions measured")
    parser.add_argument("--rate", type=float, default=12.0, help="decisions (and signals) per s")
    parser.add_argument("--signals", type=int, default=120, help="floor signal-latency samples")
    parser.add_argument("--warmup", type=int, default=12, help="decisions and signals to warm up")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    options = parser.parse_args(argv)
    if options.decisions < 1 or options.signals < 1 or options.rate <= 0 or options.warmup < 0:
        parser.error("--decisions and --signals must be >= 1, --rate > 0, --warmup >= 0")
    return options


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; 0 when every decision led to its email."""
    options = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(message)s",
        stream=sys.stderr if options.json else sys.stdout,
    )
    for chatty in ("temporalio", "worker", "activities", "mail.log", "httpx", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    machine = machine_facts()
    log.info("starting the dev server (SQLite WAL in a temp dir)")
    figures = asyncio.run(run_decisions(options, machine))
    if options.json:
        sys.stdout.write(json.dumps(asdict(figures)) + "\n")
    else:
        log.info("\n%s", format_table(figures))
    decisions, floor = figures.decision_latency, figures.floor_signal_latency
    complete = (
        decisions.accepted == decisions.completed == decisions.decisions
        and floor.completed == floor.samples
    )
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
