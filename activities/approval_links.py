"""Approval links: unguessable tokens bound to one org, run, task, approver and action.

A token only says who may do what on which task until when. Whether it still works is
decided against the run's current state when it is used: the task must still be pending,
held by that approver under the same assignment (a reassignment or escalation starts a new
one), so a link works once and dies with the task. Tokens are minted inside the activity
that sends the email, so they never appear in workflow history.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from activities.signed_tokens import BadToken, read_token, sign_token

_PURPOSE = b"baton.approval-link.v1"

LinkAction = Literal["approve", "reject", "review"]


class InvalidApprovalLink(ValueError):
    """The link is forged, malformed or not an approval link."""


class ExpiredApprovalLink(InvalidApprovalLink):
    """The link's lifetime (the step's deadline) has passed."""


class ApprovalLinkClaims(BaseModel):
    """What an approval link grants."""

    org: str = Field(min_length=1)
    run: str = Field(min_length=1, description="workflow id")
    step: str = Field(min_length=1)
    task: str = Field(min_length=1, description="identifies the task within the run")
    assignment: int = Field(ge=0, description="which assignment of the task the link belongs to")
    approver_id: int
    action: LinkAction
    expires_at: int = Field(description="Unix seconds")


def mint_approval_token(secret_key: str, claims: ApprovalLinkClaims) -> str:
    """A signed token for the claims."""
    return sign_token(secret_key, _PURPOSE, claims.model_dump())


def read_approval_token(secret_key: str, token: str, now: float) -> ApprovalLinkClaims:
    """The claims of a genuine, unexpired approval token."""
    try:
        claims = ApprovalLinkClaims.model_validate(read_token(secret_key, _PURPOSE, token))
    except (BadToken, ValidationError) as error:
        raise InvalidApprovalLink("this approval link is not valid") from error
    if claims.expires_at <= now:
        raise ExpiredApprovalLink("this link has expired")
    return claims


def approval_url(public_url: str, token: str) -> str:
    """Where an approval link points: a page that shows the request and changes nothing."""
    return f"{public_url.rstrip('/')}/approvals/{token}"
