"""Leave requests over REST, on a real Temporal server with the product's workers.

Demo people: Emma asks, Liam is her manager, Hannah is HR; Claire (a manager) may claim the
manager step; Priya has no part in Emma's requests; Nora and Tomas belong to globex.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import HTTPException
from temporalio.client import Client
from temporalio.worker import Worker

from api.run_access import CLOSED, OpenRun, send_update
from api.state import AppState
from db.engine import session_scope
from db.tables import LeaveRecord
from models.approvals import RunView, WithdrawRequest
from starter.demo_data import (
    AP_CLERK,
    CFO,
    EMPLOYEE,
    GLOBEX_EMPLOYEE,
    GLOBEX_MANAGER,
    HEAD_OF_ENGINEERING,
    HR_OFFICER,
    MANAGER,
)
from tests.api.conftest import LoginAs
from tests.api.leave_steps import (
    annual_balance,
    ask_for_leave,
    eventually,
    leave_records,
    run_view,
    started,
    user_id,
    wait_for_step,
)
from tests.harness.temporal import settled_history_length
from workflows.leave_request import LeaveRequestWorkflow

EMMA, LIAM, HANNAH = EMPLOYEE.email, MANAGER.email, HR_OFFICER.email

pytestmark = pytest.mark.usefixtures("workers")


async def test_manager_then_hr_approve_and_the_balance_is_deducted_once(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState, temporal_client: Client
) -> None:
    emma, liam, hannah = await login_as(EMMA), await login_as(LIAM), await login_as(HANNAH)
    before = await annual_balance(baton.sessions, EMMA)

    run = await started(client, emma, start="2027-03-01", end="2027-03-03")
    workflow_id = run["workflow_id"]
    assert workflow_id.startswith("acme:leave_request:")
    assert run["view"]["initiator"]["email"] == EMMA
    assert run["view"]["tasks"][0]["assignees"][0]["email"] == LIAM

    async def liams_inbox() -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = (await client.get("/tasks/inbox", headers=liam)).json()
        return answer

    inbox = await eventually(liams_inbox, lambda ts: workflow_id in [t["workflow_id"] for t in ts])
    [task] = [t for t in inbox if t["workflow_id"] == workflow_id]
    assert (task["why"], task["stage"], task["initiator"]) == ("assigned", "manager", EMMA)

    decided = await client.post(
        f"/runs/{workflow_id}/decision", json={"decision": "approve"}, headers=liam
    )
    assert decided.status_code == 200, decided.text
    await wait_for_step(client, hannah, workflow_id, "hr", HANNAH)
    decided = await client.post(
        f"/runs/{workflow_id}/decision",
        json={"decision": "approve", "comment": "enjoy"},
        headers=hannah,
    )
    assert decided.status_code == 200, decided.text

    handle = temporal_client.get_workflow_handle_for(LeaveRequestWorkflow.run, workflow_id)
    result = await handle.result()
    assert (result.outcome, result.deducted_days) == ("approved", 3)
    view = await run_view(client, emma, workflow_id)
    assert (view["outcome"], view["stage"]) == ("approved", "done")
    assert await annual_balance(baton.sessions, EMMA) == before - 3
    [record] = await leave_records(baton.sessions)
    assert (record.workflow_id, record.days) == (workflow_id, 3)

    late = await client.post(
        f"/runs/{workflow_id}/decision", json={"decision": "approve"}, headers=hannah
    )
    assert (late.status_code, late.json()) == (409, {"detail": "This request is already closed"})
    assert await annual_balance(baton.sessions, EMMA) == before - 3


async def test_a_rejection_with_a_comment_ends_the_request(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState, temporal_client: Client
) -> None:
    emma, liam = await login_as(EMMA), await login_as(LIAM)
    before = await annual_balance(baton.sessions, EMMA)
    workflow_id = (await started(client, emma))["workflow_id"]

    rejected = await client.post(
        f"/runs/{workflow_id}/decision",
        json={"decision": "reject", "comment": "release week"},
        headers=liam,
    )

    assert rejected.status_code == 200, rejected.text
    await temporal_client.get_workflow_handle(workflow_id).result()
    view = await run_view(client, emma, workflow_id)
    assert (view["outcome"], view["outcome_reason"]) == ("rejected", "release week")
    assert [c["text"] for c in view["comments"]] == ["release week"]
    assert await annual_balance(baton.sessions, EMMA) == before
    assert await leave_records(baton.sessions) == []


async def test_the_initiator_withdraws_and_nobody_else_may(
    client: httpx.AsyncClient, login_as: LoginAs, temporal_client: Client
) -> None:
    emma, liam = await login_as(EMMA), await login_as(LIAM)
    workflow_id = (await started(client, emma))["workflow_id"]

    refused = await client.post(f"/runs/{workflow_id}/withdraw", json={}, headers=liam)
    assert refused.status_code == 403, refused.text
    assert "only the person who made the request" in refused.json()["detail"]

    withdrawn = await client.post(
        f"/runs/{workflow_id}/withdraw", json={"reason": "plans changed"}, headers=emma
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["outcome"] == "withdrawn"
    await temporal_client.get_workflow_handle(workflow_id).result()
    again = await client.post(f"/runs/{workflow_id}/withdraw", headers=emma)
    assert (again.status_code, again.json()["detail"]) == (409, "This request is already closed")


async def test_refused_decisions_answer_4xx_and_write_nothing(
    client: httpx.AsyncClient, login_as: LoginAs, temporal_client: Client
) -> None:
    emma, liam, hannah = await login_as(EMMA), await login_as(LIAM), await login_as(HANNAH)
    workflow_id = (await started(client, emma))["workflow_id"]
    handle = temporal_client.get_workflow_handle(workflow_id)
    url = f"/runs/{workflow_id}/decision"

    async def refused(headers: dict[str, str], body: dict[str, Any], status: set[int]) -> str:
        before = await settled_history_length(handle)
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code in status, response.text
        assert await settled_history_length(handle) == before
        detail: Any = response.json()["detail"]
        return str(detail)

    approve = {"decision": "approve"}
    assert "only Liam Walker" in await refused(hannah, approve, {403})
    assert "their own request" in await refused(emma, approve, {403})
    assert "needs a comment" in await refused(liam, {"decision": "reject"}, {422})
    assert "extra" in await refused(liam, {**approve, "actor": {"id": 1}}, {422})

    assert (await client.post(url, json=approve, headers=liam)).status_code == 200
    await wait_for_step(client, hannah, workflow_id, "hr", HANNAH)
    assert "already decided" in await refused(liam, approve, {409})


async def test_another_org_or_an_outsider_learns_nothing_of_a_run(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    emma = await login_as(EMMA)
    workflow_id = (await started(client, emma))["workflow_id"]
    missing = {"detail": "No such run"}

    for outsider in (GLOBEX_MANAGER.email, GLOBEX_EMPLOYEE.email, AP_CLERK.email):
        headers = await login_as(outsider)
        response = await client.get(f"/runs/{workflow_id}", headers=headers)
        assert (response.status_code, response.json()) == (404, missing), outsider
        decided = await client.post(
            f"/runs/{workflow_id}/decision", json={"decision": "approve"}, headers=headers
        )
        assert (decided.status_code, decided.json()) == (404, missing), outsider
    nora = await login_as(GLOBEX_MANAGER.email)
    as_globex = workflow_id.replace("acme:", "globex:", 1)
    for unknown in (as_globex, "acme:leave_request:nothing-here", "not-a-run-id"):
        response = await client.get(f"/runs/{unknown}", headers=nora)
        assert (response.status_code, response.json()) == (404, missing), unknown
    assert (await client.get(f"/runs/{workflow_id}", headers=await login_as(HANNAH))).is_success


async def test_runs_are_listed_by_assignee_and_filters_cannot_inject(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    emma, hannah = await login_as(EMMA), await login_as(HANNAH)
    workflow_id = (await started(client, emma))["workflow_id"]

    async def listed(params: dict[str, str], headers: dict[str, str]) -> list[dict[str, Any]]:
        response = await client.get("/runs", params=params, headers=headers)
        assert response.status_code == 200, response.text
        runs: list[dict[str, Any]] = response.json()
        return runs

    filters = {"assignee": LIAM, "process": "leave_request", "state": "waiting"}
    runs = await eventually(
        lambda: listed(filters, hannah), lambda rs: workflow_id in [r["workflow_id"] for r in rs]
    )
    [run] = [r for r in runs if r["workflow_id"] == workflow_id]
    assert (run["stage"], run["assignees"], run["initiator"]) == ("manager", [LIAM], EMMA)
    assert run["state"] == "waiting" and run["due_at"] is not None
    assert all(LIAM in r["assignees"] for r in runs)
    mine = await listed({"initiator": EMMA}, emma)
    assert workflow_id in [r["workflow_id"] for r in mine]
    assert all(r["initiator"] == EMMA or EMMA in r["assignees"] for r in mine)
    outsider = await listed({"process": "leave_request"}, await login_as(AP_CLERK.email))
    assert workflow_id not in [r["workflow_id"] for r in outsider]
    globex = await listed({}, await login_as(GLOBEX_MANAGER.email))
    assert all(not r["workflow_id"].startswith("acme:") for r in globex)

    for sneaky in ("x' OR BatonOrg = 'globex", 'x" OR 1=1', "a\\'b"):
        response = await client.get("/runs", params={"assignee": sneaky}, headers=hannah)
        assert response.status_code == 422, sneaky
    unknown = await client.get("/runs", params={"colour": "red"}, headers=hannah)
    assert unknown.status_code == 422


@pytest.mark.parametrize(
    ("dates", "leave_type", "status", "reason"),
    [
        (("2027-03-05", "2027-03-01"), "annual", 422, "ends before it starts"),
        (("2027-03-01", "2027-03-02"), "sabbatical", 422, "Unknown leave type"),
        (("2027-02-03", "2027-02-04"), "annual", 409, "overlap approved leave"),
    ],
)
async def test_invalid_requests_are_refused_before_any_run(
    client: httpx.AsyncClient,
    login_as: LoginAs,
    baton: AppState,
    dates: tuple[str, str],
    leave_type: str,
    status: int,
    reason: str,
) -> None:
    emma_id = await user_id(baton.sessions, EMMA)
    async with session_scope(baton.sessions) as session:
        session.add(
            LeaveRecord(
                idempotency_key="acme:leave_request:earlier",
                org_id="acme",
                user_id=emma_id,
                leave_type="annual",
                start_date=date(2027, 2, 1),
                end_date=date(2027, 2, 3),
                days=3,
                workflow_id="acme:leave_request:earlier",
            )
        )

    response = await ask_for_leave(client, await login_as(EMMA), *dates, leave_type=leave_type)

    assert response.status_code == status, response.text
    assert reason in str(response.json()["detail"])


async def test_claim_comment_and_watch_over_rest(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState, workers: list[Worker]
) -> None:
    emma, claire, priya = (
        await login_as(EMMA),
        await login_as(CFO.email),
        await login_as(AP_CLERK.email),
    )
    workflow_id = (await started(client, emma))["workflow_id"]

    async def claires_inbox() -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = (
            await client.get("/tasks/inbox", params={"process": "leave_request"}, headers=claire)
        ).json()
        return answer

    inbox = await eventually(
        claires_inbox, lambda ts: workflow_id in [t["workflow_id"] for t in ts]
    )
    assert [t["why"] for t in inbox if t["workflow_id"] == workflow_id] == ["claimable"]
    assert (await client.get(f"/runs/{workflow_id}", headers=claire)).is_success
    assert (await client.get(f"/runs/{workflow_id}", headers=priya)).status_code == 404

    claimed = await client.post(
        f"/runs/{workflow_id}/claim", json={"reason": "Liam is away"}, headers=claire
    )
    assert claimed.status_code == 200, claimed.text
    assert [p["email"] for p in claimed.json()["tasks"][0]["assignees"]] == [CFO.email]

    commented = await client.post(
        f"/runs/{workflow_id}/comments", json={"text": "Is the release done?"}, headers=claire
    )
    assert commented.status_code == 200, commented.text
    liam_id = await user_id(baton.sessions, LIAM)
    watched = await client.post(
        f"/runs/{workflow_id}/watch", json={"watcher": liam_id}, headers=emma
    )
    assert [p["email"] for p in watched.json()["watchers"]] == [LIAM]
    assert (await client.post(f"/runs/{workflow_id}/watch", headers=claire)).is_success
    unwatched = await client.delete(f"/runs/{workflow_id}/watch", headers=claire)
    assert [p["email"] for p in unwatched.json()["watchers"]] == [LIAM]
    view = await run_view(client, emma, workflow_id)
    assert [c["text"] for c in view["comments"]] == ["Is the release done?"]
    kinds = [(t["kind"], (t["actor"] or {}).get("email")) for t in view["transitions"]]
    assert kinds == [("assigned", None), ("claimed", CFO.email)]


async def test_a_run_that_ended_meanwhile_answers_closed(
    client: httpx.AsyncClient, login_as: LoginAs, temporal_client: Client
) -> None:
    emma = await login_as(EMMA)
    run = await started(client, emma)
    stale = RunView.model_validate(run["view"])
    handle = temporal_client.get_workflow_handle(run["workflow_id"])
    withdrawn = await client.post(f"/runs/{run['workflow_id']}/withdraw", headers=emma)
    assert withdrawn.status_code == 200, withdrawn.text
    await handle.result()

    with pytest.raises(HTTPException) as raised:
        await send_update(
            OpenRun(handle, stale, stale.initiator),
            "withdraw",
            WithdrawRequest(actor=stale.initiator),
        )

    assert (raised.value.status_code, raised.value.detail) == (409, CLOSED)


async def test_the_manager_hands_the_step_to_a_colleague(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState
) -> None:
    emma, liam = await login_as(EMMA), await login_as(LIAM)
    sofia = await login_as(HEAD_OF_ENGINEERING.email)
    workflow_id = (await started(client, emma))["workflow_id"]
    url = f"/runs/{workflow_id}/reassign"

    nora_id = await user_id(baton.sessions, GLOBEX_MANAGER.email)
    stranger = await client.post(url, json={"to": nora_id}, headers=liam)
    assert (stranger.status_code, stranger.json()) == (422, {"detail": "No such colleague"})
    sofia_id = await user_id(baton.sessions, HEAD_OF_ENGINEERING.email)
    moved = await client.post(url, json={"to": sofia_id, "reason": "on leave"}, headers=liam)
    assert moved.status_code == 200, moved.text

    await wait_for_step(client, sofia, workflow_id, "manager", HEAD_OF_ENGINEERING.email)
    again = await client.post(url, json={"to": sofia_id}, headers=liam)
    assert again.status_code == 403, again.text
    decided = await client.post(
        f"/runs/{workflow_id}/decision", json={"decision": "approve"}, headers=sofia
    )
    assert decided.status_code == 200, decided.text
