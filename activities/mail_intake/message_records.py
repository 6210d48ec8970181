"""The durable record of each message intake sees, keyed by Message-ID and content hash.

A message is recorded before anything is done with it and marked `handled` once its run is
started (or its reply applied, or its reason recorded), then `filed` once it is moved out of the
inbox. A message fetched again finds its record: a handled one is only filed again, a recorded
one is handled again with the same transaction id, so it never starts a second run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.engine import session_scope
from db.tables import MailMessageRow, utcnow


async def find_record(
    sessions: async_sessionmaker[AsyncSession], org: str, key: str
) -> MailMessageRow | None:
    """The org's record of the message with this key, if intake saw it before."""
    async with sessions() as session:
        query = select(MailMessageRow).where(
            MailMessageRow.org_id == org, MailMessageRow.message_key == key
        )
        return (await session.exec(query)).first()


async def find_by_uid(
    sessions: async_sessionmaker[AsyncSession], mailbox_id: int, uid_validity: int, uid: int
) -> MailMessageRow | None:
    """The record of the message that had this UID, if intake took it in."""
    async with sessions() as session:
        query = select(MailMessageRow).where(
            MailMessageRow.mailbox_id == mailbox_id,
            MailMessageRow.uid_validity == uid_validity,
            MailMessageRow.uid == uid,
        )
        return (await session.exec(query)).first()


async def record_message(
    sessions: async_sessionmaker[AsyncSession], row: MailMessageRow
) -> MailMessageRow:
    """Record a message seen for the first time; the existing record when another attempt won."""
    try:
        async with session_scope(sessions) as session:
            session.add(row)
        return row
    except IntegrityError:
        found = await find_record(sessions, row.org_id, row.message_key)
        if found is None:
            raise
        return found


async def mark_handled(
    sessions: async_sessionmaker[AsyncSession],
    record: MailMessageRow,
    *,
    classification: str,
    reason_code: str | None,
    reason: str | None,
    transaction_id: str | None = None,
    workflow_id: str | None = None,
) -> None:
    """What was done with the message, in the database and on `record`."""
    values: dict[str, object] = {
        "classification": classification,
        "reason_code": reason_code,
        "reason": reason,
        "transaction_id": transaction_id,
        "workflow_id": workflow_id,
        "state": "handled",
        "handled_at": utcnow(),
    }
    async with session_scope(sessions) as session:
        row = await session.get(MailMessageRow, record.id)
        if row is None:
            return
        row.sqlmodel_update(values)
        session.add(row)
    record.sqlmodel_update(values)


async def mark_filed(sessions: async_sessionmaker[AsyncSession], record_id: int) -> None:
    """The message left the inbox for the processed folder."""
    async with session_scope(sessions) as session:
        row = await session.get(MailMessageRow, record_id)
        if row is None or row.state == "filed":
            return
        row.state = "filed"
        row.filed_at = utcnow()
        session.add(row)


def new_record(
    *,
    org: str,
    mailbox_id: int,
    key: str,
    message_id: str | None,
    content_hash: str,
    size: int,
    uid_validity: int,
    uid: int,
    sender: str | None,
    subject: str | None,
    sent_at: datetime | None,
    classification: str,
) -> MailMessageRow:
    """A first record of a message."""
    return MailMessageRow(
        org_id=org,
        mailbox_id=mailbox_id,
        message_key=key,
        message_id=message_id[:500] if message_id else None,
        content_hash=content_hash,
        size=size,
        uid_validity=uid_validity,
        uid=uid,
        sender=sender[:320] if sender else None,
        subject=subject[:500] if subject else None,
        sent_at=sent_at,
        classification=classification,
        state="recorded",
    )
