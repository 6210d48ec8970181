"""The baseline benchmark: floor-chain throughput and signal latency on an embedded dev server.

Run `python -m bench.baseline [--runs 200 --activities 10 --concurrency 20 --signals 200
--rate 12] [--json]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib.metadata import version

from bench.floor import (
    ChainFigures,
    LatencyFigures,
    embedded_dev_server,
    floor_worker,
    measure_floor_chain,
    measure_signal_latency,
)
from starter.temporal_server import temporal_binary

log = logging.getLogger("bench.baseline")

TASK_QUEUE = "bench-floor"
WARMUP_SIGNALS = 20


@dataclass(frozen=True)
class MachineFacts:
    """What the figures were measured on."""

    cores: int
    platform: str
    python: str
    temporalio_sdk: str
    temporal_cli: str
    temporal_server: str


@dataclass(frozen=True)
class BaselineFigures:
    """Everything one baseline run measured."""

    machine: MachineFacts
    floor_chain: ChainFigures
    signal_latency: LatencyFigures


def machine_facts() -> MachineFacts:
    """Cores, Python, and the SDK, CLI and server versions of this machine."""
    output = subprocess.run(
        [str(temporal_binary()), "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    cli = re.search(r"version (\S+)", output)
    server = re.search(r"Server ([^,)\s]+)", output)
    return MachineFacts(
        cores=os.cpu_count() or 0,
        platform=platform.platform(),
        python=platform.python_version(),
        temporalio_sdk=version("temporalio"),
        temporal_cli=cli.group(1) if cli else "unknown",
        temporal_server=server.group(1) if server else "unknown",
    )


async def run_baseline(options: argparse.Namespace, machine: MachineFacts) -> BaselineFigures:
    """Start the dev server and a worker, warm up, then measure the floor."""
    rate: float | None = options.rate or None
    async with embedded_dev_server() as client, floor_worker(client, TASK_QUEUE):
        log.info("warming up: %s runs, %s signals", options.warmup, WARMUP_SIGNALS)
        await measure_floor_chain(
            client,
            task_queue=TASK_QUEUE,
            activities_per_run=options.activities,
            runs=options.warmup,
            concurrency=options.concurrency,
        )
        await measure_signal_latency(
            client, task_queue=TASK_QUEUE, samples=WARMUP_SIGNALS, rate_per_second=rate
        )
        log.info("measuring the floor chain: %s runs", options.runs)
        chain = await measure_floor_chain(
            client,
            task_queue=TASK_QUEUE,
            activities_per_run=options.activities,
            runs=options.runs,
            concurrency=options.concurrency,
        )
        log.info("measuring signal latency: %s signals", options.signals)
        signals = await measure_signal_latency(
            client, task_queue=TASK_QUEUE, samples=options.signals, rate_per_second=rate
        )
    return BaselineFigures(machine=machine, floor_chain=chain, signal_latency=signals)


def format_table(figures: BaselineFigures) -> str:
    """The figures as a table a person can compare run to run."""
    machine, chain, signals = figures.machine, figures.floor_chain, figures.signal_latency
    pace = f"at {signals.rate_per_second:g}/s" if signals.rate_per_second else "one at a time"
    rows = [
        "Baton baseline (floor) benchmark",
        f"  machine       {machine.cores} cores, {machine.platform}, Python {machine.python}",
        f"  temporal      server {machine.temporal_server} (dev server, SQLite WAL), "
        f"CLI {machine.temporal_cli}, SDK temporalio {machine.temporalio_sdk}",
        "",
        f"floor chain: {chain.runs} runs x {chain.activities_per_run} no-op activities, "
        f"{chain.concurrency} at a time",
        f"  {'runs/s':<22}{chain.runs_per_second:>10.2f}",
        f"  {'activities/s':<22}{chain.activities_per_second:>10.1f}",
        f"  {'run latency p50':<22}{chain.p50_ms:>10.1f} ms",
        f"  {'run latency p99':<22}{chain.p99_ms:>10.1f} ms",
        f"  {'completed':<22}{chain.completed:>10} of {chain.runs} in {chain.elapsed_s:.1f} s",
        "",
        f"signal to completion: {signals.samples} signals {pace}",
        f"  {'p50':<22}{signals.p50_ms:>10.1f} ms",
        f"  {'p95':<22}{signals.p95_ms:>10.1f} ms",
        f"  {'p99':<22}{signals.p99_ms:>10.1f} ms",
        f"  {'max':<22}{signals.max_ms:>10.1f} ms",
        f"  {'completed':<22}{signals.completed:>10} of {signals.samples}",
    ]
    return "\n".join(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="floor-chain runs measured")
    parser.add_argument("--activities", type=int, default=10, help="no-op activities per run")
    parser.add_argument("--concurrency", type=int, default=20, help="runs in flight at once")
    parser.add_argument("--signals", type=int, default=200, help="signal-latency samples")
    parser.add_argument(
        "--rate", type=float, default=12.0, help="signals per second (0: one after another)"
    )
    parser.add_argument("--warmup", type=int, default=20, help="floor-chain runs to warm up")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the baseline benchmark and print its figures; 0 when every run completed."""
    options = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(message)s",
        stream=sys.stderr if options.json else sys.stdout,
    )
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    machine = machine_facts()
    log.info("starting the dev server (SQLite WAL in a temp dir)")
    figures = asyncio.run(run_baseline(options, machine))
    if options.json:
        sys.stdout.write(json.dumps(asdict(figures)) + "\n")
    else:
        log.info("\n%s", format_table(figures))
    complete = (
        figures.floor_chain.completed == figures.floor_chain.runs
        and figures.signal_latency.completed == figures.signal_latency.samples
    )
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
