"""Approval links from emails: GET shows the request and changes nothing; POST decides.

Mail scanners open every link, so only the form's POST acts, and it carries a CSRF token
derived from the link. The decision goes through the run's validated `decide` update, and
the page shows the real outcome: approved, already decided by whom and when, moved to
someone else, expired, or closed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.approval_links import (
    ApprovalLinkClaims,
    ExpiredApprovalLink,
    InvalidApprovalLink,
    read_approval_token,
)
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.pages.link_state import LinkState, judge_link
from api.run_access import person_of
from models.approvals import DecisionRequest, RunView

router = APIRouter(prefix="/approvals", tags=["approval links"], include_in_schema=False)
pages = Jinja2Templates(directory=Path(__file__).parent / "templates")
logger = logging.getLogger(__name__)

NOT_VALID = "This link is not valid."
EXPIRED = "This link has expired."


def csrf_token(secret_key: str, link_token: str) -> str:
    """The form token that proves a POST came from the page this link showed."""
    return hmac.new(secret_key.encode(), b"csrf:" + link_token.encode(), hashlib.sha256).hexdigest()


def _page(request: Request, code: int, **context: Any) -> HTMLResponse:
    return pages.TemplateResponse(request, "approval.html", context, status_code=code)


def _refusal(request: Request, error: InvalidApprovalLink) -> HTMLResponse:
    if isinstance(error, ExpiredApprovalLink):
        return _page(request, status.HTTP_410_GONE, message=EXPIRED)
    return _page(request, status.HTTP_404_NOT_FOUND, message=NOT_VALID)


async def _view(client: TemporalDep, claims: ApprovalLinkClaims) -> RunView | None:
    try:
        view: RunView = await client.get_workflow_handle(claims.run).query(
            "view", result_type=RunView
        )
    except RPCError:
        return None
    return view if view.org == claims.org else None


def _state_page(request: Request, view: RunView, state: LinkState, code: int) -> HTMLResponse:
    return _page(request, code, view=view, message=state.message, verdict=state.verdict)


@router.get("/{token}", response_class=HTMLResponse)
async def show(
    token: str, request: Request, client: TemporalDep, settings: SettingsDep
) -> HTMLResponse:
    """The request's summary and, while the task is open, the decision form."""
    try:
        claims = read_approval_token(settings.secret_key(), token, time.time())
    except InvalidApprovalLink as error:
        return _refusal(request, error)
    view = await _view(client, claims)
    if view is None:
        return _page(request, status.HTTP_404_NOT_FOUND, message=NOT_VALID)
    state = judge_link(view, claims)
    if state.verdict != "open":
        return _state_page(request, view, state, status.HTTP_200_OK)
    return _page(
        request,
        status.HTTP_200_OK,
        view=view,
        task=state.task,
        action=claims.action,
        csrf=csrf_token(settings.secret_key(), token),
        verdict="open",
    )


@router.post("/{token}", response_class=HTMLResponse)
async def decide(
    token: str,
    request: Request,
    decision: Annotated[Literal["approve", "reject"], Form()],
    csrf: Annotated[str, Form(max_length=128)],
    client: TemporalDep,
    settings: SettingsDep,
    session: SessionDep,
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> HTMLResponse:
    """Apply the decision through the run's validated update and show what really happened."""
    try:
        claims = read_approval_token(settings.secret_key(), token, time.time())
    except InvalidApprovalLink as error:
        return _refusal(request, error)
    expected = csrf_token(settings.secret_key(), token)
    view = await _view(client, claims)
    if view is None or not hmac.compare_digest(csrf, expected):
        return _page(request, status.HTTP_403_FORBIDDEN, message=NOT_VALID)
    if claims.action not in ("review", decision):
        return _page(request, status.HTTP_403_FORBIDDEN, message=NOT_VALID)
    state = judge_link(view, claims)
    actor = await person_of(session, claims.org, claims.approver_id)
    if state.verdict != "open" or actor is None:
        return _state_page(request, view, state, status.HTTP_409_CONFLICT)
    handle = client.get_workflow_handle(claims.run)
    try:
        after: RunView = await handle.execute_update(
            "decide",
            DecisionRequest(actor=actor, decision=decision, comment=comment),
            result_type=RunView,
        )
    except WorkflowUpdateFailedError as error:
        return await _after_refusal(request, client, claims, error)
    done = "Approved" if decision == "approve" else "Rejected"
    return _page(request, status.HTTP_200_OK, view=after, message=done, verdict="done")


async def _after_refusal(
    request: Request,
    client: TemporalDep,
    claims: ApprovalLinkClaims,
    error: WorkflowUpdateFailedError,
) -> HTMLResponse:
    """A refused decision: a concurrent one that won, or the run's own reason."""
    view = await _view(client, claims)
    if view is not None:
        state = judge_link(view, claims)
        if state.verdict != "open":
            return _state_page(request, view, state, status.HTTP_409_CONFLICT)
    cause = error.cause if isinstance(error.cause, ApplicationError) else None
    reason = cause.message if cause else "The decision was refused."
    return _page(request, status.HTTP_422_UNPROCESSABLE_CONTENT, view=view, message=reason)
