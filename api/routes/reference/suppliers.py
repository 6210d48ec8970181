"""Suppliers of the caller's org: names and aliases they print, tax id, mail domains, how
their invoices are matched and which department owns them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from sqlmodel import col, select

from activities.text_normalise import normalise_code, normalise_domain
from api.deps import Admin, SessionDep
from api.routes.reference.access import (
    ApReader,
    check_department,
    commit_or_conflict,
    conflict,
    owned,
)
from db.tables import PurchaseOrderRow, SupplierRow, utcnow
from models.invoices import MatchMethod

router = APIRouter(prefix="/suppliers", tags=["reference data"])


def _domain(value: str) -> str:
    domain = normalise_domain(value)
    if domain is None or "." not in domain:
        raise ValueError(f"{value!r} is not a domain name such as 'supplier.example'")
    return domain


Domain = Annotated[str, AfterValidator(_domain)]
Alias = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _unique(values: list[str]) -> list[str]:
    """The values without repeats that differ only in case, first spelling kept."""
    kept: dict[str, str] = {}
    for value in values:
        kept.setdefault(value.casefold(), value)
    return list(kept.values())


class SupplierIn(BaseModel):
    """A supplier as an admin enters it; domains are kept lower-case, tax ids compact."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    aliases: list[Alias] = Field(default_factory=list, max_length=50)
    tax_id: str | None = Field(default=None, max_length=64)
    email_domains: list[Domain] = Field(default_factory=list, max_length=50)
    match_method: MatchMethod | None = Field(default=None, description="None: the org's method")
    department: str | None = Field(default=None, max_length=120, description="a department name")
    erp_vendor_id: str | None = Field(default=None, max_length=64)
    active: bool = True

    @field_validator("aliases", "email_domains")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        return _unique(values)

    @field_validator("tax_id")
    @classmethod
    def _compact_tax_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return normalise_code(value).upper() or None


class SupplierOut(SupplierIn):
    """A supplier of the caller's org."""

    model_config = ConfigDict(extra="ignore")

    id: int
    created_at: datetime
    updated_at: datetime


def _out(row: SupplierRow) -> SupplierOut:
    return SupplierOut.model_validate(row.model_dump())


def _taken(name: str) -> str:
    return f"A supplier named {name!r} already exists"


@router.get("", response_model=list[SupplierOut])
async def list_suppliers(
    principal: ApReader, session: SessionDep, active: bool | None = None
) -> list[SupplierOut]:
    """The org's suppliers by name, optionally only the active or inactive ones."""
    query = select(SupplierRow).where(SupplierRow.org_id == principal.org_id)
    if active is not None:
        query = query.where(SupplierRow.active == active)
    return [_out(row) for row in await session.exec(query.order_by(col(SupplierRow.name)))]


@router.post("", response_model=SupplierOut, status_code=status.HTTP_201_CREATED)
async def create_supplier(body: SupplierIn, principal: Admin, session: SessionDep) -> SupplierOut:
    """Add a supplier; 409 when the org has one of that name."""
    await check_department(session, principal.org_id, body.department)
    row = SupplierRow.model_validate({**body.model_dump(), "org_id": principal.org_id})
    session.add(row)
    await commit_or_conflict(session, _taken(body.name))
    return _out(row)


@router.get("/{supplier_id}", response_model=SupplierOut)
async def get_supplier(supplier_id: int, principal: ApReader, session: SessionDep) -> SupplierOut:
    """One supplier of the org; 404 for another org's."""
    return _out(await owned(session, SupplierRow, supplier_id, principal, "supplier"))


@router.put("/{supplier_id}", response_model=SupplierOut)
async def replace_supplier(
    supplier_id: int, body: SupplierIn, principal: Admin, session: SessionDep
) -> SupplierOut:
    """Replace a supplier's details; 409 when another supplier has the new name."""
    row = await owned(session, SupplierRow, supplier_id, principal, "supplier")
    await check_department(session, principal.org_id, body.department)
    row.sqlmodel_update({**body.model_dump(), "updated_at": utcnow()})
    session.add(row)
    await commit_or_conflict(session, _taken(body.name))
    return _out(row)


@router.delete("/{supplier_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_supplier(supplier_id: int, principal: Admin, session: SessionDep) -> None:
    """Remove a supplier that no purchase order names (deactivate it otherwise)."""
    row = await owned(session, SupplierRow, supplier_id, principal, "supplier")
    message = f"Purchase orders name supplier {row.name!r}: deactivate it instead"
    orders = select(PurchaseOrderRow.id).where(PurchaseOrderRow.supplier_id == supplier_id)
    if (await session.exec(orders)).first() is not None:
        raise conflict(message)
    await session.delete(row)
    await commit_or_conflict(session, message)
