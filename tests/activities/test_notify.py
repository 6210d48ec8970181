"""The send_email activity against a real SMTP server and a real database."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.approval_links import read_approval_token
from activities.notify import EmailTemplates, NotifyActivities, message_id_for
from config.settings import Settings
from db.engine import session_factory, session_scope
from db.tables import SentEmail, utcnow
from models.notifications import ApprovalLinkSpec, EmailRequest
from tests.harness.ports import free_port
from tests.harness.smtp import SmtpInbox, mail_settings_for

RUN = {"process": "AP invoice", "run_id": "acme:ap_invoice:INV-7", "step": "post_to_erp"}


def failed_step(key: str, **overrides: Any) -> EmailRequest:
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "event": "step_failed",
        "to": ["ap-team@acme.test"],
        "context": {
            **RUN,
            "reason": "ERP rejected the invoice",
            "details": "Vendor <V-100> is blocked & on hold",
            "criticality": "high",
            "url": "http://localhost:8000/runs/acme:ap_invoice:INV-7?tab=steps&step=post",
        },
    }
    return EmailRequest(**{**fields, **overrides})


async def stored(sessions: async_sessionmaker[AsyncSession], key: str) -> SentEmail | None:
    async with sessions() as session:
        return await session.get(SentEmail, key)


async def settle(inbox: SmtpInbox, count: int) -> None:
    """Wait for `count` messages, then a little longer to catch any extra one."""
    await inbox.wait_for(count)
    await asyncio.sleep(0.3)
    assert len(inbox.messages) == count


@pytest.fixture
def sqlite_sessions(sqlite_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(sqlite_engine)


@pytest.fixture
def notify(mail_settings: Settings, sqlite_sessions) -> NotifyActivities:
    return NotifyActivities(mail_settings, sqlite_sessions)


async def test_send_renders_the_templates_and_reaches_the_server(
    notify: NotifyActivities, smtp_inbox: SmtpInbox, sqlite_sessions
) -> None:
    request = failed_step("acme:ap_invoice:INV-7/post/failed", cc=["controller@acme.test"])
    request = request.model_copy(update={"reply_to": "AP desk <ap@acme.test>"})

    result = await ActivityEnvironment().run(notify.send_email, request)

    assert result.sent
    assert result.recipients == ["ap-team@acme.test", "controller@acme.test"]
    assert result.message_id == message_id_for(request.idempotency_key, "baton.test")
    [captured] = await smtp_inbox.wait_for(1)
    assert captured.mail_from == "baton@baton.test"
    assert captured.rcpt_tos == ["ap-team@acme.test", "controller@acme.test"]
    message = captured.message
    assert message["Message-ID"] == result.message_id
    assert message["From"] == "Baton <baton@baton.test>"
    assert message["Reply-To"] == "AP desk <ap@acme.test>"
    assert message["Subject"] == '[AP invoice] Step "post_to_erp" failed (high)'
    assert message.get_content_type() == "multipart/alternative"
    text = captured.text()
    assert "ERP rejected the invoice" in text
    assert "Vendor <V-100> is blocked & on hold" in text
    assert "http://localhost:8000/runs/acme:ap_invoice:INV-7?tab=steps&step=post" in text
    html = captured.html()
    assert "Vendor &lt;V-100&gt; is blocked &amp; on hold" in html
    assert 'href="http://localhost:8000/runs/acme:ap_invoice:INV-7?tab=steps&amp;step=post"' in html
    assert "<strong>post_to_erp</strong>" in html
    row = await stored(sqlite_sessions, request.idempotency_key)
    assert row is not None
    assert row.state == "sent"
    assert row.sent_at is not None


@pytest.mark.parametrize(
    ("event", "extra", "subject"),
    [
        ("step_completed", {"elapsed": 95}, '[AP invoice] Step "post_to_erp" completed'),
        (
            "step_retry",
            {"attempt": 2, "max_attempts": 5, "last_error": "ERP timed out"},
            '[AP invoice] Retrying step "post_to_erp" (attempt 2 of 5)',
        ),
        (
            "step_soft_timeout",
            {"elapsed": 330, "soft_timeout": 300},
            '[AP invoice] Step "post_to_erp" is taking longer than expected',
        ),
        ("step_timeout", {"hard_timeout": 600}, '[AP invoice] Step "post_to_erp" timed out'),
    ],
)
async def test_each_step_template_renders(
    notify: NotifyActivities, smtp_inbox: SmtpInbox, event: str, extra: dict[str, Any], subject: str
) -> None:
    request = EmailRequest(
        idempotency_key=f"templates/{event}",
        event=event,
        to=["a@acme.test"],
        context={**RUN, **extra},
    )
    await notify.send_email(request)
    [captured] = await smtp_inbox.wait_for(1)
    assert captured.subject == subject
    assert "acme:ap_invoice:INV-7" in captured.text()
    assert "Open the run" not in captured.html()


async def test_the_same_key_sent_twice_goes_out_once(
    mail_settings: Settings, db_sessions, smtp_inbox: SmtpInbox
) -> None:
    notify = NotifyActivities(mail_settings, db_sessions)
    request = failed_step("twice/sequential")

    first = await notify.send_email(request)
    second = await notify.send_email(request)

    assert first.sent
    assert not second.sent
    assert second.message_id == first.message_id
    assert second.recipients == first.recipients
    await settle(smtp_inbox, 1)


async def test_concurrent_sends_of_one_key_go_out_once(
    mail_settings: Settings, db_sessions, smtp_inbox: SmtpInbox
) -> None:
    workers = [NotifyActivities(mail_settings, db_sessions) for _ in range(2)]
    request = failed_step("twice/concurrent")

    results = await asyncio.gather(
        *(ActivityEnvironment().run(workers[n % 2].send_email, request) for n in range(6))
    )

    assert sorted(result.sent for result in results) == [False] * 5 + [True]
    assert {result.message_id for result in results} == {results[0].message_id}
    await settle(smtp_inbox, 1)
    row = await stored(db_sessions, request.idempotency_key)
    assert row is not None
    assert row.state == "sent"


async def test_different_keys_go_out_separately(
    notify: NotifyActivities, smtp_inbox: SmtpInbox
) -> None:
    first = await notify.send_email(failed_step("keys/one"))
    second = await notify.send_email(failed_step("keys/two"))

    assert first.sent
    assert second.sent
    assert first.message_id != second.message_id
    messages = await smtp_inbox.wait_for(2)
    assert {m.message["Message-ID"] for m in messages} == {first.message_id, second.message_id}


@pytest.mark.parametrize(
    "request_",
    [
        failed_step("bad/unknown", event="no_such_event"),
        failed_step("bad/path", event="../notify"),
        failed_step("bad/layout", event="_layout"),
        failed_step("bad/missing", context={**RUN, "reason": "x"}),
    ],
    ids=["unknown-template", "path", "layout", "missing-variable"],
)
async def test_a_bad_template_fails_for_good(
    notify: NotifyActivities, smtp_inbox: SmtpInbox, sqlite_sessions, request_: EmailRequest
) -> None:
    with pytest.raises(ApplicationError) as failure:
        await notify.send_email(request_)

    assert failure.value.type == "EmailTemplateError"
    assert failure.value.non_retryable
    assert await stored(sqlite_sessions, request_.idempotency_key) is None
    assert smtp_inbox.messages == []


@pytest.mark.parametrize(
    ("to", "error_type"),
    [([], "NoRecipients"), (["  "], "NoRecipients"), (["not-an-address"], "InvalidRecipient")],
)
async def test_bad_recipients_fail_for_good(
    notify: NotifyActivities, to: list[str], error_type: str
) -> None:
    with pytest.raises(ApplicationError) as failure:
        await notify.send_email(failed_step("bad/recipients", to=to))

    assert failure.value.type == error_type
    assert failure.value.non_retryable


async def test_smtp_down_is_retryable_and_leaves_the_key_unsent(
    mail_settings: Settings, db_sessions, smtp_inbox: SmtpInbox, tmp_path: Path
) -> None:
    nowhere = mail_settings_for("127.0.0.1", free_port(), tmp_path)
    request = failed_step("smtp/down")

    with pytest.raises(aiosmtplib.SMTPConnectError) as failure:
        await ActivityEnvironment().run(NotifyActivities(nowhere, db_sessions).send_email, request)

    assert not isinstance(failure.value, ApplicationError)
    assert await stored(db_sessions, request.idempotency_key) is None
    result = await NotifyActivities(mail_settings, db_sessions).send_email(request)
    assert result.sent
    [captured] = await smtp_inbox.wait_for(1)
    assert captured.message["Message-ID"] == result.message_id


async def test_a_claim_left_by_a_crashed_attempt_is_resent_with_its_message_id(
    notify: NotifyActivities, sqlite_sessions, smtp_inbox: SmtpInbox
) -> None:
    request = failed_step("crashed/attempt")
    async with session_scope(sqlite_sessions) as session:
        session.add(
            SentEmail(
                key=request.idempotency_key,
                message_id="<crashed-attempt@baton.test>",
                recipients=["ap-team@acme.test"],
                subject="left over",
                state="sending",
                created_at=utcnow() - timedelta(hours=1),
            )
        )

    result = await notify.send_email(request)

    assert result.sent
    assert result.message_id == "<crashed-attempt@baton.test>"
    [captured] = await smtp_inbox.wait_for(1)
    assert captured.message["Message-ID"] == "<crashed-attempt@baton.test>"
    row = await stored(sqlite_sessions, request.idempotency_key)
    assert row is not None
    assert row.state == "sent"


async def test_a_live_claim_is_waited_for_until_its_lease_runs_out(
    mail_settings: Settings, sqlite_sessions, smtp_inbox: SmtpInbox
) -> None:
    notify = NotifyActivities(mail_settings, sqlite_sessions, claim_lease=timedelta(seconds=1))
    request = failed_step("live/claim")
    async with session_scope(sqlite_sessions) as session:
        session.add(
            SentEmail(
                key=request.idempotency_key,
                message_id="<live-claim@baton.test>",
                recipients=["ap-team@acme.test"],
                subject="in flight",
                state="sending",
                created_at=utcnow(),
            )
        )
    started = time.monotonic()

    result = await notify.send_email(request)

    assert time.monotonic() - started >= 0.8
    assert result.sent
    assert result.message_id == "<live-claim@baton.test>"
    await settle(smtp_inbox, 1)


async def test_approval_links_are_minted_per_approver_when_the_email_is_sent(
    mail_settings: Settings, sqlite_sessions, smtp_inbox: SmtpInbox, tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "decide.subject.txt").write_text("Please decide")
    (folder / "decide.txt").write_text("{{ approve_url }}\n{{ reject_url }}\n{{ review_url }}\n")
    (folder / "decide.html").write_text('<a href="{{ approve_url }}">Approve</a>')
    notify = NotifyActivities(mail_settings, sqlite_sessions, templates=EmailTemplates(folder))
    spec = ApprovalLinkSpec(
        org="acme",
        run="acme:leave_request:7",
        step="manager",
        task="manager#1",
        assignment=0,
        approver_id=3,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    request = EmailRequest(
        idempotency_key="acme:leave_request:7:assigned:3",
        event="decide",
        to=["liam.walker@acme.example"],
        context={},
        approval_links=spec,
    )

    await ActivityEnvironment().run(notify.send_email, request)

    [mail] = await smtp_inbox.wait_for(1)
    urls = mail.text().split()
    prefix = f"{mail_settings.api.public_url}/approvals/"
    assert all(url.startswith(prefix) for url in urls)
    read = [
        read_approval_token(mail_settings.secret_key(), url[len(prefix) :], time.time())
        for url in urls
    ]
    assert [claims.action for claims in read] == ["approve", "reject", "review"]
    assert {(c.run, c.approver_id, c.assignment) for c in read} == {("acme:leave_request:7", 3, 0)}
    assert "approvals/" not in str(request.model_dump())
