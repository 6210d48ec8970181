"""AP run throughput: full AP runs of a text PDF on the auto-approve path against the floor chain.

Run `python -m bench.ap_invoice [--runs 60 --concurrency 20] [--json]`.

Everything runs in this process on an embedded dev server: the product's real workers for every
queue role (temp SQLite database with the demo data, local files, a capturing SMTP server).
Each run gets its own sample invoice (a text PDF from the demo supplier against PO-1001, under
the auto-approve threshold), so extraction, the PO look-up, verification, the duplicate claim,
the ERP export and the completion mail all really happen. The floor chain runs the same number
of no-op activities per run (counted from a finished AP run's history), with the same runs and
concurrency, in the same process and on the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from temporalio.client import Client

from bench.baseline import MachineFacts, machine_facts
from bench.floor import (
    ChainFigures,
    bounded_gather,
    embedded_dev_server,
    floor_worker,
    measure_floor_chain,
    percentile,
)
from bench.product_stack import product_stack
from config.settings import Settings
from starter.sample_invoices import demo_samples
from tests.workflows.ap_scenarios import Sessions, start_invoice

log = logging.getLogger("bench.ap_invoice")

FLOOR_QUEUE = "bench-ap-floor"


@dataclass(frozen=True)
class ApFigures:
    """Throughput and latency of AP runs on the auto-approve path."""

    runs: int
    concurrency: int
    posted: int
    activities_per_run: int
    elapsed_s: float
    runs_per_second: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class ApBenchFigures:
    """AP runs and the floor chain, measured in the same run."""

    machine: MachineFacts
    ap_runs: ApFigures
    floor_chain: ChainFigures

    @property
    def ratio(self) -> float:
        """AP runs per second as a share of the floor chain's."""
        return self.ap_runs.runs_per_second / self.floor_chain.runs_per_second


async def activities_in(client: Client, workflow_id: str) -> int:
    """How many activities a finished run scheduled."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return sum(
        1 for event in history.events if event.HasField("activity_task_scheduled_event_attributes")
    )


async def measure_ap_runs(
    client: Client, settings: Settings, sessions: Sessions, runs: int, concurrency: int
) -> tuple[ApFigures, str]:
    """Start `runs` AP runs of distinct invoices, at most `concurrency` at a time."""
    token = uuid.uuid4().hex[:6]
    pdfs = [
        demo_samples(f"-B{token}-{number}")["matched-under-threshold"].pdf()
        for number in range(runs)
    ]
    posted = 0
    last_id = ""

    def one(pdf: bytes) -> Callable[[], Awaitable[float]]:
        async def run() -> float:
            nonlocal posted, last_id
            started = time.perf_counter()
            handle = await start_invoice(client, settings, sessions, pdf)
            result = await handle.result()
            if result.outcome == "posted":
                posted += 1
                last_id = handle.id
            else:
                log.warning("run %s ended %s: %s", handle.id, result.outcome, result.reason)
            return time.perf_counter() - started

        return run

    started = time.perf_counter()
    latencies = await bounded_gather([one(pdf) for pdf in pdfs], concurrency)
    elapsed = time.perf_counter() - started
    count = await activities_in(client, last_id) if last_id else 0
    return (
        ApFigures(
            runs=runs,
            concurrency=concurrency,
            posted=posted,
            activities_per_run=count,
            elapsed_s=elapsed,
            runs_per_second=runs / elapsed,
            p50_ms=percentile(latencies, 50) * 1000,
            p99_ms=percentile(latencies, 99) * 1000,
        ),
        last_id,
    )


async def run_bench(options: argparse.Namespace) -> ApBenchFigures:
    """Warm up, measure the AP runs, then the floor chain with as many activities."""
    async with (
        embedded_dev_server() as client,
        product_stack(client) as product,
        floor_worker(client, FLOOR_QUEUE),
    ):
        settings, sessions = product.settings, product.sessions
        await measure_ap_runs(client, settings, sessions, options.warmup, options.concurrency)
        ap, _ = await measure_ap_runs(client, settings, sessions, options.runs, options.concurrency)
        floor = await measure_floor_chain(
            client,
            task_queue=FLOOR_QUEUE,
            activities_per_run=ap.activities_per_run,
            runs=options.runs,
            concurrency=options.concurrency,
        )
        return ApBenchFigures(machine=machine_facts(), ap_runs=ap, floor_chain=floor)


def format_table(figures: ApBenchFigures) -> str:
    """The figures as a few lines of text."""
    ap, floor = figures.ap_runs, figures.floor_chain
    return "\n".join(
        [
            f"machine: {figures.machine.cores} cores, {figures.machine.temporal_server}",
            f"AP runs (auto-approve, text PDF): {ap.runs} runs, {ap.activities_per_run} "
            f"activities each, concurrency {ap.concurrency}, posted {ap.posted}",
            f"  {ap.runs_per_second:.2f} runs/s, latency p50 {ap.p50_ms:.0f} ms, "
            f"p99 {ap.p99_ms:.0f} ms",
            f"floor chain, same runs and activities: {floor.runs_per_second:.2f} runs/s, "
            f"p50 {floor.p50_ms:.0f} ms, p99 {floor.p99_ms:.0f} ms",
            f"AP throughput = {figures.ratio:.2f} x floor (target >= 0.70)",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    options = parse_args(argv)
    figures = asyncio.run(run_bench(options))
    if options.json:
        sys.stdout.write(json.dumps({**asdict(figures), "ratio": figures.ratio}, indent=2) + "\n")
    else:
        sys.stdout.write(format_table(figures) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
