"""The people of the caller's org."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlmodel import select

from api.deps import AnyMember, SessionDep
from db.tables import Department, User

router = APIRouter(prefix="/users", tags=["users"])


class UserOut(BaseModel):
    """A colleague, as other members of the org see them."""

    id: int
    email: str
    name: str
    designation: str | None
    department: str | None
    manager_id: int | None
    roles: list[str]


async def _departments(session: SessionDep, org_id: str) -> dict[int, str]:
    rows = await session.exec(select(Department).where(Department.org_id == org_id))
    return {d.id: d.name for d in rows if d.id is not None}


def _out(user: User, departments: dict[int, str]) -> UserOut:
    assert user.id is not None
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        designation=user.designation,
        department=departments.get(user.department_id) if user.department_id else None,
        manager_id=user.manager_id,
        roles=user.roles,
    )


@router.get("", response_model=list[UserOut])
async def list_users(principal: AnyMember, session: SessionDep) -> list[UserOut]:
    """Every active member of the caller's org."""
    query = select(User).where(User.org_id == principal.org_id, User.active).order_by(User.name)
    departments = await _departments(session, principal.org_id)
    return [_out(user, departments) for user in await session.exec(query)]


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: int, principal: AnyMember, session: SessionDep) -> UserOut:
    """One member of the caller's org; 404 for anyone else."""
    user = await session.get(User, user_id)
    if user is None or user.org_id != principal.org_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such user")
    return _out(user, await _departments(session, principal.org_id))
