"""Decide an approval task on behalf of a link or a reply: one validated path for both.

The caller has already proved who acts (a signed link, or a reply from the assignee's own
address carrying the email's reply token). This checks the claims against the run's current
state (task still pending, same assignment, that approver), sends the decision through the run's
`decide` update, and reports what really happened, including a concurrent decision that won.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.approval_links import ApprovalLinkClaims
from activities.link_state import LinkState, judge_link
from models.approvals import DecisionRequest, Person, RunView

logger = logging.getLogger(__name__)

DecisionVerdict = Literal["done", "decided", "moved", "closed", "refused", "unknown_run"]


@dataclass(frozen=True)
class DecisionOutcome:
    """What became of a decision: `done`, or why not, in words for the person."""

    verdict: DecisionVerdict
    message: str
    view: RunView | None = None
    task_state: LinkState | None = None


async def run_view(client: Client, claims: ApprovalLinkClaims) -> RunView | None:
    """The run the claims name, if it exists and belongs to their org."""
    try:
        view: RunView = await client.get_workflow_handle(claims.run).query(
            "view", result_type=RunView
        )
    except RPCError:
        return None
    return view if view.org == claims.org else None


async def apply_decision(
    client: Client,
    claims: ApprovalLinkClaims,
    actor: Person,
    decision: Literal["approve", "reject"],
    comment: str,
) -> DecisionOutcome:
    """Decide the claims' task as `actor`, if the task is still theirs to decide."""
    view = await run_view(client, claims)
    if view is None:
        return DecisionOutcome("unknown_run", "The request this refers to does not exist.")
    state = judge_link(view, claims)
    if state.verdict != "open":
        return DecisionOutcome(state.verdict, state.message, view, state)
    handle = client.get_workflow_handle(claims.run)
    try:
        after: RunView = await handle.execute_update(
            "decide",
            DecisionRequest(actor=actor, decision=decision, comment=comment),
            result_type=RunView,
        )
    except WorkflowUpdateFailedError as error:
        return await _refusal(client, claims, error)
    logger.info("%s %sd %s (%s)", actor.email, decision, claims.run, claims.step)
    return DecisionOutcome("done", "Approved" if decision == "approve" else "Rejected", after)


async def _refusal(
    client: Client, claims: ApprovalLinkClaims, error: WorkflowUpdateFailedError
) -> DecisionOutcome:
    """A refused decision: a concurrent one that won, or the run's own reason."""
    view = await run_view(client, claims)
    if view is not None:
        state = judge_link(view, claims)
        if state.verdict != "open":
            return DecisionOutcome(state.verdict, state.message, view, state)
    cause = error.cause if isinstance(error.cause, ApplicationError) else None
    return DecisionOutcome("refused", cause.message if cause else "The decision was refused.", view)
