"""The mail check end to end: the API starts the workflow, real workers send over real SMTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.state import AppState
from config.settings import Settings
from starter.demo_data import EMPLOYEE, OPERATOR
from tests.api.conftest import LoginAs, running_workers
from tests.harness.ports import free_port
from tests.harness.smtp import SmtpInbox

SUBJECT = "[mail_check] Test email from Baton"
RECIPIENT = "someone@acme.example"
NO_RETRIES = """
steps:
  send_test_email:
    retry: {count: 0}
"""
NO_RETRIES_AND_TELL_THE_OWNER = """
defaults:
  retry: {count: 0}
steps:
  send_test_email:
    retry: {count: 0}
    notifications:
      on_failure: {recipients: [owner]}
"""
VISIBLE_WITHIN_SECONDS = 10.0


async def _mail_check(
    client: httpx.AsyncClient, headers: dict[str, str], to: list[str]
) -> httpx.Response:
    return await client.post("/operations/mail-check", json={"to": to}, headers=headers)


async def _listed(temporal: Client, query: str) -> list[str]:
    """The ids of the runs a visibility query finds, once it finds any (it lags a little)."""
    deadline = time.monotonic() + VISIBLE_WITHIN_SECONDS
    while True:
        found = [execution.id async for execution in temporal.list_workflows(query=query)]
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


@pytest.fixture
async def smtp_down(
    baton: AppState, temporal_client: Client, api_settings: Settings
) -> AsyncIterator[None]:
    """The real workers for the app's queues, with outgoing mail pointing at a closed port."""
    closed = api_settings.mail.model_copy(update={"smtp_port": free_port()})
    settings = api_settings.model_copy(update={"mail": closed})
    async with running_workers(temporal_client, settings, baton.sessions):
        yield


@pytest.mark.usefixtures("workers")
async def test_an_admin_sends_a_test_email(
    client: httpx.AsyncClient, login_as: LoginAs, smtp_inbox: SmtpInbox, temporal_client: Client
) -> None:
    response = await _mail_check(client, await login_as(OPERATOR.email), [RECIPIENT])
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    assert run["outcome"]["delivered"] is True
    assert run["outcome"]["result"]["recipients"] == [RECIPIENT]
    assert run["outcome"]["failure"] is None
    [email] = smtp_inbox.messages
    assert email.subject == SUBJECT
    assert email.rcpt_tos == [RECIPIENT]
    assert OPERATOR.email in email.text()
    assert run["workflow_id"].startswith("acme:mail_check:")
    query = (
        f'WorkflowId = "{run["workflow_id"]}" '
        'AND BatonOrg = "acme" AND BatonProcess = "mail_check" AND BatonRunState = "completed"'
    )
    assert await _listed(temporal_client, query) == [run["workflow_id"]]


@pytest.mark.usefixtures("workers")
async def test_the_check_goes_to_the_caller_by_default(
    client: httpx.AsyncClient, login_as: LoginAs, smtp_inbox: SmtpInbox
) -> None:
    response = await _mail_check(client, await login_as(OPERATOR.email), [])
    assert response.status_code == 200, response.text
    assert response.json()["outcome"]["delivered"] is True
    [email] = smtp_inbox.messages
    assert email.rcpt_tos == [OPERATOR.email]


@pytest.mark.usefixtures("workers")
async def test_an_employee_may_not_run_the_check(
    client: httpx.AsyncClient, login_as: LoginAs, smtp_inbox: SmtpInbox
) -> None:
    response = await _mail_check(client, await login_as(EMPLOYEE.email), [RECIPIENT])
    assert response.status_code == 403
    assert response.json() == {"detail": "This needs one of the roles: admin, operator"}
    assert smtp_inbox.messages == []


async def test_a_malformed_address_is_refused(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    response = await _mail_check(client, await login_as(OPERATOR.email), ["not an address"])
    assert response.status_code == 422


@pytest.mark.usefixtures("smtp_down")
async def test_a_failed_send_is_reported(
    client: httpx.AsyncClient, login_as: LoginAs, smtp_inbox: SmtpInbox, temporal_client: Client
) -> None:
    admin = await login_as(OPERATOR.email)
    override = await client.put("/templates/mail_check", json={"yaml": NO_RETRIES}, headers=admin)
    assert override.status_code == 200, override.text
    started = time.monotonic()
    response = await _mail_check(client, admin, [RECIPIENT])
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 15
    outcome = response.json()["outcome"]
    assert outcome["delivered"] is False
    assert outcome["result"] is None
    failure = outcome["failure"]
    assert failure["step"] == "send_test_email"
    assert failure["reason"]
    assert failure["criticality"] == "low"
    assert smtp_inbox.messages == []
    workflow_id = response.json()["workflow_id"]
    query = f'WorkflowId = "{workflow_id}" AND BatonOrg = "acme" AND BatonRunState = "failed"'
    assert await _listed(temporal_client, query) == [workflow_id]


@pytest.mark.usefixtures("smtp_down")
async def test_a_failure_notice_that_cannot_go_out_does_not_hide_the_outcome(
    client: httpx.AsyncClient, login_as: LoginAs, temporal_client: Client
) -> None:
    admin = await login_as(OPERATOR.email)
    override = await client.put(
        "/templates/mail_check", json={"yaml": NO_RETRIES_AND_TELL_THE_OWNER}, headers=admin
    )
    assert override.status_code == 200, override.text
    response = await _mail_check(client, admin, [RECIPIENT])
    assert response.status_code == 200, response.text
    outcome = response.json()["outcome"]
    assert outcome["delivered"] is False
    assert outcome["failure"]["step"] == "send_test_email"
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_id
        async for event in temporal_client.get_workflow_handle(
            response.json()["workflow_id"]
        ).fetch_history_events()
        if event.HasField("activity_task_scheduled_event_attributes")
    ]
    assert len(scheduled) == 3, "policies, the test email, and the failure notice to the owner"
