"""The decision-latency benchmark runs end to end with a handful of decisions (no timing checks)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from temporalio.client import Client

from bench.baseline import MachineFacts
from bench.decisions import DecisionBenchFigures, format_table, measure_against_floor, parse_args


async def test_a_few_decisions_each_reach_the_next_assignee(
    temporal_client: Client, tmp_path: Path
) -> None:
    options = parse_args(["--decisions", "4", "--signals", "4", "--warmup", "1", "--rate", "20"])

    floor, decisions = await measure_against_floor(temporal_client, tmp_path, options)

    assert (decisions.decisions, decisions.accepted, decisions.completed) == (4, 4, 4)
    assert 0 < decisions.p50_ms <= decisions.p95_ms <= decisions.p99_ms <= decisions.max_ms
    assert 0 < decisions.rest_p50_ms <= decisions.rest_p99_ms
    assert (floor.samples, floor.completed, floor.rate_per_second) == (4, 4, 20.0)
    machine = MachineFacts(2, "test", "3.11", "1.35", "1.9", "1.32")
    figures = DecisionBenchFigures(machine, floor, decisions)
    table = format_table(figures)
    assert "decisions at 20/s" in table
    assert "of floor" in table
    assert json.loads(json.dumps(asdict(figures)))["decision_latency"]["completed"] == 4


@pytest.mark.parametrize("argv", [["--decisions", "0"], ["--rate", "0"], ["--warmup", "-1"]])
def test_nonsense_sizes_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
