"""Whether an approval link still works, judged against the run's state."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from activities.approval_links import ApprovalLinkClaims
from activities.link_state import judge_link
from models.approvals import Person, RunView, TaskView, Transition

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
EMMA = Person(id=1, email="emma@acme.example", name="Emma Schmidt", org="acme")
LIAM = Person(id=2, email="liam@acme.example", name="Liam Walker", org="acme")
SOFIA = Person(id=3, email="sofia@acme.example", name="Sofia Rossi", org="acme")


def view(*transitions: Transition, task: TaskView, outcome: str | None = None) -> RunView:
    return RunView(
        workflow_id="acme:leave_request:1",
        org="acme",
        process="leave_request",
        initiator=EMMA,
        stage=task.step,
        tasks=[task],
        transitions=list(transitions),
        outcome=outcome,
    )


def assigned(to: Person, kind: str = "assigned", minutes: int = 0) -> Transition:
    return Transition(
        at=START + timedelta(minutes=minutes), step="manager", kind=kind, assignees=[to]
    )


def link(approver: Person, assignment: int) -> ApprovalLinkClaims:
    return ApprovalLinkClaims(
        org="acme",
        run="acme:leave_request:1",
        step="manager",
        task="manager",
        assignment=assignment,
        approver_id=approver.id,
        action="approve",
        expires_at=int(time.time()) + 600,
    )


def pending(holder: Person) -> TaskView:
    return TaskView(step="manager", assignees=[holder], started_at=START)


def test_the_current_holder_may_act() -> None:
    run = view(assigned(LIAM), task=pending(LIAM))
    assert run.current_assignment("manager") == 1
    assert judge_link(run, link(LIAM, 1)).verdict == "open"


def test_a_decided_task_says_by_whom_and_when() -> None:
    task = pending(LIAM).model_copy(
        update={
            "status": "approved",
            "decided_by": LIAM,
            "decided_at": START.replace(hour=10, minute=42),
        }
    )
    state = judge_link(view(assigned(LIAM), task=task), link(LIAM, 1))
    assert state.verdict == "decided"
    assert state.message == "Already approved by Liam Walker at 2026-11-20 10:42 UTC"


def test_an_escalated_task_kills_the_old_link_and_names_the_new_holder() -> None:
    run = view(assigned(LIAM), assigned(SOFIA, "escalated", 5), task=pending(SOFIA))
    state = judge_link(run, link(LIAM, 1))
    assert state.verdict == "moved"
    assert state.message == "This task moved to Sofia Rossi; this link no longer works."
    assert judge_link(run, link(SOFIA, 2)).verdict == "open"


def test_a_task_reassigned_away_and_back_does_not_revive_old_links() -> None:
    run = view(
        assigned(LIAM),
        assigned(SOFIA, "reassigned", 1),
        assigned(LIAM, "reassigned", 2),
        task=pending(LIAM),
    )
    assert judge_link(run, link(LIAM, 1)).verdict == "moved"
    assert judge_link(run, link(LIAM, 3)).verdict == "open"


def test_an_ended_run_is_closed() -> None:
    task = pending(LIAM).model_copy(update={"status": "cancelled"})
    state = judge_link(view(assigned(LIAM), task=task, outcome="withdrawn"), link(LIAM, 1))
    assert state.verdict == "closed"
    assert "withdrawn" in state.message
