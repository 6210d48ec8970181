"""The `attach` Update of the leave request: its rules, its record and its notice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowUpdateFailedError

from config.settings import Settings
from models.approvals import AttachRequest, Person, WithdrawRequest
from tests.harness.smtp import SmtpInbox
from tests.harness.temporal import settled_history_length
from tests.workflows.leave_scenarios import (
    EMMA,
    LIAM,
    NORA,
    QUIET,
    person,
    set_template,
    start_leave,
    wait_for_assignee,
)
from tests.workflows.test_leave_request import (
    LeaveEnv,
    mails_to,
    running_workers,
)
from workflows.leave_request import LeaveRequestWorkflow


@pytest.fixture
async def leave_env(
    temporal_client: Client, mail_settings: Settings, sqlite_engine: AsyncEngine
) -> AsyncIterator[LeaveEnv]:
    async with running_workers(temporal_client, mail_settings, sqlite_engine) as env:
        yield env


def attach_request(actor: Person, key: str) -> AttachRequest:
    return AttachRequest(
        actor=actor, name="note.pdf", key=key, size=1234, content_type="application/pdf"
    )


async def test_refused_attachments_write_nothing_and_one_that_passes_is_recorded_and_told(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env
    await set_template(env.sessions, QUIET, QUIET)
    emma, liam = await person(env.sessions, EMMA), await person(env.sessions, LIAM)
    nora = await person(env.sessions, NORA)
    handle = await start_leave(env.client, env.queue, emma)
    await wait_for_assignee(handle, "manager", LIAM)
    folder = f"acme/leave_request/{handle.id}"

    async def refused(request: AttachRequest, reason: str) -> None:
        before = await settled_history_length(handle)
        with pytest.raises(WorkflowUpdateFailedError) as raised:
            await handle.execute_update(LeaveRequestWorkflow.attach, request)
        assert reason in str(raised.value.cause), raised.value.cause
        assert await settled_history_length(handle) == before

    await refused(attach_request(nora, f"{folder}/1-note.pdf"), "another organisation")
    for elsewhere in (
        "acme/leave_request/acme:leave_request:other/1-note.pdf",
        f"globex/leave_request/{handle.id}/1-note.pdf",
        f"{folder}/sub/1-note.pdf",
        f"{folder}/..",
    ):
        await refused(attach_request(emma, elsewhere), "this request's own folder")

    view = await handle.execute_update(
        LeaveRequestWorkflow.attach, attach_request(emma, f"{folder}/1-note.pdf")
    )
    [attachment] = view.attachments
    assert (attachment.name, attachment.size, attachment.uploaded_by.email) == (
        "note.pdf",
        1234,
        EMMA,
    )
    assert attachment.step == "manager"
    await refused(attach_request(liam, f"{folder}/1-note.pdf"), "already attached")

    await smtp_inbox.wait_for(2)
    assert len(mails_to(smtp_inbox, LIAM, "attached note.pdf")) == 1
    assert mails_to(smtp_inbox, EMMA, "attached") == []

    await handle.execute_update(LeaveRequestWorkflow.withdraw, WithdrawRequest(actor=emma))
    assert (await handle.result()).outcome == "withdrawn"
    assert [a.key for a in (await handle.query(LeaveRequestWorkflow.view)).attachments] == [
        f"{folder}/1-note.pdf"
    ]
