"""Who may see and act on a run: org scoping, the caller as a Person, refusals as HTTP answers.

A run is found through its workflow id (`<org>:<process>:<key>`): another org's id, an unknown
id and a run the caller has no part in all answer the same 404. The caller may see a run when
they started it, hold or held one of its tasks, watch it, may claim its waiting task (the step's
claim rule in the org's template), or hold an org-wide role (HR, admin, operator).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import HTTPException, status
from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.directory import as_person
from activities.process_templates import effective_policies, org_override
from api.deps import Principal
from db.tables import Department, User
from models.ap_invoice import ApSettings
from models.approvals import ClaimRule, HumanStepConfig, Person, RunView
from models.leave import LeaveSettings
from workflows.ap_invoice import APPROVAL_STEP, EXCEPTION_STEP, OPERATOR_STEP, numbered

logger = logging.getLogger(__name__)

ORG_READERS = ("hr", "admin", "operator")
"""Roles that see every run of their org."""

NO_SUCH_RUN = "No such run"
QUERY_TIMEOUT = timedelta(seconds=10)
"""How long a run may take to answer its view (a worker must be up to answer)."""
UPDATE_TIMEOUT = timedelta(seconds=30)
"""How long a run may take to accept or refuse a request."""
CLOSED = "This request is already closed"

REFUSAL_STATUS: dict[str, int] = {
    "RequestRefused": status.HTTP_409_CONFLICT,
    "NotPermitted": status.HTTP_403_FORBIDDEN,
    "InvalidRequest": status.HTTP_422_UNPROCESSABLE_CONTENT,
}
"""HTTP status per refusal type a workflow raises; an unlisted type answers 409."""


def _leave_steps(settings: dict[str, Any]) -> dict[str, HumanStepConfig]:
    leave = LeaveSettings.model_validate(settings)
    return {"manager": leave.manager, "hr": leave.hr}


AP_STEP_NUMBERS = range(1, 10)
"""The numbered human steps of an AP run the API knows: `exception`..`exception_9` and so on."""


def _ap_steps(settings: dict[str, Any]) -> dict[str, HumanStepConfig]:
    """Exception and operator tasks by their configs; `approval_n` by the n-th level of the
    first band that has one (only its claim rule matters here; the run applies its own band)."""
    ap = ApSettings.model_validate(settings)
    steps: dict[str, HumanStepConfig] = {}
    for number in AP_STEP_NUMBERS:
        steps[numbered(EXCEPTION_STEP, number)] = ap.exception
        steps[numbered(OPERATOR_STEP, number)] = ap.operator
        levels = [
            band.levels[number - 1] for band in ap.approval_bands if len(band.levels) >= number
        ]
        level = levels[0] if levels else ap.approval_bands[-1].levels[-1]
        steps[f"{APPROVAL_STEP}_{number}"] = level.step
    return steps


HUMAN_STEPS = {"leave_request": _leave_steps, "ap_invoice": _ap_steps}
"""Processes run on the human step (their runs answer the `view` query), and their steps."""


def not_found() -> HTTPException:
    """The one answer for a run the caller may not know about."""
    return HTTPException(status.HTTP_404_NOT_FOUND, NO_SUCH_RUN)


def closed() -> HTTPException:
    """The answer to a request sent to a run that has its outcome."""
    return HTTPException(status.HTTP_409_CONFLICT, CLOSED)


def run_org_and_process(workflow_id: str) -> tuple[str, str] | None:
    """The org and process a workflow id names, if it has the `<org>:<process>:<key>` shape."""
    org, process, key = [*workflow_id.split(":", 2), "", ""][:3]
    return (org, process) if org and process and key else None


async def person_of(session: AsyncSession, org: str, user_id: int) -> Person | None:
    """An active member of the org as the workflows know them (department and roles included)."""
    query = (
        select(User, Department.name)
        .join(Department, col(User.department_id) == col(Department.id), isouter=True)
        .where(User.id == user_id, User.org_id == org, col(User.active).is_(True))
    )
    row = (await session.exec(query)).first()
    return as_person(row[0], row[1]) if row else None


async def caller(session: AsyncSession, principal: Principal) -> Person:
    """The caller as the acting Person of a request (never taken from a request body)."""
    person = await person_of(session, principal.org_id, principal.user_id)
    if person is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated")
    return person


async def step_configs(session: AsyncSession, org: str, process: str) -> dict[str, HumanStepConfig]:
    """The human steps of a process as the org's template sets them now."""
    steps = HUMAN_STEPS.get(process)
    if steps is None:
        return {}
    stored = await org_override(session, org, process)
    try:
        return steps(effective_policies(process, stored.body_yaml if stored else None).settings)
    except ValueError as error:  # a pydantic ValidationError is a ValueError
        logger.warning("the %s template of %s is invalid: %s", process, org, error)
        return {}


def claim_allows(rules: dict[str, HumanStepConfig], step: str, person: Person) -> bool:
    """Whether the step's claim rule lets the person take its task."""
    config = rules.get(step)
    rule = config.claim if config else ClaimRule()
    return rule.allows(person)


def involved(view: RunView, person_id: int) -> bool:
    """Whether the person started, holds, held, decided, moved, commented on or watches the run."""
    people = [view.initiator, *view.watchers, *(comment.actor for comment in view.comments)]
    for task in view.tasks:
        people += task.assignees
        people += [task.decided_by] if task.decided_by else []
    for transition in view.transitions:
        people += transition.assignees
        people += [transition.actor] if transition.actor else []
    return any(person.id == person_id for person in people)


@dataclass
class OpenRun:
    """A run the caller may see: its handle, its view, and the caller as a Person."""

    handle: WorkflowHandle[Any, Any]
    view: RunView
    actor: Person


async def open_run(
    client: Client, session: AsyncSession, principal: Principal, workflow_id: str
) -> OpenRun:
    """The run if the caller may see it; 404 for anything else, learning nothing."""
    named = run_org_and_process(workflow_id)
    if named is None or named[0] != principal.org_id or named[1] not in HUMAN_STEPS:
        raise not_found()
    handle = client.get_workflow_handle(workflow_id)
    try:
        view = await handle.query("view", result_type=RunView, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise not_found() from error
        logger.warning("run %s did not answer its view: %s", workflow_id, error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "The run cannot answer right now; try again"
        ) from error
    except WorkflowQueryFailedError as error:
        logger.warning("run %s answered no view: %s", workflow_id, error)
        raise not_found() from error
    if view.org != principal.org_id:
        raise not_found()
    actor = await caller(session, principal)
    if principal.has_any(ORG_READERS) or involved(view, actor.id):
        return OpenRun(handle, view, actor)
    task = view.current
    if task is not None and claim_allows(
        await step_configs(session, view.org, view.process), task.step, actor
    ):
        return OpenRun(handle, view, actor)
    raise not_found()


async def send_update(run: OpenRun, update: str, request: BaseModel) -> RunView:
    """Execute one of the run's Updates; refusals and closed runs become HTTP answers."""
    if run.view.outcome is not None:
        raise closed()
    try:
        view: RunView = await run.handle.execute_update(
            update, request, result_type=RunView, rpc_timeout=UPDATE_TIMEOUT
        )
    except WorkflowUpdateFailedError as error:
        raise refusal(error) from error
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise closed() from error
        logger.warning("run %s did not answer %s: %s", run.handle.id, update, error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "The run did not answer in time; check it before sending this again",
        ) from error
    return view


def refusal(error: WorkflowUpdateFailedError) -> HTTPException:
    """The HTTP answer to a refused Update, carrying the workflow's reason."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        code = REFUSAL_STATUS.get(cause.type or "", status.HTTP_409_CONFLICT)
        return HTTPException(code, cause.message)
    logger.warning("an update failed without a reason: %s", cause)
    return HTTPException(status.HTTP_409_CONFLICT, "The request was refused")
