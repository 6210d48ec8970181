"""The floor: what the bare Temporal machinery costs, so other benchmarks can be read against it.

A later benchmark measures the floor in the same run, on the same server, and prints its own
figures next to it as "x.xx of floor" (see `of_floor`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, TypeAlias, TypeVar
from uuid import uuid4

from pydantic import BaseModel
from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client, WorkflowHandle
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.service import RPCError
    from temporalio.worker import Worker
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    from starter.temporal_server import dev_server_command

log = logging.getLogger(__name__)

T = TypeVar("T")

NAMESPACE = "default"
RUN_TIMEOUT = timedelta(minutes=10)
NOOP_TIMEOUT = timedelta(seconds=30)
SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 15.0
START_CONCURRENCY = 20
IDLE_TIMEOUT_S = 60.0


class FloorChainInput(BaseModel):
    """How many no-op activities one floor-chain run executes, one after another."""

    activities: int


class FloorChainResult(BaseModel):
    """How many activities the run completed."""

    activities: int


class NoOpInput(BaseModel):
    """The position of a no-op activity in its chain."""

    index: int


class NoOpResult(BaseModel):
    """The no-op activity's echo of its position."""

    index: int


class SignalWaitInput(BaseModel):
    """Starts a run that waits for one `release` signal."""

    sample: int


class ReleaseSignal(BaseModel):
    """The signal that lets a waiting run complete."""

    sample: int


class SignalWaitResult(BaseModel):
    """The sample the run was released for."""

    sample: int


@activity.defn
async def floor_noop(params: NoOpInput) -> NoOpResult:
    """An activity that does nothing: its cost is all scheduling, dispatch and completion."""
    return NoOpResult(index=params.index)


@workflow.defn
class FloorChainWorkflow:
    """Runs N no-op activities one after another and completes."""

    @workflow.run
    async def run(self, params: FloorChainInput) -> FloorChainResult:
        """Execute the chain."""
        for index in range(params.activities):
            await workflow.execute_activity(
                floor_noop, NoOpInput(index=index), start_to_close_timeout=NOOP_TIMEOUT
            )
        return FloorChainResult(activities=params.activities)


@workflow.defn
class SignalWaitWorkflow:
    """Waits for one `release` signal, then completes."""

    def __init__(self) -> None:
        self._released: ReleaseSignal | None = None

    @workflow.run
    async def run(self, params: SignalWaitInput) -> SignalWaitResult:
        """Wait for the signal."""
        await workflow.wait_condition(lambda: self._released is not None)
        return SignalWaitResult(sample=params.sample)

    @workflow.signal
    def release(self, params: ReleaseSignal) -> None:
        """Let the run complete."""
        self._released = params


SignalWaitHandle: TypeAlias = WorkflowHandle[SignalWaitWorkflow, SignalWaitResult]


@dataclass(frozen=True)
class ChainFigures:
    """Throughput and run latency of floor-chain runs."""

    runs: int
    activities_per_run: int
    concurrency: int
    completed: int
    elapsed_s: float
    runs_per_second: float
    activities_per_second: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class LatencyFigures:
    """Signal-to-completion latency of runs that were already waiting."""

    samples: int
    rate_per_second: float | None
    completed: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def percentile(values: list[float], percent: float) -> float:
    """The nearest-rank percentile of `values` (percent in 0..100)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def of_floor(value: float, floor: float) -> str:
    """`value` as a ratio to the same figure of the floor, e.g. "0.42 of floor"."""
    return f"{value / floor:.2f} of floor" if floor else "n/a of floor"


def _run_token() -> str:
    """A short token that makes workflow ids unique to one measurement."""
    return uuid4().hex[:12]


async def bounded_gather(tasks: list[Callable[[], Awaitable[T]]], concurrency: int) -> list[T]:
    """Await every task with at most `concurrency` in flight; their results in order."""
    slots = asyncio.Semaphore(concurrency)

    async def one(task: Callable[[], Awaitable[T]]) -> T:
        async with slots:
            return await task()

    return list(await asyncio.gather(*(one(task) for task in tasks)))


async def measure_floor_chain(
    client: Client,
    *,
    task_queue: str,
    activities_per_run: int,
    runs: int,
    concurrency: int,
) -> ChainFigures:
    """Run `runs` floor chains, at most `concurrency` at a time, and measure them."""
    if runs < 1 or activities_per_run < 0 or concurrency < 1:
        raise ValueError("runs and concurrency must be >= 1, activities_per_run >= 0")
    token = _run_token()
    completed = 0

    def chain(number: int) -> Callable[[], Awaitable[float]]:
        async def run_one() -> float:
            nonlocal completed
            started = time.perf_counter()
            result = await client.execute_workflow(
                FloorChainWorkflow.run,
                FloorChainInput(activities=activities_per_run),
                id=f"bench:floor-chain:{token}-{number}",
                task_queue=task_queue,
                execution_timeout=RUN_TIMEOUT,
            )
            elapsed = time.perf_counter() - started
            if result.activities == activities_per_run:
                completed += 1
            return elapsed

        return run_one

    started = time.perf_counter()
    latencies = await bounded_gather([chain(number) for number in range(runs)], concurrency)
    elapsed_s = time.perf_counter() - started
    return ChainFigures(
        runs=runs,
        activities_per_run=activities_per_run,
        concurrency=concurrency,
        completed=completed,
        elapsed_s=elapsed_s,
        runs_per_second=runs / elapsed_s,
        activities_per_second=runs * activities_per_run / elapsed_s,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
    )


async def _wait_until_idle(handle: SignalWaitHandle) -> None:
    """Return once the run has completed its first workflow task and waits for its signal."""
    deadline = time.monotonic() + IDLE_TIMEOUT_S
    while True:
        described = await handle.describe()
        raw = described.raw_description
        if described.history_length >= 4 and not raw.HasField("pending_workflow_task"):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{handle.id} is not waiting yet: does a worker poll its queue?")
        await asyncio.sleep(0.05)


async def _start_waiting_runs(
    client: Client, *, task_queue: str, samples: int
) -> list[SignalWaitHandle]:
    """Start `samples` signal-wait runs and return once every one of them is waiting."""
    token = _run_token()

    def start(sample: int) -> Callable[[], Awaitable[SignalWaitHandle]]:
        async def start_one() -> SignalWaitHandle:
            handle = await client.start_workflow(
                SignalWaitWorkflow.run,
                SignalWaitInput(sample=sample),
                id=f"bench:signal-wait:{token}-{sample}",
                task_queue=task_queue,
                execution_timeout=RUN_TIMEOUT,
            )
            await _wait_until_idle(handle)
            return handle

        return start_one

    return await bounded_gather([start(sample) for sample in range(samples)], START_CONCURRENCY)


async def measure_signal_latency(
    client: Client,
    *,
    task_queue: str,
    samples: int,
    rate_per_second: float | None,
) -> LatencyFigures:
    """Signal runs that already wait and time each from signal sent to result received.

    With a rate, signals are sent on a fixed schedule whether or not earlier ones have
    completed; without one, each signal is sent after the previous run's result arrived.
    """
    if samples < 1 or (rate_per_second is not None and rate_per_second <= 0):
        raise ValueError("samples must be >= 1 and rate_per_second > 0 when given")
    handles = await _start_waiting_runs(client, task_queue=task_queue, samples=samples)
    completed = 0

    async def sample_one(sample: int, handle: SignalWaitHandle) -> float:
        nonlocal completed
        started = time.perf_counter()
        await handle.signal(SignalWaitWorkflow.release, ReleaseSignal(sample=sample))
        result = await handle.result()
        elapsed = time.perf_counter() - started
        if result.sample == sample:
            completed += 1
        return elapsed

    latencies: list[float] = []
    if rate_per_second is None:
        for sample, handle in enumerate(handles):
            latencies.append(await sample_one(sample, handle))
    else:
        loop = asyncio.get_running_loop()
        begin = loop.time()
        pending: list[asyncio.Task[float]] = []
        for sample, handle in enumerate(handles):
            await asyncio.sleep(max(0.0, begin + sample / rate_per_second - loop.time()))
            pending.append(asyncio.create_task(sample_one(sample, handle)))
        latencies = list(await asyncio.gather(*pending))
    return LatencyFigures(
        samples=samples,
        rate_per_second=rate_per_second,
        completed=completed,
        p50_ms=percentile(latencies, 50) * 1000,
        p95_ms=percentile(latencies, 95) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies) * 1000,
    )


@asynccontextmanager
async def floor_worker(client: Client, task_queue: str) -> AsyncIterator[Worker]:
    """A running worker for the floor workflows and their no-op activity.

    Workflows run in the default sandbox. This module is passed through it, as Baton's workflow
    modules pass their models through, so no run pays for rebuilding the models and the
    measuring code kept here.
    """
    sandbox = SandboxRestrictions.default.with_passthrough_modules(__name__)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[FloorChainWorkflow, SignalWaitWorkflow],
        activities=[floor_noop],
        workflow_runner=SandboxedWorkflowRunner(restrictions=sandbox),
    )
    async with worker:
        yield worker


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _open_server_log(path: Path) -> IO[bytes]:
    """The file that receives the dev server's output."""
    return path.open("wb")


def _log_tail(path: Path, lines: int = 20) -> str:
    """The last lines the dev server wrote, to explain why it failed."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def _connect_when_ready(
    address: str, server: asyncio.subprocess.Process, server_log: Path
) -> Client:
    """Connect to the dev server once it serves the default namespace."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        if server.returncode is not None:
            raise RuntimeError(
                f"the dev server exited with code {server.returncode}:\n{_log_tail(server_log)}"
            )
        try:
            client = await Client.connect(
                address, namespace=NAMESPACE, data_converter=pydantic_data_converter
            )
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=NAMESPACE)
            )
            return client
        except (RuntimeError, RPCError) as error:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the dev server did not serve {address}:\n{_log_tail(server_log)}"
                ) from error
        await asyncio.sleep(0.2)


async def _stop_process_group(server: asyncio.subprocess.Process) -> None:
    """Stop the dev server and anything it started: SIGTERM, then SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(server.wait(), SERVER_STOP_TIMEOUT_S)
            return
        except TimeoutError:
            log.warning("the dev server did not stop on %s", sig.name)


@asynccontextmanager
async def embedded_dev_server() -> AsyncIterator[Client]:
    """A dev server started as `make dev` starts it (SQLite with WAL, in a temp dir)."""
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as scratch:
        directory = Path(scratch)
        port = _free_port()
        command = dev_server_command(db_file=directory / "temporal.db", port=port, headless=True)
        log_path = directory / "temporal.log"
        with _open_server_log(log_path) as server_log:
            server = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=server_log,
                stderr=server_log,
                start_new_session=True,
            )
            try:
                client = await _connect_when_ready(f"127.0.0.1:{port}", server, log_path)
                log.debug("dev server ready on port %s", port)
                yield client
            finally:
                await _stop_process_group(server)
