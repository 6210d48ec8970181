"""The floor's measuring code runs against a real dev server and returns sane figures."""

from __future__ import annotations

from uuid import uuid4

import pytest
from temporalio.client import Client

from bench.floor import (
    floor_worker,
    measure_floor_chain,
    measure_signal_latency,
    of_floor,
    percentile,
)


@pytest.fixture
def task_queue() -> str:
    """A task queue of this test's own, so no other worker takes its tasks."""
    return f"bench-floor-test-{uuid4().hex[:8]}"


async def test_floor_chain_completes_every_run(temporal_client: Client, task_queue: str) -> None:
    async with floor_worker(temporal_client, task_queue):
        figures = await measure_floor_chain(
            temporal_client, task_queue=task_queue, activities_per_run=3, runs=4, concurrency=2
        )
    assert (figures.runs, figures.activities_per_run, figures.concurrency) == (4, 3, 2)
    assert figures.completed == 4
    assert figures.elapsed_s > 0
    assert figures.runs_per_second > 0
    assert figures.activities_per_second == pytest.approx(3 * figures.runs_per_second)
    assert 0 < figures.p50_ms <= figures.p99_ms


@pytest.mark.parametrize("rate", [None, 20.0])
async def test_signal_latency_completes_every_sample(
    temporal_client: Client, task_queue: str, rate: float | None
) -> None:
    async with floor_worker(temporal_client, task_queue):
        figures = await measure_signal_latency(
            temporal_client, task_queue=task_queue, samples=5, rate_per_second=rate
        )
    assert (figures.samples, figures.rate_per_second, figures.completed) == (5, rate, 5)
    assert 0 < figures.p50_ms <= figures.p95_ms <= figures.p99_ms <= figures.max_ms


async def test_ids_are_unique_per_call(temporal_client: Client, task_queue: str) -> None:
    async with floor_worker(temporal_client, task_queue):
        for _ in range(2):
            figures = await measure_floor_chain(
                temporal_client, task_queue=task_queue, activities_per_run=0, runs=2, concurrency=2
            )
            assert figures.completed == 2


def test_percentile_is_nearest_rank() -> None:
    values = [float(value) for value in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_of_floor_prints_the_ratio() -> None:
    assert of_floor(42.0, 100.0) == "0.42 of floor"
    assert of_floor(3.0, 0.0) == "n/a of floor"
