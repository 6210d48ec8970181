"""Every recorded history still replays against today's workflow code (determinism guard)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.registry import WORKFLOWS, workflow_runner

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def _workflow_type(path: Path) -> str:
    events = json.loads(path.read_text())["events"]
    started = events[0]["workflowExecutionStartedEventAttributes"]
    return str(started["workflowType"]["name"])


def test_every_workflow_type_has_recorded_histories() -> None:
    recorded = {_workflow_type(path) for path in HISTORIES}
    missing = {workflow.__name__ for workflow in WORKFLOWS} - recorded
    assert not missing, f"record histories for {sorted(missing)}: python -m tests.histories.record"


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_history_replays(path: Path) -> None:
    history = _history(path)
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
