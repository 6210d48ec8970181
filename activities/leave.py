"""Leave balances and approved leave: look-ups, overlap checks and the once-only deduction.

`record_approved_leave` inserts a `leave_record` row under a unique idempotency key and
deducts the balance in the same transaction: a retried or re-run activity hits the unique
key, rolls back, and reports the first deduction instead of deducting again.
"""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.engine import session_scope
from db.tables import LeaveBalance, LeaveRecord, utcnow
from models.leave import (
    Balance,
    BalanceQuery,
    LeavePeriod,
    LeaveRecorded,
    OverlapQuery,
    Overlaps,
    RecordLeave,
)

logger = logging.getLogger(__name__)


async def balance_of(session: AsyncSession, org: str, user_id: int, leave_type: str) -> int | None:
    """Days left of a leave type, or None when the person has no balance of it."""
    query = select(LeaveBalance).where(
        LeaveBalance.org_id == org,
        LeaveBalance.user_id == user_id,
        LeaveBalance.leave_type == leave_type,
    )
    row = (await session.exec(query)).first()
    return row.days if row else None


class LeaveActivities:
    """Leave activities on the app database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="leave_balance")
    async def leave_balance(self, query: BalanceQuery) -> Balance:
        """A person's balance of a leave type in their org."""
        async with self._sessions() as session:
            return Balance(
                days=await balance_of(session, query.org, query.user_id, query.leave_type)
            )

    @activity.defn(name="find_overlapping_leave")
    async def find_overlapping_leave(self, query: OverlapQuery) -> Overlaps:
        """Approved leave of the person that shares a day with the given dates."""
        statement = select(LeaveRecord).where(
            LeaveRecord.org_id == query.org,
            LeaveRecord.user_id == query.user_id,
            col(LeaveRecord.start_date) <= query.end,
            col(LeaveRecord.end_date) >= query.start,
        )
        async with self._sessions() as session:
            rows = (await session.exec(statement)).all()
        return Overlaps(
            periods=[
                LeavePeriod(
                    leave_type=row.leave_type,
                    start=row.start_date,
                    end=row.end_date,
                    days=row.days,
                    workflow_id=row.workflow_id,
                )
                for row in rows
            ]
        )

    @activity.defn(name="record_approved_leave")
    async def record_approved_leave(self, request: RecordLeave) -> LeaveRecorded:
        """Record the approved leave and deduct it, once per idempotency key."""
        try:
            async with session_scope(self._sessions) as session:
                session.add(
                    LeaveRecord(
                        idempotency_key=request.idempotency_key,
                        org_id=request.org,
                        user_id=request.user_id,
                        leave_type=request.leave_type,
                        start_date=request.start,
                        end_date=request.end,
                        days=request.days,
                        deducted=request.deduct,
                        workflow_id=request.workflow_id,
                    )
                )
                await session.flush()
                if request.deduct:
                    await self._deduct(session, request)
                remaining = await balance_of(
                    session, request.org, request.user_id, request.leave_type
                )
        except IntegrityError:
            return await self._already_recorded(request)
        logger.info("recorded leave %s (%d days)", request.idempotency_key, request.days)
        return LeaveRecorded(deducted=request.deduct, days=request.days, remaining_days=remaining)

    async def _deduct(self, session: AsyncSession, request: RecordLeave) -> None:
        statement = (
            update(LeaveBalance)
            .where(col(LeaveBalance.org_id) == request.org)
            .where(col(LeaveBalance.user_id) == request.user_id)
            .where(col(LeaveBalance.leave_type) == request.leave_type)
            .where(col(LeaveBalance.days) >= request.days)
            .values(days=col(LeaveBalance.days) - request.days, updated_at=utcnow())
        )
        result = await session.exec(statement)
        if result.rowcount != 1:
            raise ApplicationError(
                f"the {request.leave_type} balance does not cover {request.days} day(s)",
                type="InsufficientLeaveBalance",
                non_retryable=True,
            )

    async def _already_recorded(self, request: RecordLeave) -> LeaveRecorded:
        async with self._sessions() as session:
            query = select(LeaveRecord).where(
                LeaveRecord.idempotency_key == request.idempotency_key
            )
            row = (await session.exec(query)).first()
            if row is None:
                raise ApplicationError("the leave record could not be written", type="LeaveRecord")
            remaining = await balance_of(session, row.org_id, row.user_id, row.leave_type)
        logger.info("leave %s was already recorded", request.idempotency_key)
        return LeaveRecorded(deducted=False, days=row.days, remaining_days=remaining)
