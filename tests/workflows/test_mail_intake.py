"""Mail intake end to end: a real Dovecot mailbox, the real intake and AP workflows and workers,
SQLite, local files and SMTP. Every invoice mail starts exactly one AP run, every other mail is
recorded with its reason, and nothing is lost or doubled when a check dies halfway."""

from __future__ import annotations

import uuid
from collections import Counter

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment

from activities.mail_intake.activity import MailIntakeActivities
from config.secrets import SecretResolver
from db.engine import session_scope
from db.tables import MailMessageRow
from models.ap_invoice import ApInvoiceResult
from models.mailboxes import (
    MailboxRef,
    MailIntakeInput,
    TakeInRequest,
    UnseenMessage,
    mail_intake_workflow_id,
)
from starter.sample_invoices import demo_samples
from tests.harness.mime_messages import invoice_mail, plain_mail
from tests.workflows.conftest import MailEnv, ap_runs, records, until_recorded
from tests.workflows.mail_scenarios import (
    INBOX_ADDRESS,
    SUPPLIER,
    invoice_message,
    run_intake,
    set_screening,
    supplier_results,
)
from worker import build_activity_deps
from workflows.mail_intake import MailIntakeWorkflow

LARGE_BYTES = 256 * 1024
"""acme's attachment limit in the mixed inbox; the large mails' PDFs are a little over it."""


async def test_an_invoice_mail_starts_one_run_that_posts_and_the_mail_is_filed(
    mail_env: MailEnv,
) -> None:
    raw = invoice_message(f"-mail-{uuid.uuid4().hex[:6]}")
    mail_env.deliver(raw)

    result = await run_intake(mail_env.client, mail_env.settings, mail_env.mailbox_id)

    assert (result.seen, result.filed, result.handled) == (1, 1, {"started": 1})
    assert mail_env.unseen() == [] and len(mail_env.processed()) == 1
    [record] = await records(mail_env)
    assert (record.classification, record.state, record.sender) == ("invoice", "filed", SUPPLIER)
    assert record.workflow_id is not None and record.transaction_id is not None
    handle = mail_env.client.get_workflow_handle(record.workflow_id, result_type=ApInvoiceResult)
    outcome = await handle.result()
    assert outcome.outcome == "posted", outcome.reason
    folder = mail_env.files / "acme" / "ap_invoice" / record.transaction_id
    assert (folder / "message.eml").read_bytes() == raw
    assert (folder / "manifest.json").exists()
    assert any(path.name.startswith("Rechnung") for path in folder.iterdir())


async def test_the_same_message_again_is_filed_without_a_second_run(mail_env: MailEnv) -> None:
    raw = invoice_message(f"-again-{uuid.uuid4().hex[:6]}")
    mail_env.deliver(raw)
    await run_intake(mail_env.client, mail_env.settings, mail_env.mailbox_id)
    # Its \Seen flag did not stick, or a copy arrived: the same bytes are unread again.
    mail_env.deliver(raw)

    again = await run_intake(mail_env.client, mail_env.settings, mail_env.mailbox_id)

    assert again.handled == {"already_started": 1}
    assert len(await records(mail_env)) == 1
    assert len(await ap_runs(mail_env)) == 1
    assert mail_env.unseen() == [] and len(mail_env.processed()) == 2


async def test_a_spoofed_supplier_mail_is_refused_and_recorded(mail_env: MailEnv) -> None:
    spoofed = invoice_message(
        f"-spoof-{uuid.uuid4().hex[:6]}",
        authentication_results=supplier_results(dmarc="fail", spf="fail", dkim="fail"),
    )
    mail_env.deliver(spoofed)

    result = await run_intake(mail_env.client, mail_env.settings, mail_env.mailbox_id)

    assert result.handled == {"unidentified": 1}
    [record] = await records(mail_env)
    assert (record.classification, record.reason_code) == ("unidentified", "spoofed_sender")
    assert record.reason is not None and "lieferant.de" in record.reason
    assert record.workflow_id is None
    assert mail_env.unseen() == []


async def test_an_unknown_sender_and_a_mail_without_attachment_are_recorded_with_reasons(
    mail_env: MailEnv,
) -> None:
    stranger = invoice_message(f"-x-{uuid.uuid4().hex[:6]}", sender="billing@unknown.example")
    note = plain_mail(SUPPLIER, INBOX_ADDRESS, "Our new bank details")
    mail_env.deliver(stranger, note)

    result = await run_intake(mail_env.client, mail_env.settings, mail_env.mailbox_id)

    assert result.handled == {"unidentified": 2}
    reasons = {record.sender: record.reason_code for record in await records(mail_env)}
    assert reasons == {"billing@unknown.example": "unknown_sender", SUPPLIER: "no_attachment"}


async def test_a_check_killed_halfway_then_run_again_misses_nothing_and_doubles_nothing(
    mail_env: MailEnv,
) -> None:
    token = uuid.uuid4().hex[:6]
    invoices = [invoice_message(f"-k{token}-{number}") for number in range(12)]
    notes = [plain_mail(SUPPLIER, INBOX_ADDRESS, f"note {number}") for number in range(12)]
    mail_env.deliver(*[raw for pair in zip(invoices, notes, strict=True) for raw in pair])
    handle = await mail_env.client.start_workflow(
        MailIntakeWorkflow.run,
        MailIntakeInput(org="acme", mailbox_id=mail_env.mailbox_id, chunk_size=2),
        id=f"{mail_intake_workflow_id('acme', mail_env.mailbox_id)}-killed",
        task_queue=mail_env.settings.task_queues().workflows,
    )
    await until_recorded(mail_env, 6)
    await handle.terminate("killed halfway through the batch")
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    assert mail_env.unseen(), "the check was killed before it took everything in"

    await run_intake(mail_env.client, mail_env.settings, mail_env.mailbox_id)

    kept = await records(mail_env)
    assert len(kept) == 24
    assert Counter(record.classification for record in kept) == {
        "invoice": 12,
        "unidentified": 12,
    }
    assert all(record.state == "filed" for record in kept)
    assert len(await ap_runs(mail_env)) == 12
    assert mail_env.unseen() == [] and len(mail_env.processed()) == 24


def mixed_mail(token: str) -> tuple[list[bytes], Counter[str]]:
    """200 messages in the order a busy inbox gets them, and the reason expected of each
    unidentified one (`invoice` for the invoices)."""
    pdf = demo_samples(f"-m{token}")["matched-under-threshold"].pdf()
    kinds: list[tuple[str, bytes]] = []
    for number in range(40):
        kinds.append(("invoice", invoice_message(f"-m{token}-{number}")))
        kinds.append(("no_attachment", plain_mail(SUPPLIER, INBOX_ADDRESS, f"Statement {number}")))
        kinds.append(
            (
                "unknown_sender",
                invoice_message(f"-u{token}-{number}", sender=f"ap{number}@unknown.example"),
            )
        )
        if number % 2:
            spoofed = supplier_results(dmarc="fail", spf="fail", dkim="fail")
            kinds.append(
                (
                    "spoofed_sender",
                    invoice_message(f"-s{token}-{number}", authentication_results=spoofed),
                )
            )
        else:
            fake = [("scan.pdf", "application/pdf", b"PK\x03\x04 not really a pdf")]
            kinds.append(
                (
                    "not_a_pdf",
                    plain_mail(
                        SUPPLIER,
                        INBOX_ADDRESS,
                        "Invoice attached",
                        attachments=fake,
                        authentication_results=supplier_results(),
                    ),
                )
            )
        if number % 4 == 0:
            large = [("invoice.pdf", "application/pdf", pdf + b"%" * LARGE_BYTES)]
            kinds.append(
                (
                    "attachment_too_large",
                    plain_mail(SUPPLIER, INBOX_ADDRESS, "Big", attachments=large),
                )
            )
        elif number % 4 == 1:
            garbage = b"\x00\x01\x02 %d bytes of garbage without any header\r\n" % number
            kinds.append(("unreadable_message", garbage))
        elif number % 4 == 2:
            reply = plain_mail(
                "liam.walker@acme.example", INBOX_ADDRESS, "Re: [Baton #ABCD-EFGH-JKMN]"
            )
            kinds.append(("no_matching_approval", reply))
        else:
            kinds.append(
                (
                    "screening_rule",
                    invoice_mail(
                        SUPPLIER,
                        INBOX_ADDRESS,
                        f"Documents {number}",
                        [("document.pdf", pdf)],
                        authentication_results=supplier_results(),
                    ),
                )
            )
    return [raw for _, raw in kinds], Counter(kind for kind, _ in kinds)


async def test_200_mixed_messages_start_each_invoice_once_and_record_every_other_reason(
    mail_env: MailEnv,
) -> None:
    await set_screening(
        mail_env.sessions,
        [{"variable": "subject", "condition": "contains", "value": "invoice"}],
        max_attachment_bytes=LARGE_BYTES,
    )
    messages, expected = mixed_mail(uuid.uuid4().hex[:6])
    assert len(messages) == 200
    mail_env.deliver(*messages)

    result = await run_intake(mail_env.client, mail_env.settings, mail_env.mailbox_id)

    kept = await records(mail_env)
    assert len(kept) == 200
    assert Counter(record.reason_code or record.classification for record in kept) == expected
    assert all(record.reason for record in kept if record.classification == "unidentified")
    assert all(record.state == "filed" for record in kept)
    invoices = [record for record in kept if record.classification == "invoice"]
    assert len({record.workflow_id for record in invoices}) == 40
    assert len(await ap_runs(mail_env)) == 40
    assert mail_env.unseen() == [] and len(mail_env.processed()) == 200
    assert (result.seen, result.filed, result.handled["started"]) == (200, 200, 40)


async def test_a_message_filed_by_an_attempt_that_died_before_saying_so_is_marked_filed(
    mail_env: MailEnv,
) -> None:
    mail_env.deliver(plain_mail(SUPPLIER, INBOX_ADDRESS, "Statement"))
    listing = await run_intake(mail_env.client, mail_env.settings, mail_env.mailbox_id)
    assert listing.filed == 1
    [record] = await records(mail_env)
    assert record.id is not None and record.uid is not None and record.uid_validity is not None
    async with session_scope(mail_env.sessions) as session:
        row = await session.get(MailMessageRow, record.id)
        assert row is not None
        row.state, row.filed_at = "handled", None
        session.add(row)
    intake = build_activity_deps(mail_env.settings, mail_env.sessions).mail_intake
    retried = TakeInRequest(
        org="acme",
        mailbox_id=mail_env.mailbox_id,
        uid_validity=record.uid_validity,
        messages=[UnseenMessage(uid=record.uid, size=record.size)],
        intake_run="acme:mail_intake:retried",
    )

    result = await ActivityEnvironment().run(intake.take_in_messages, retried)

    [outcome] = result.outcomes
    assert (outcome.handling, outcome.filed, outcome.reason_code) == (
        "unidentified",
        True,
        "no_attachment",
    )
    [again] = await records(mail_env)
    assert again.state == "filed" and again.filed_at is not None


async def test_a_message_too_large_to_download_is_recorded_by_its_size_and_filed(
    mail_env: MailEnv,
) -> None:
    big = plain_mail(
        SUPPLIER,
        INBOX_ADDRESS,
        "Scans",
        attachments=[("scans.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * 300_000)],
    )
    mail_env.deliver(big)
    [uid] = mail_env.unseen()
    deps = build_activity_deps(mail_env.settings, mail_env.sessions)
    intake = MailIntakeActivities(
        mail_env.settings,
        mail_env.sessions,
        deps.store,
        SecretResolver(mail_env.settings.secrets),
        max_message_bytes=100_000,
    )
    request = TakeInRequest(
        org="acme",
        mailbox_id=mail_env.mailbox_id,
        uid_validity=(
            await intake.list_unseen_messages(
                MailboxRef(org="acme", mailbox_id=mail_env.mailbox_id)
            )
        ).uid_validity,
        messages=[UnseenMessage(uid=uid, size=len(big))],
        intake_run="acme:mail_intake:too-large",
    )

    result = await ActivityEnvironment().run(intake.take_in_messages, request)

    [outcome] = result.outcomes
    assert (outcome.handling, outcome.reason_code, outcome.filed) == (
        "unidentified",
        "attachment_too_large",
        True,
    )
    assert outcome.reason is not None and "are not downloaded" in outcome.reason
    [record] = await records(mail_env)
    assert (record.state, record.sender) == ("filed", None)
    assert mail_env.unseen() == [] and len(mail_env.processed()) == 1
