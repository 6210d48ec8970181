"""Mails are read as far as they go: sender, ids, text and attachments, even from broken MIME."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from activities.mail_intake.message_parsing import (
    MAX_BODY_CHARS,
    ParsedMessage,
    UnreadableMessage,
    parse_message,
)
from tests.activities.pdf_samples import text_pdf
from tests.harness.mime_messages import (
    authentication_results,
    invoice_mail,
    plain_mail,
    reply_mail,
)

INVOICE = text_pdf(["Lieferant GmbH", "RECHNUNG 2024-001"])
LIMITS = {"max_attachment_bytes": 1024 * 1024, "max_attachments": 5}


def parse(raw: bytes, **limits: int) -> ParsedMessage:
    return parse_message(raw, **{**LIMITS, **limits})


def test_a_supplier_mail_is_read() -> None:
    raw = invoice_mail(
        '"Lieferant GmbH, Buchhaltung" <Billing@Lieferant.DE>',
        "ap@acme.example",
        "Rechnung 2024-001",
        [("Rechnung 2024-001.pdf", INVOICE)],
        message_id="<inv-1@lieferant.de>",
        authentication_results=[authentication_results("mx.acme.example", domain="lieferant.de")],
    )
    message = parse(raw)
    assert message.sender_address == "billing@lieferant.de"
    assert message.sender_name == "Lieferant GmbH, Buchhaltung"
    assert message.sender_domain == "lieferant.de"
    assert message.subject == "Rechnung 2024-001"
    assert message.message_id == "<inv-1@lieferant.de>"
    assert message.date is not None and message.date.tzinfo is not None
    assert "please find our invoice attached." in message.body_text
    assert "\r" not in message.body_text
    assert message.content_hash == hashlib.sha256(raw).hexdigest()
    assert message.header("to") == "ap@acme.example"
    assert message.header("X-Missing") is None
    [(attachment, data)] = message.attachments
    assert data == INVOICE
    assert attachment.filename == "Rechnung 2024-001.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.size == len(INVOICE)
    assert attachment.sha256 == hashlib.sha256(INVOICE).hexdigest()
    assert attachment.is_pdf and not attachment.oversized
    [results] = message.authentication_results
    assert results.startswith("mx.acme.example; dkim=pass")
    assert "\n" not in results


def test_reply_ids_are_normalised() -> None:
    raw = reply_mail(
        "anna@acme.example",
        "ap@acme.example",
        "Re: Approval",
        "APPROVE",
        message_id="< reply-1 @acme.example >",
        in_reply_to="<ask-2@baton.example>",
        references=["<ask-1@baton.example>", "<ask-2@baton.example>"],
    )
    message = parse(raw)
    assert message.message_id == "<reply-1@acme.example>"
    assert message.in_reply_to == ["<ask-2@baton.example>"]
    assert message.references == ["<ask-1@baton.example>", "<ask-2@baton.example>"]


def test_authentication_results_keep_their_order() -> None:
    raw = plain_mail(
        "a@lieferant.de",
        "ap@acme.example",
        "Hi",
        authentication_results=["mx.acme.example; dmarc=fail", "mx.acme.example; dmarc=pass"],
    )
    assert parse(raw).authentication_results == [
        "mx.acme.example; dmarc=fail",
        "mx.acme.example; dmarc=pass",
    ]


def test_plain_text_is_preferred_and_html_is_read_when_alone() -> None:
    both = plain_mail(
        "a@lieferant.de", "ap@acme.example", "Hi", "plain words", html="<p>html words</p>"
    )
    assert parse(both).body_text.strip() == "plain words"
    html_only = (
        b"From: a@lieferant.de\r\nSubject: Hi\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p {color: red}</style></head><body><p>Gr\xc3\xbc&szlig;e</p>"
        b"<script>alert(1)</script><div>Invoice&nbsp;attached</div></body></html>"
    )
    assert parse(html_only).body_text == "Grüße\n\nInvoice attached"


def test_the_body_is_capped() -> None:
    raw = plain_mail("a@lieferant.de", "ap@acme.example", "Long", "x" * (MAX_BODY_CHARS + 500))
    assert len(parse(raw).body_text) == MAX_BODY_CHARS


def test_oversized_attachments_keep_only_their_metadata() -> None:
    big = b"%PDF-1.4\n" + b"0" * 4000
    raw = invoice_mail("a@lieferant.de", "ap@acme.example", "Big", [("scan.pdf", big)])
    [(attachment, data)] = parse(raw, max_attachment_bytes=1000).attachments
    assert data == b""
    assert attachment.oversized and attachment.is_pdf
    assert attachment.size == len(big)
    assert attachment.sha256 == hashlib.sha256(big).hexdigest()


def test_attachments_past_the_limit_keep_only_their_metadata() -> None:
    pdfs = [(f"invoice-{number}.pdf", INVOICE) for number in range(4)]
    raw = invoice_mail("a@lieferant.de", "ap@acme.example", "Many", pdfs)
    attachments = parse(raw, max_attachments=2).attachments
    assert [attachment.filename for attachment, _ in attachments] == [name for name, _ in pdfs]
    assert [bool(data) for _, data in attachments] == [True, True, False, False]


def _part(headers: str, body: bytes) -> bytes:
    return b"--B\r\n" + headers.encode() + b"\r\n\r\n" + body + b"\r\n"


def test_pdfs_count_however_they_are_attached_and_inline_images_do_not() -> None:
    raw = (
        b"From: a@lieferant.de\r\nSubject: Parts\r\nContent-Type: multipart/mixed; boundary=B"
        b"\r\n\r\n"
        + _part("Content-Type: text/plain", b"see attached")
        + _part("Content-Type: application/pdf\r\nContent-Disposition: inline", INVOICE)
        + _part('Content-Type: application/octet-stream; name="bill.PDF"', INVOICE)
        + _part("Content-Type: application/octet-stream", INVOICE)
        + _part('Content-Type: image/png\r\nContent-Disposition: inline; filename="logo.png"', b"")
        + _part(
            'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="fake.pdf"',
            b"MZ not a pdf",
        )
        + b"--B--\r\n"
    )
    attachments = [attachment for attachment, _ in parse(raw).attachments]
    assert [(a.filename, a.is_pdf) for a in attachments] == [
        ("attachment-1.pdf", True),
        ("bill.PDF", True),
        ("attachment-3.pdf", True),
        ("fake.pdf", False),
    ]


@pytest.mark.parametrize(
    ("declared", "cleaned"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\me\\invoice.pdf", "invoice.pdf"),
        ("in\x00vo\x1bice.pdf", "in_vo_ice.pdf"),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
    ],
)
def test_attachment_names_are_sanitised(declared: str, cleaned: str) -> None:
    raw = invoice_mail("a@lieferant.de", "ap@acme.example", "Names", [("x.pdf", INVOICE)])
    encoded = f"filename*=utf-8''{quote(declared, safe='')}"
    raw = raw.replace(b'filename="x.pdf"', encoded.encode("ascii"))
    [(attachment, _)] = parse(raw).attachments
    assert attachment.filename == cleaned


MALFORMED = {
    "unclosed-boundary": (
        b"From: a@lieferant.de\r\nSubject: Broken\r\nContent-Type: multipart/mixed; boundary=B"
        b"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B\r\n"
        b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0x"
    ),
    "boundary-never-used": (
        b"From: a@lieferant.de\r\nSubject: Broken\r\nContent-Type: multipart/mixed; boundary=B"
        b"\r\n\r\nno parts here at all\r\n"
    ),
    "bad-base64": (
        b"From: a@lieferant.de\r\nSubject: Bad\r\nContent-Type: multipart/mixed; boundary=B"
        b"\r\n\r\n--B\r\nContent-Type: application/pdf; name=a.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0x!!!LjQK*\r\n--B--\r\n"
    ),
    "no-from-no-date": b"Subject: only a subject\r\n\r\nbody",
    "bad-charsets": (
        b"From: =?x-unknown?q?M=FCller?= <a@lieferant.de>\r\nSubject: =?utf-8?b?####?= ok\r\n"
        b"Content-Type: text/plain; charset=x-nonsense\r\n\r\nGr\xfc\xdfe"
    ),
    "bad-date": b"From: a@lieferant.de\r\nDate: the day after tomorrow\r\n\r\nbody",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_mail_is_read_without_raising(raw: bytes) -> None:
    message = parse(raw)
    assert message.sender_address or message.subject
    assert message.date is None


def test_what_broken_mail_still_gives() -> None:
    assert parse(MALFORMED["unclosed-boundary"]).body_text.strip() == "hello"
    [(attachment, data)] = parse(MALFORMED["bad-base64"]).attachments
    assert attachment.filename == "a.pdf" and data.startswith(b"%PDF-1")
    assert parse(MALFORMED["no-from-no-date"]).sender_address is None
    assert parse(MALFORMED["bad-charsets"]).body_text == "Grüße"


def test_a_non_utf8_subject_is_decoded() -> None:
    latin1 = b"From: a@lieferant.de\r\nSubject: Rechnung f\xfcr M\xe4rz\r\n\r\nbody"
    assert parse(latin1).subject == "Rechnung für März"
    utf8 = b"From: a@lieferant.de\r\nSubject: Rechnung f\xc3\xbcr M\xc3\xa4rz\r\n\r\nbody"
    assert parse(utf8).subject == "Rechnung für März"
    encoded = b"From: a@lieferant.de\r\nSubject: =?iso-8859-1?q?f=FCr?= =?utf-8?q?M=C3=A4rz?=\r\n"
    assert parse(encoded + b"\r\nbody").subject == "fürMärz"


def test_dates_without_a_zone_are_utc() -> None:
    raw = b"From: a@lieferant.de\r\nDate: Mon, 04 Mar 2024 10:15:00 -0000\r\n\r\nbody"
    assert parse(raw).date == datetime(2024, 3, 4, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [b"", b"  \r\n", b"\x00\x01\x02garbage\xff\xfe", b"X-Only: header\r\n\r\nsome text"],
    ids=["empty", "blank", "garbage", "nothing-usable"],
)
def test_mail_with_nothing_usable_is_unreadable(raw: bytes) -> None:
    with pytest.raises(UnreadableMessage):
        parse(raw)
