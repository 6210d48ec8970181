"""Who may read and change an org's AP reference data, and the checks every write shares:
another org's records are not found, references must name the caller's org, and a write
that breaks a unique rule is a conflict with nothing half-written."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import Principal, require_roles
from db.tables import Department

AP_READ_ROLES = ("ap_clerk", "finance_approver", "cfo", "admin", "operator")
"""Roles that read suppliers, aliases, purchase orders and receipts; only admins change them."""

ApReader = Annotated[Principal, Depends(require_roles(*AP_READ_ROLES))]

RowT = TypeVar("RowT", bound=SQLModel)


async def owned(
    session: AsyncSession, table: type[RowT], row_id: int, principal: Principal, what: str
) -> RowT:
    """The caller's org's row of that id; 404 for a missing row or another org's."""
    row = await session.get(table, row_id)
    org_id: Any = getattr(row, "org_id", None)
    if row is None or org_id != principal.org_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No such {what}")
    return row


def unprocessable(message: str) -> HTTPException:
    """A 422 for input that is well-formed but names something that is not there."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def conflict(message: str) -> HTTPException:
    """A 409 for a write that would break a unique rule or strand other records."""
    return HTTPException(status.HTTP_409_CONFLICT, message)


async def check_department(session: AsyncSession, org_id: str, department: str | None) -> None:
    """422 unless the department is none or one of the org's."""
    if department is None:
        return
    query = select(Department.id).where(Department.org_id == org_id, Department.name == department)
    if (await session.exec(query)).first() is None:
        raise unprocessable(f"No department {department!r} in your organisation")


async def commit_or_conflict(session: AsyncSession, message: str) -> None:
    """Commit the request's writes as one; a unique or reference violation rolls all back."""
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise conflict(message) from error
