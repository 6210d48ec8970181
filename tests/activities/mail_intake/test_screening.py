"""A mail becomes an invoice run only when every check passes; otherwise the reason says why."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from activities.mail_intake.message_parsing import ParsedMessage, parse_message
from activities.mail_intake.screening import (
    ScreeningContext,
    format_size,
    reply_reference,
    screen_message,
)
from models.mail import (
    REPLY_TOKEN_PATTERN,
    ClassifiedDocument,
    Screening,
    ScreeningRule,
    format_reply_token,
)
from tests.activities.pdf_samples import text_pdf
from tests.harness.mime_messages import (
    authentication_results,
    invoice_mail,
    plain_mail,
    reply_mail,
)

SUPPLIER = "Lieferant GmbH <billing@lieferant-gmbh.de>"
AP = "ap@acme.example"
INVOICE = text_pdf(["Lieferant GmbH", "INVOICE", "Invoice no. 2024-7"])
PURCHASE_ORDER = text_pdf(["ACME AG", "PURCHASE ORDER 4711"])
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
CONTEXT = ScreeningContext(
    supplier_domains=frozenset({"lieferant-gmbh.de", "other-supplier.fr"}),
    trusted_authserv_ids=["mx.example.org"],
    max_attachment_bytes=1024 * 1024,
    max_attachments=3,
)


def rule(variable: str, condition: str, value: str) -> ScreeningRule:
    return ScreeningRule.model_validate(
        {"variable": variable, "condition": condition, "value": value}
    )


def parsed(raw: bytes, context: ScreeningContext = CONTEXT) -> ParsedMessage:
    return parse_message(
        raw,
        max_attachment_bytes=context.max_attachment_bytes,
        max_attachments=context.max_attachments,
    )


async def screen(raw: bytes, context: ScreeningContext = CONTEXT, **changes: Any) -> Screening:
    context = replace(context, **changes)
    return await screen_message(parsed(raw, context), context)


def invoice(sender: str = SUPPLIER, **options: Any) -> bytes:
    pdfs = options.pop("pdfs", [("Rechnung 2024-7.pdf", INVOICE)])
    return invoice_mail(sender, AP, options.pop("subject", "Invoice 2024-7"), pdfs, **options)


async def test_a_supplier_invoice_is_screened_in() -> None:
    raw = invoice(pdfs=[("PO-4711.pdf", PURCHASE_ORDER), ("scan.pdf", INVOICE)])
    assert await screen(raw) == Screening(
        classification="invoice",
        documents=[
            ClassifiedDocument(index=0, filename="PO-4711.pdf", kind="po"),
            ClassifiedDocument(index=1, filename="scan.pdf", kind="invoice"),
        ],
    )


async def test_a_subdomain_of_a_supplier_is_accepted() -> None:
    screening = await screen(invoice("Billing <AP@Mail.Lieferant-GmbH.de>"))
    assert screening.classification == "invoice"


async def test_a_failed_dmarc_is_a_spoofed_sender() -> None:
    results = [authentication_results("mx.example.org", domain="lieferant-gmbh.de", dmarc="fail")]
    screening = await screen(invoice(authentication_results=results))
    assert (screening.classification, screening.reason) == ("unidentified", "spoofed_sender")
    assert screening.reason_text == (
        "the sender looks forged: DMARC failed for lieferant-gmbh.de (authserv-id mx.example.org)"
    )


async def test_a_forged_pass_does_not_hide_the_trusted_failure() -> None:
    results = [
        authentication_results("mx.example.org", domain="lieferant-gmbh.de", dmarc="fail"),
        "mx.example.org; dmarc=pass header.from=lieferant-gmbh.de",
    ]
    screening = await screen(invoice(authentication_results=results))
    assert screening.reason == "spoofed_sender"


async def test_required_authentication_refuses_unauthenticated_mail() -> None:
    forged = ["mx.spammer.example; dmarc=pass header.from=lieferant-gmbh.de"]
    screening = await screen(invoice(authentication_results=forged), require_authentication=True)
    assert screening.reason == "spoofed_sender"
    assert "no Authentication-Results of a trusted server" in screening.reason_text
    genuine = [authentication_results("mx.example.org", domain="lieferant-gmbh.de")]
    passed = await screen(invoice(authentication_results=genuine), require_authentication=True)
    assert passed.classification == "invoice"


async def test_an_oversized_attachment_is_named_with_its_size() -> None:
    big = b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 512 * 1024)
    screening = await screen(invoice(pdfs=[("scan.pdf", big)]))
    assert screening.reason == "attachment_too_large"
    assert screening.reason_text == "attachment scan.pdf is 1.5 MB; the limit is 1 MB"


def test_sizes_read_as_people_say_them() -> None:
    assert format_size(32_715_571) == "31.2 MB"
    assert format_size(20 * 1024 * 1024) == "20 MB"
    assert format_size(1536) == "1.5 KB"
    assert format_size(80) == "80 bytes"


async def test_too_many_attachments() -> None:
    pdfs = [(f"invoice-{number}.pdf", INVOICE) for number in range(4)]
    screening = await screen(invoice(pdfs=pdfs))
    assert screening.reason == "too_many_attachments"
    assert screening.reason_text == "the mail has 4 attachments; the limit is 3"


async def test_a_mail_without_attachment() -> None:
    screening = await screen(plain_mail(SUPPLIER, AP, "Invoice 2024-7", "see the portal"))
    assert screening.reason == "no_attachment"
    assert screening.reason_text == (
        "the mail has no attachment; an invoice must be attached as a PDF"
    )


async def test_attachments_that_are_not_pdfs() -> None:
    raw = invoice(
        pdfs=[],
        extra_attachments=[
            ("scan.pdf", "application/pdf", b"MZ an executable"),
            ("photo.png", "image/png", PNG),
        ],
    )
    screening = await screen(raw)
    assert screening.reason == "not_a_pdf"
    assert screening.reason_text == (
        "no attachment is a PDF: scan.pdf (named .pdf, but not a PDF file), photo.png"
    )


@pytest.mark.parametrize(
    "sender",
    [
        "billing@lieferant-gmbh.de.evil.com",
        "billing@evil-lieferant-gmbh.de",
        "billing@lieferant-gmbh.com",
    ],
)
async def test_look_alike_senders_are_unknown(sender: str) -> None:
    screening = await screen(invoice(sender))
    assert screening.reason == "unknown_sender"
    assert screening.reason_text == f"sender {sender} is not from a known supplier domain"


async def test_a_mail_without_sender_is_unknown() -> None:
    raw = invoice().replace(b"From: ", b"X-Old-From: ", 1)
    screening = await screen(raw)
    assert screening.reason == "unknown_sender"
    assert screening.reason_text == "the mail has no readable sender address"


async def test_the_first_failing_rule_is_named() -> None:
    rules = [
        rule("attachment_name", "ends_with", ".PDF"),
        rule("subject", "contains", "rechnung"),
        rule("body", "not_contains", "unsubscribe"),
    ]
    screening = await screen(invoice(subject="Invoice 2024-7"), rules=rules)
    assert screening.reason == "screening_rule"
    assert screening.reason_text == (
        "the mail does not meet the screening rule: subject contains 'rechnung' "
        "(subject: 'Invoice 2024-7')"
    )


async def test_every_rule_must_hold_and_case_does_not_matter() -> None:
    rules = [
        rule("subject", "contains", "INVOICE"),
        rule("sender_domain", "equals", "Lieferant-GmbH.de"),
        rule("sender_address", "not_equals", "noreply@lieferant-gmbh.de"),
        rule("attachment_name", "contains", "rechnung"),
        rule("has_pdf_attachment", "is", "TRUE"),
        rule("body", "not_contains", "newsletter"),
    ]
    assert (await screen(invoice(), rules=rules)).classification == "invoice"
    refused = await screen(invoice(body="Our newsletter"), rules=rules)
    assert refused.reason_text == (
        "the mail does not meet the screening rule: body does not contain 'newsletter'"
    )


async def test_checks_run_in_order() -> None:
    results = [authentication_results("mx.example.org", domain="evil.example", dmarc="fail")]
    spoofed_without_attachment = plain_mail(
        "x@evil.example", AP, "Hi", authentication_results=results
    )
    assert (await screen(spoofed_without_attachment)).reason == "spoofed_sender"
    unknown_without_pdf = invoice(
        "x@evil.example", pdfs=[], extra_attachments=[("a.png", "image/png", PNG)]
    )
    assert (await screen(unknown_without_pdf)).reason == "not_a_pdf"
    failing_rule_unknown_sender = invoice("x@evil.example", subject="Hello")
    screening = await screen(
        failing_rule_unknown_sender, rules=[rule("subject", "contains", "invoice")]
    )
    assert screening.reason == "unknown_sender"


async def test_pdfs_without_an_invoice() -> None:
    raw = invoice(pdfs=[("PO-4711.pdf", PURCHASE_ORDER), ("Lieferschein 9.pdf", INVOICE)])
    screening = await screen(raw)
    assert screening.reason == "no_attachment"
    assert screening.reason_text == (
        "no PDF attachment is the invoice: PO-4711.pdf is a purchase order, "
        "Lieferschein 9.pdf is a goods receipt"
    )


def test_rules_are_validated_and_described() -> None:
    assert rule("subject", "contains", "invoice").describe() == "subject contains 'invoice'"
    assert rule("sender_domain", "ends_with", ".de").describe() == "sender domain ends with '.de'"
    assert rule("body", "not_equals", "").describe() == "body does not equal ''"
    assert rule("has_pdf_attachment", "is", "false").describe() == "has no PDF attachment"
    invalid = [
        {"variable": "has_pdf_attachment", "condition": "contains", "value": "true"},
        {"variable": "has_pdf_attachment", "condition": "is", "value": "yes"},
        {"variable": "subject", "condition": "is", "value": "x"},
        {"variable": "subject", "condition": "contains", "value": "  "},
        {"variable": "subject", "condition": "contains", "value": "x" * 501},
        {"variable": "subject", "condition": "contains", "value": "x", "extra": 1},
        {"variable": "to", "condition": "contains", "value": "x"},
    ]
    for data in invalid:
        with pytest.raises(ValidationError):
            ScreeningRule.model_validate(data)


def test_attachment_name_rules_look_at_every_attachment() -> None:
    names = ["scan.pdf", "terms.docx"]
    assert rule("attachment_name", "ends_with", ".docx").holds(names)
    assert not rule("attachment_name", "not_contains", "terms").holds(names)
    assert not rule("attachment_name", "contains", "x").holds([])
    assert rule("attachment_name", "not_contains", "x").holds([])


def test_reply_tokens_round_trip() -> None:
    tag = format_reply_token("7k3m9qxz2b4p")
    assert tag == "[Baton #7K3M-9QXZ-2B4P]"
    match = REPLY_TOKEN_PATTERN.search(f"Re: AW: Approval needed {tag}")
    assert match is not None and match.group(1) == "7K3M-9QXZ-2B4P"
    for raw in ("7K3M-9QXZ-2B4", "7K3M-9QXZ-2B4I", "UUUU-UUUU-UUUU", ""):
        with pytest.raises(ValueError):
            format_reply_token(raw)


def test_a_reply_names_its_token_and_the_mails_it_answers() -> None:
    raw = reply_mail(
        "anna@acme.example",
        AP,
        "RE: Approval needed [baton #7k3m-9qxz-2b4p]",
        "APPROVE",
        in_reply_to="<ask-3@baton.example>",
        references=["<ask-1@baton.example>", "<ask-2@baton.example>", "<ask-3@baton.example>"],
    )
    reference = reply_reference(parsed(raw))
    assert reference.token == "7K3M-9QXZ-2B4P"
    assert reference.referenced_ids == [
        "<ask-3@baton.example>",
        "<ask-2@baton.example>",
        "<ask-1@baton.example>",
    ]
    plain = reply_reference(parsed(plain_mail("a@b.example", AP, "Re: [Baton #ILOU-0000-0000]")))
    assert plain.token is None and plain.referenced_ids == []
