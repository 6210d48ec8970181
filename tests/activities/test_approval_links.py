"""Approval link tokens: bound to their claims, unforgeable, and expiring."""

from __future__ import annotations

import time

import pytest

from activities.approval_links import (
    ApprovalLinkClaims,
    ExpiredApprovalLink,
    InvalidApprovalLink,
    approval_url,
    mint_approval_token,
    read_approval_token,
)
from activities.storage.links import sign_download_token

KEY = "k" * 48


def claims(**changes: object) -> ApprovalLinkClaims:
    base = ApprovalLinkClaims(
        org="acme",
        run="acme:leave_request:42",
        step="manager",
        task="manager#1",
        assignment=0,
        approver_id=7,
        action="approve",
        expires_at=int(time.time()) + 3600,
    )
    return base.model_copy(update=changes)


def test_a_token_reads_back_its_claims() -> None:
    token = mint_approval_token(KEY, claims())
    assert read_approval_token(KEY, token, time.time()) == claims()
    assert approval_url("http://baton.test/", token) == f"http://baton.test/approvals/{token}"


def test_two_links_of_one_task_differ_by_action() -> None:
    approve = mint_approval_token(KEY, claims())
    reject = mint_approval_token(KEY, claims(action="reject"))
    assert approve != reject


def test_a_token_with_changed_claims_is_refused() -> None:
    token = mint_approval_token(KEY, claims())
    payload, signature = token.split(".")
    other_payload = mint_approval_token(KEY, claims(approver_id=8)).split(".")[0]
    with pytest.raises(InvalidApprovalLink):
        read_approval_token(KEY, f"{other_payload}.{signature}", time.time())
    assert payload != other_payload


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "not base64!.sig", "x" * 5000],
    ids=["empty", "no-dot", "two-dots", "bad-chars", "huge"],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidApprovalLink):
        read_approval_token(KEY, token, time.time())


def test_a_token_from_another_key_or_of_another_kind_is_refused() -> None:
    with pytest.raises(InvalidApprovalLink):
        read_approval_token(KEY, mint_approval_token("z" * 48, claims()), time.time())
    download = sign_download_token(KEY, "acme/leave/42/a.pdf", int(time.time()) + 60)
    with pytest.raises(InvalidApprovalLink):
        read_approval_token(KEY, download, time.time())


def test_an_expired_token_says_so() -> None:
    token = mint_approval_token(KEY, claims(expires_at=int(time.time()) - 1))
    with pytest.raises(ExpiredApprovalLink):
        read_approval_token(KEY, token, time.time())
