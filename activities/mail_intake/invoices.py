"""A mailed invoice into an AP run: its files in the run's working folder, then the run.

The transaction id comes from the message's record key, so every attempt stores the same files
under the same keys and starts the same run. The message itself is kept as `message.eml` next
to its attachments, for audit.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.client import Client

from activities.ap_invoice_start import start_ap_invoice
from activities.mail_intake.message_parsing import ParsedMessage
from activities.storage import ObjectStore, safe_filename, storage_key
from models.ap_invoice import (
    MAX_MAIL_BODY,
    PROCESS_NAME,
    ApInvoiceInput,
    working_folder,
)
from models.approvals import Person
from models.invoices import MailMetadata
from models.mail import AttachmentKind, ClassifiedDocument

MESSAGE_FILE = "message.eml"
PDF = "application/pdf"


async def store_documents(
    store: ObjectStore,
    org: str,
    transaction_id: str,
    raw: bytes,
    message: ParsedMessage,
    documents: list[ClassifiedDocument],
) -> dict[AttachmentKind, str]:
    """Store the message and its invoice, PO and GRN; the storage key of each document."""
    await store.put(
        storage_key(org, PROCESS_NAME, transaction_id, MESSAGE_FILE), raw, "message/rfc822"
    )
    keys: dict[AttachmentKind, str] = {}
    used = {MESSAGE_FILE}
    for document in documents:
        _, data = message.attachments[document.index]
        name = safe_filename(document.filename, f"{document.kind}.pdf")
        if name in used:
            name = f"{document.kind}-{name}"
        used.add(name)
        keys[document.kind] = storage_key(org, PROCESS_NAME, transaction_id, name)
        await store.put(keys[document.kind], data, PDF)
    return keys


def ap_input(
    org: str,
    transaction_id: str,
    keys: dict[AttachmentKind, str],
    message: ParsedMessage,
    owner: Person,
    mailbox: str,
) -> ApInvoiceInput:
    """The AP run's input for a mailed invoice."""
    return ApInvoiceInput(
        org=org,
        transaction_id=transaction_id,
        working_folder=working_folder(org, transaction_id),
        invoice_file=keys["invoice"],
        po_file=keys.get("po"),
        grn_file=keys.get("grn"),
        source="mail",
        mail=MailMetadata(
            message_id=message.message_id,
            sender=message.sender_address,
            subject=message.subject[:500],
            received_at=message.date.isoformat() if message.date else None,
            extra={"mailbox": mailbox},
        ),
        mail_body=message.body_text[:MAX_MAIL_BODY],
        initiator=owner,
    )


async def start_mailed_invoice(client: Client, task_queue: str, run: ApInvoiceInput) -> None:
    """Start the invoice's run (or find it, when an earlier attempt started it)."""
    sender = run.mail.sender if run.mail and run.mail.sender else run.initiator.email
    await start_ap_invoice(
        client,
        task_queue,
        run,
        sender=sender,
        received_at=datetime.now(UTC),
        summary=f"Invoice mailed by {sender}",
    )
