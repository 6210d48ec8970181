"""Run list queries: org first, every value checked before it is quoted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.run_search import RunFilters, literal, runs_query


def test_the_org_always_comes_first_and_values_are_quoted() -> None:
    filters = RunFilters(
        process="leave_request",
        assignee="liam.walker@acme.example",
        state="waiting",
        started_from=datetime(2027, 1, 1, tzinfo=UTC),
    )
    query = runs_query("acme", filters, involving="emma.schmidt@acme.example", stages=["hr"])
    assert query == (
        "BatonOrg = 'acme' AND BatonProcess = 'leave_request'"
        " AND BatonAssignees = 'liam.walker@acme.example' AND BatonRunState = 'waiting'"
        " AND ExecutionStatus = 'Running' AND StartTime >= '2027-01-01T00:00:00Z'"
        " AND (BatonStage = 'hr')"
        " AND (BatonInitiator = 'emma.schmidt@acme.example'"
        " OR BatonAssignees = 'emma.schmidt@acme.example')"
    )


@pytest.mark.parametrize("value", ["x' OR 'a'='a", 'x"', "a\\b", "a b", "", "x)", "é"])
def test_values_that_could_break_out_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a safe filter value"):
        literal(value)
