"""Other names of the caller's org that suppliers print as the buyer (customer-name aliases)."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from api.deps import Admin, SessionDep
from api.routes.reference.access import ApReader, commit_or_conflict, owned
from db.tables import OrgAlias

router = APIRouter(prefix="/org-aliases", tags=["reference data"])


class OrgAliasIn(BaseModel):
    """A name suppliers may print for the org."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    alias: str = Field(min_length=1, max_length=200)


class OrgAliasOut(OrgAliasIn):
    """An alias of the caller's org."""

    id: int


def _out(row: OrgAlias) -> OrgAliasOut:
    assert row.id is not None
    return OrgAliasOut(id=row.id, alias=row.alias)


@router.get("", response_model=list[OrgAliasOut])
async def list_org_aliases(principal: ApReader, session: SessionDep) -> list[OrgAliasOut]:
    """The org's aliases, alphabetically."""
    query = select(OrgAlias).where(OrgAlias.org_id == principal.org_id)
    return [_out(row) for row in await session.exec(query.order_by(col(OrgAlias.alias)))]


@router.post("", response_model=OrgAliasOut, status_code=status.HTTP_201_CREATED)
async def add_org_alias(body: OrgAliasIn, principal: Admin, session: SessionDep) -> OrgAliasOut:
    """Add an alias; 409 when the org has it already."""
    row = OrgAlias(org_id=principal.org_id, alias=body.alias)
    session.add(row)
    await commit_or_conflict(session, f"The alias {body.alias!r} already exists")
    return _out(row)


@router.delete("/{alias_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_org_alias(alias_id: int, principal: Admin, session: SessionDep) -> None:
    """Remove an alias of the org; 404 for another org's."""
    row = await owned(session, OrgAlias, alias_id, principal, "alias")
    await session.delete(row)
    await session.commit()
