"""What an approval link can still do, judged against the run's current state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from activities.approval_links import ApprovalLinkClaims
from models.approvals import Person, RunView, TaskView

LinkVerdict = Literal["open", "decided", "moved", "closed"]


@dataclass(frozen=True)
class LinkState:
    """The verdict on a link, with the words a person reads on the page."""

    verdict: LinkVerdict
    message: str
    task: TaskView | None = None


def _names(people: list[Person]) -> str:
    return ", ".join(person.name for person in people) or "someone else"


def judge_link(view: RunView, claims: ApprovalLinkClaims) -> LinkState:
    """Whether the link's approver may still act on its task, and if not, why not."""
    task = next((t for t in reversed(view.tasks) if t.step == claims.step), None)
    if task is not None and task.status in ("approved", "rejected") and task.decided_by:
        when = task.decided_at.strftime("%Y-%m-%d %H:%M UTC") if task.decided_at else ""
        return LinkState(
            "decided", f"Already {task.status} by {task.decided_by.name} at {when}".strip(), task
        )
    if view.outcome is not None or task is None or task.status != "pending":
        outcome = view.outcome or (task.status if task else "closed")
        return LinkState("closed", f"This request is closed ({outcome}).", task)
    holds = any(person.id == claims.approver_id for person in task.assignees)
    if not holds or view.current_assignment(claims.step) != claims.assignment:
        return LinkState(
            "moved",
            f"This task moved to {_names(task.assignees)}; this link no longer works.",
            task,
        )
    return LinkState("open", "", task)
