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

from activities.approval_links import (
    ExpiredApprovalLink,
    InvalidApprovalLink,
    read_approval_token,
)
from activities.link_decisions import apply_decision, run_view
from activities.link_state import LinkState, judge_link
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.run_access import person_of
from models.approvals import RunView

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
    view = await run_view(client, claims)
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
    view = await run_view(client, claims)
    if view is None or not hmac.compare_digest(csrf, expected):
        return _page(request, status.HTTP_403_FORBIDDEN, message=NOT_VALID)
    if claims.action not in ("review", decision):
        return _page(request, status.HTTP_403_FORBIDDEN, message=NOT_VALID)
    actor = await person_of(session, claims.org, claims.approver_id)
    if actor is None:
        state = judge_link(view, claims)
        return _state_page(request, view, state, status.HTTP_409_CONFLICT)
    outcome = await apply_decision(client, claims, actor, decision, comment)
    if outcome.verdict == "done":
        return _page(
            request, status.HTTP_200_OK, view=outcome.view, message=outcome.message, verdict="done"
        )
    if outcome.task_state is not None and outcome.view is not None:
        return _state_page(request, outcome.view, outcome.task_state, status.HTTP_409_CONFLICT)
    if outcome.verdict == "unknown_run":
        return _page(request, status.HTTP_404_NOT_FOUND, message=NOT_VALID)
    return _page(
        request, status.HTTP_422_UNPROCESSABLE_CONTENT, view=outcome.view, message=outcome.message
    )
