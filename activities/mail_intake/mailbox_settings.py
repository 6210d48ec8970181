"""What intake needs to know about a mailbox: how to reach it, whom its invoices are for, and
the org's screening settings (rules, limits, its suppliers' domains)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities.directory import DirectoryActivities
from activities.mail_intake.imap_mailbox import ImapAccount
from activities.mail_intake.screening import ScreeningContext
from config.secrets import SecretResolver, SecretUnavailable
from db.tables import MailboxRow, MailScreening, SupplierRow
from models.approvals import Person, PersonQuery
from models.mail import ScreeningRule

DEFAULT_MAX_ATTACHMENTS = 10


@dataclass(frozen=True)
class MailboxContext:
    """One mailbox, ready to be read."""

    row: MailboxRow
    account: ImapAccount
    owner: Person
    screening: ScreeningContext

    @property
    def id(self) -> int:
        """The mailbox's id."""
        assert self.row.id is not None
        return self.row.id


def unknown_mailbox(org: str, mailbox_id: int) -> ApplicationError:
    """The refusal of a mailbox that is not the org's (or no longer exists)."""
    return ApplicationError(
        f"mailbox {mailbox_id} of {org} does not exist", type="UnknownMailbox", non_retryable=True
    )


async def mailbox_row(
    sessions: async_sessionmaker[AsyncSession], org: str, mailbox_id: int
) -> MailboxRow:
    """The org's mailbox; UnknownMailbox for another org's or a deleted one."""
    async with sessions() as session:
        row = await session.get(MailboxRow, mailbox_id)
    if row is None or row.org_id != org:
        raise unknown_mailbox(org, mailbox_id)
    return row


async def imap_account(row: MailboxRow, secrets: SecretResolver) -> ImapAccount:
    """How to log in to the mailbox; the password read from its secret reference now."""
    try:
        password = await secrets.resolve_async(row.password_ref)
    except SecretUnavailable as error:
        raise ApplicationError(
            str(error), type="SecretUnavailable", non_retryable=not error.retryable
        ) from None
    return ImapAccount(
        host=row.host,
        port=row.port,
        tls=row.tls,  # type: ignore[arg-type]
        username=row.username,
        password=password.get_secret_value(),
        folder=row.folder,
        processed_folder=row.processed_folder,
    )


async def mailbox_context(
    sessions: async_sessionmaker[AsyncSession],
    secrets: SecretResolver,
    org: str,
    mailbox_id: int,
    default_max_attachment_bytes: int,
) -> MailboxContext:
    """Everything intake needs to read the mailbox and judge its messages."""
    row = await mailbox_row(sessions, org, mailbox_id)
    account = await imap_account(row, secrets)
    owner = await _owner(sessions, row)
    async with sessions() as session:
        screening = await session.get(MailScreening, org)
        domains = await _supplier_domains(session, org)
    return MailboxContext(
        row=row,
        account=account,
        owner=owner,
        screening=ScreeningContext(
            rules=[ScreeningRule.model_validate(rule) for rule in screening.rules]
            if screening
            else [],
            supplier_domains=domains,
            trusted_authserv_ids=list(row.trusted_authserv_ids),
            require_authentication=row.require_authentication,
            max_attachment_bytes=screening.max_attachment_bytes
            if screening
            else default_max_attachment_bytes,
            max_attachments=screening.max_attachments if screening else DEFAULT_MAX_ATTACHMENTS,
        ),
    )


async def _owner(sessions: async_sessionmaker[AsyncSession], row: MailboxRow) -> Person:
    """The member invoices from this mailbox are started for, or the mailbox itself."""
    if row.owner_id is not None:
        query = PersonQuery(org=row.org_id, user_id=row.owner_id)
        found = (await DirectoryActivities(sessions).find_person(query)).person
        if found is not None:
            return found
    return Person(id=0, email=row.address, name=f"Mailbox {row.name}", org=row.org_id)


async def _supplier_domains(session: AsyncSession, org: str) -> frozenset[str]:
    query = select(SupplierRow.email_domains).where(
        SupplierRow.org_id == org, col(SupplierRow.active).is_(True)
    )
    return frozenset(
        domain.lower() for domains in (await session.exec(query)).all() for domain in domains
    )
