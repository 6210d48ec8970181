"""Approval by reply: an approver answers an approval email with APPROVE or REJECT.

The reply is matched to the email it answers by the reply token in its subject, or else by
In-Reply-To / References naming that email's Message-ID. It is applied only when it comes from
the approver's own address (and the sender is not spoofed, as far as the trusted
Authentication-Results tell), through the same validated path as the approval links.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.approval_links import ApprovalLinkClaims
from activities.directory import DirectoryActivities
from activities.link_decisions import apply_decision
from activities.mail_intake.message_parsing import ParsedMessage
from activities.mail_intake.reply_commands import parse_reply_command
from activities.mail_intake.screening import ScreeningContext, reply_reference, spoofing
from db.tables import SentEmail
from models.approvals import PersonQuery
from models.mail import UnidentifiedReason
from models.notifications import ApprovalLinkSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplyMatch:
    """The approval task a reply answers, or the reason a token matched nothing."""

    approval: ApprovalLinkSpec | None
    unmatched_token: str | None = None


@dataclass(frozen=True)
class ReplyOutcome:
    """Whether the reply decided its task, and if not, why (in words for a person)."""

    applied: bool
    reason_code: UnidentifiedReason | None
    reason: str
    workflow_id: str


async def match_reply(
    sessions: async_sessionmaker[AsyncSession], org: str, message: ParsedMessage
) -> ReplyMatch | None:
    """The org's approval email this message replies to; None when it is no reply to one."""
    reference = reply_reference(message)
    if reference.token is None and not reference.referenced_ids:
        return None
    token = reference.token.replace("-", "") if reference.token else None
    async with sessions() as session:
        query = select(SentEmail).where(col(SentEmail.approval).is_not(None))
        if token is not None:
            query = query.where(SentEmail.reply_token == token)
        else:
            query = query.where(col(SentEmail.message_id).in_(reference.referenced_ids))
        rows = (await session.exec(query)).all()
    for row in rows:
        approval = ApprovalLinkSpec.model_validate(row.approval)
        if approval.org == org:
            return ReplyMatch(approval)
    return ReplyMatch(None, unmatched_token=reference.token) if token is not None else None


async def apply_reply(
    client: Client,
    directory: DirectoryActivities,
    approval: ApprovalLinkSpec,
    message: ParsedMessage,
    screening: ScreeningContext,
) -> ReplyOutcome:
    """Decide the task the reply answers, if its sender may and it says how."""
    run = approval.run
    spoofed = spoofing(message, screening)
    if spoofed is not None:
        return ReplyOutcome(False, "spoofed_sender", spoofed, run)
    lookup = await directory.find_person(
        PersonQuery(org=approval.org, user_id=approval.approver_id)
    )
    approver = lookup.person
    sender = (message.sender_address or "").lower()
    if approver is None or approver.email.lower() != sender:
        return ReplyOutcome(
            False,
            "not_the_assignee",
            f"the reply came from {sender or 'an unknown sender'}, not from the approver the "
            "email was sent to",
            run,
        )
    command = parse_reply_command(message.body_text)
    if command is None:
        return ReplyOutcome(
            False,
            "no_decision",
            "the reply does not start with APPROVE or REJECT",
            run,
        )
    if approval.expires_at.timestamp() <= time.time():
        return ReplyOutcome(False, "no_matching_approval", "the approval request has expired", run)
    claims = ApprovalLinkClaims(
        **approval.model_dump(exclude={"expires_at"}),
        action="review",
        expires_at=int(approval.expires_at.timestamp()),
    )
    outcome = await apply_decision(client, claims, approver, command.decision, command.reason)
    if outcome.verdict == "done":
        logger.info("%s %sd %s by reply", approver.email, command.decision, run)
        return ReplyOutcome(True, None, f"{outcome.message} by {approver.name}", run)
    return ReplyOutcome(False, "no_matching_approval", outcome.message, run)
