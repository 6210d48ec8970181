"""Approval links from the emails: safe to open, decide once, and die with their task.

Emma asks for leave; Liam (her manager) gets an email with his own links; Hannah (HR) is next.
"""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest
from temporalio.client import Client

from activities.approval_links import ApprovalLinkClaims, mint_approval_token
from api.state import AppState
from models.approvals import RunView
from models.leave import LeaveRequestResult
from starter.demo_data import EMPLOYEE, HEAD_OF_ENGINEERING, HR_OFFICER, MANAGER
from tests.api.conftest import LoginAs
from tests.api.leave_steps import started, user_id, wait_for_step
from tests.harness.smtp import SmtpInbox
from tests.harness.temporal import settled_history_length

pytestmark = pytest.mark.usefixtures("workers")

EMMA, LIAM, HANNAH, SOFIA = (
    EMPLOYEE.email,
    MANAGER.email,
    HR_OFFICER.email,
    HEAD_OF_ENGINEERING.email,
)


async def links_for(inbox: SmtpInbox, email: str, subject_part: str) -> dict[str, str]:
    """The approve/reject/review paths in the newest matching email to that person."""
    deadline = time.monotonic() + 15
    while True:
        mails = [m for m in inbox.messages if email in m.rcpt_tos and subject_part in m.subject]
        if mails:
            found = dict(re.findall(r"(Approve|Reject|Review):\s+(\S+)", mails[-1].text()))
            return {name.lower(): httpx.URL(url).path for name, url in found.items()}
        assert time.monotonic() < deadline, [m.subject for m in inbox.messages]
        await asyncio.sleep(0.1)


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def test_opening_changes_nothing_and_a_click_decides_once(
    client: httpx.AsyncClient, login_as: LoginAs, temporal_client: Client, smtp_inbox: SmtpInbox
) -> None:
    emma = await login_as(EMMA)
    workflow_id = (await started(client, emma))["workflow_id"]
    handle = temporal_client.get_workflow_handle(workflow_id, result_type=LeaveRequestResult)
    links = await links_for(smtp_inbox, LIAM, "Please decide")
    assert set(links) == {"approve", "reject", "review"}

    before = await settled_history_length(handle)
    page = await client.get(links["approve"])
    await client.get(links["reject"])
    assert page.status_code == 200
    assert "Emma Schmidt" in page.text and ">Approve</button>" in page.text
    assert ">Reject</button>" not in page.text  # the approve link only approves
    assert await settled_history_length(handle) == before  # mail scanners may open it freely

    forged = await client.post(links["approve"], data={"decision": "approve", "csrf": "0" * 64})
    assert forged.status_code == 403
    wrong_action = await client.post(
        links["approve"], data={"decision": "reject", "comment": "no", "csrf": csrf_of(page)}
    )
    assert wrong_action.status_code == 403
    assert await settled_history_length(handle) == before

    form = {"decision": "approve", "csrf": csrf_of(page)}
    first, second = await asyncio.gather(
        client.post(links["approve"], data=form), client.post(links["approve"], data=form)
    )
    outcomes = sorted([first, second], key=lambda r: r.status_code)
    assert outcomes[0].status_code == 200 and "Approved" in outcomes[0].text
    assert outcomes[1].status_code == 409
    assert "Already approved by Liam Walker at" in outcomes[1].text

    replay = await client.post(links["approve"], data=form)
    assert replay.status_code == 409 and "Already approved by Liam Walker" in replay.text
    view = await handle.query("view", result_type=RunView)
    manager_task = next(task for task in view.tasks if task.step == "manager")
    assert manager_task.decided_by is not None and manager_task.decided_by.email == LIAM

    hr_links = await links_for(smtp_inbox, HANNAH, "Please decide")
    hr_page = await client.get(hr_links["reject"])
    no_comment = await client.post(
        hr_links["reject"], data={"decision": "reject", "csrf": csrf_of(hr_page)}
    )
    assert no_comment.status_code == 422 and "comment" in no_comment.text.lower()
    rejected = await client.post(
        hr_links["reject"],
        data={"decision": "reject", "comment": "Team is short that week", "csrf": csrf_of(hr_page)},
    )
    assert rejected.status_code == 200 and "Rejected" in rejected.text
    assert (await handle.result()).outcome == "rejected"
    after_end = await client.get(links["review"])
    assert "Already approved by Liam Walker" in after_end.text


async def test_a_reassigned_task_kills_the_old_link(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState, smtp_inbox: SmtpInbox
) -> None:
    emma, liam = await login_as(EMMA), await login_as(LIAM)
    workflow_id = (await started(client, emma))["workflow_id"]
    links = await links_for(smtp_inbox, LIAM, "Please decide")
    page = await client.get(links["approve"])
    sofia_id = await user_id(baton.sessions, SOFIA)
    moved = await client.post(f"/runs/{workflow_id}/reassign", json={"to": sofia_id}, headers=liam)
    assert moved.status_code == 200, moved.text
    await wait_for_step(client, await login_as(SOFIA), workflow_id, "manager", SOFIA)

    stale = await client.get(links["approve"])
    assert "This task moved to Sofia Rossi; this link no longer works." in stale.text
    refused = await client.post(
        links["approve"], data={"decision": "approve", "csrf": csrf_of(page)}
    )
    assert refused.status_code == 409
    sofia_links = await links_for(smtp_inbox, SOFIA, "Please decide")
    assert (await client.get(sofia_links["approve"])).status_code == 200


async def test_forged_expired_and_foreign_links_are_refused(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState, smtp_inbox: SmtpInbox
) -> None:
    emma = await login_as(EMMA)
    workflow_id = (await started(client, emma))["workflow_id"]
    links = await links_for(smtp_inbox, LIAM, "Please decide")
    token = links["approve"].rsplit("/", 1)[1]
    payload, signature = token.split(".")

    tampered = await client.get(f"/approvals/{payload[:-2]}xx.{signature}")
    assert tampered.status_code == 404 and "This link is not valid." in tampered.text

    def minted(**changes: object) -> str:
        claims = ApprovalLinkClaims(
            org="acme",
            run=workflow_id,
            step="manager",
            task="manager",
            assignment=1,
            approver_id=0,
            action="approve",
            expires_at=int(time.time()) + 600,
        ).model_copy(update=changes)
        return f"/approvals/{mint_approval_token(baton.settings.secret_key(), claims)}"

    liam_id = await user_id(baton.sessions, LIAM)
    expired = await client.get(minted(approver_id=liam_id, expires_at=int(time.time()) - 5))
    assert expired.status_code == 410 and "This link has expired." in expired.text
    other_org = await client.get(minted(org="globex", approver_id=liam_id))
    assert other_org.status_code == 404
    hannah_id = await user_id(baton.sessions, HANNAH)
    not_hers = await client.get(minted(approver_id=hannah_id))
    assert "this link no longer works" in not_hers.text
