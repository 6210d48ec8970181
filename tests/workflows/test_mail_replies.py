"""Approval by reply: the manager answers the approval email with APPROVE or REJECT, and intake
applies it through the run's validated `decide` update; anyone else's reply is refused."""

from __future__ import annotations

import uuid

from models.approvals import RunView
from starter.demo_data import EMPLOYEE, HR_OFFICER, MANAGER
from tests.harness.mime_messages import authentication_results, reply_mail
from tests.harness.smtp import CapturedEmail, SmtpInbox
from tests.workflows.conftest import MailEnv, records
from tests.workflows.leave_scenarios import (
    QUIET,
    Handle,
    person,
    set_template,
    start_leave,
    wait_for_assignee,
)
from tests.workflows.mail_scenarios import AUTHSERV_ID, INBOX_ADDRESS, run_intake
from workflows.leave_request import LeaveRequestWorkflow

LIAM, HANNAH = MANAGER.email, HR_OFFICER.email


def acme_results() -> list[str]:
    """acme's receiving server authenticated the mail as coming from acme.example."""
    return [authentication_results(AUTHSERV_ID, domain="acme.example")]


async def manager_asked(env: MailEnv, inbox: SmtpInbox) -> tuple[Handle, CapturedEmail]:
    """Emma's leave request waiting for Liam, and the approval email Liam got."""
    await set_template(env.sessions, QUIET, QUIET)
    emma = await person(env.sessions, EMPLOYEE.email)
    handle = await start_leave(
        env.client, env.settings.task_queues().workflows, emma, key=uuid.uuid4().hex[:12]
    )
    await wait_for_assignee(handle, "manager", LIAM)
    for _ in range(100):
        found = [
            message
            for message in inbox.messages
            if handle.id in message.text() and LIAM in message.rcpt_tos
        ]
        if found:
            return handle, found[0]
        await inbox.wait_for(len(inbox.messages) + 1, timeout=0.2)
    raise AssertionError("Liam got no approval email")


def answer(email: CapturedEmail, sender: str, body: str, *, by_token: bool = True) -> bytes:
    """A reply to the approval email, matched by the subject's token or by In-Reply-To."""
    subject = f"Re: {email.subject}" if by_token else "Re: your request"
    return reply_mail(
        sender,
        INBOX_ADDRESS,
        subject,
        body,
        in_reply_to=str(email.message["Message-ID"]),
        authentication_results=acme_results(),
    )


async def test_the_approval_email_invites_a_reply_and_carries_a_token(
    mail_env: MailEnv, smtp_inbox: SmtpInbox
) -> None:
    _, email = await manager_asked(mail_env, smtp_inbox)

    assert "[Baton #" in email.subject
    assert email.message["Reply-To"] == INBOX_ADDRESS
    assert "reply to this email with APPROVE or REJECT" in email.text()


async def test_the_managers_reply_approves_the_step(
    mail_env: MailEnv, smtp_inbox: SmtpInbox
) -> None:
    handle, email = await manager_asked(mail_env, smtp_inbox)
    mail_env.deliver(answer(email, LIAM, "APPROVE - enjoy the trip\n\n> original text"))

    result = await run_intake(mail_env.client, mail_env.settings, mail_env.mailbox_id)

    assert result.handled == {"reply_applied": 1}
    view: RunView = await wait_for_assignee(handle, "hr", HANNAH)
    manager_task = next(task for task in view.tasks if task.step == "manager")
    assert manager_task.status == "approved"
    assert manager_task.decided_by is not None and manager_task.decided_by.email == LIAM
    [record] = await records(mail_env)
    assert (record.classification, record.workflow_id) == ("approval_reply", handle.id)


async def test_a_reply_found_by_in_reply_to_can_reject_with_its_reason(
    mail_env: MailEnv, smtp_inbox: SmtpInbox
) -> None:
    handle, email = await manager_asked(mail_env, smtp_inbox)
    mail_env.deliver(answer(email, LIAM, "Reject: we ship the release that week", by_token=False))

    result = await run_intake(mail_env.client, mail_env.settings, mail_env.mailbox_id)

    assert result.handled == {"reply_applied": 1}
    outcome = await handle.result()
    assert outcome.outcome == "rejected"
    assert "release that week" in (outcome.reason or "")


async def test_a_reply_from_anyone_but_the_assignee_is_refused(
    mail_env: MailEnv, smtp_inbox: SmtpInbox
) -> None:
    handle, email = await manager_asked(mail_env, smtp_inbox)
    mail_env.deliver(answer(email, HANNAH, "APPROVE"))

    result = await run_intake(mail_env.client, mail_env.settings, mail_env.mailbox_id)

    assert result.handled == {"reply_refused": 1}
    [record] = await records(mail_env)
    assert record.reason_code == "not_the_assignee"
    assert record.reason is not None and HANNAH in record.reason
    view = await handle.query(LeaveRequestWorkflow.view)
    assert view.current is not None and view.current.step == "manager"
    assert view.current.status == "pending"
