"""Purchase orders of the caller's org, with their lines, for 2-way and 3-way matching."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import Admin, Principal, SessionDep
from api.routes.reference.access import (
    ApReader,
    check_department,
    commit_or_conflict,
    conflict,
    owned,
    unprocessable,
)
from api.routes.reference.lines import MAX_LINES, LineIn, lines_from_json, lines_to_json
from db.tables import PurchaseOrderRow, SupplierRow, utcnow
from models.invoices import normalise_invoice_number

router = APIRouter(prefix="/purchase-orders", tags=["reference data"])

PoStatus = Literal["open", "closed"]


class PurchaseOrderIn(BaseModel):
    """A purchase order as an admin enters it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    number: str = Field(min_length=1, max_length=64)
    supplier_id: int | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")
    total_amount: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    department: str | None = Field(default=None, max_length=120, description="a department name")
    lines: list[LineIn] = Field(default_factory=list, max_length=MAX_LINES)
    status: PoStatus = "open"

    @field_validator("number")
    @classmethod
    def _has_characters(cls, number: str) -> str:
        if not normalise_invoice_number(number):
            raise ValueError("a number needs at least one letter or digit")
        return number

    @field_validator("currency", mode="before")
    @classmethod
    def _upper(cls, currency: object) -> object:
        return currency.upper() if isinstance(currency, str) else currency


class PurchaseOrderOut(PurchaseOrderIn):
    """A purchase order of the caller's org."""

    model_config = ConfigDict(extra="ignore")

    id: int
    supplier_name: str | None
    created_at: datetime
    updated_at: datetime


async def _out(session: AsyncSession, row: PurchaseOrderRow) -> PurchaseOrderOut:
    supplier = await session.get(SupplierRow, row.supplier_id) if row.supplier_id else None
    return PurchaseOrderOut.model_validate(
        {
            **row.model_dump(),
            "lines": lines_from_json(row.lines),
            "supplier_name": supplier.name if supplier else None,
        }
    )


async def _check(
    session: AsyncSession, principal: Principal, body: PurchaseOrderIn, order_id: int | None
) -> None:
    """422 for a supplier or department not of the org; 409 for a number already in use."""
    if body.supplier_id is not None:
        supplier = await session.get(SupplierRow, body.supplier_id)
        if supplier is None or supplier.org_id != principal.org_id:
            raise unprocessable(f"No supplier {body.supplier_id} in your organisation")
    await check_department(session, principal.org_id, body.department)
    query = select(PurchaseOrderRow.number).where(
        PurchaseOrderRow.org_id == principal.org_id,
        PurchaseOrderRow.number_key == normalise_invoice_number(body.number),
    )
    if order_id is not None:
        query = query.where(col(PurchaseOrderRow.id) != order_id)
    existing = (await session.exec(query)).first()
    if existing is not None:
        raise conflict(_taken(existing))


def _taken(number: str) -> str:
    return f"A purchase order numbered {number!r} already exists"


def _columns(body: PurchaseOrderIn) -> dict[str, object]:
    return {
        **body.model_dump(exclude={"lines"}),
        "number_key": normalise_invoice_number(body.number),
        "lines": lines_to_json(body.lines),
    }


@router.get("", response_model=list[PurchaseOrderOut])
async def list_purchase_orders(
    principal: ApReader,
    session: SessionDep,
    state: Annotated[PoStatus | None, Query(alias="status")] = None,
    number: str | None = None,
) -> list[PurchaseOrderOut]:
    """The org's purchase orders by number, optionally by status or number (as invoices
    print it: case, spaces and punctuation do not matter)."""
    query = select(PurchaseOrderRow).where(PurchaseOrderRow.org_id == principal.org_id)
    if state is not None:
        query = query.where(PurchaseOrderRow.status == state)
    if number is not None:
        query = query.where(PurchaseOrderRow.number_key == normalise_invoice_number(number))
    rows = (await session.exec(query.order_by(col(PurchaseOrderRow.number)))).all()
    return [await _out(session, row) for row in rows]


@router.post("", response_model=PurchaseOrderOut, status_code=status.HTTP_201_CREATED)
async def create_purchase_order(
    body: PurchaseOrderIn, principal: Admin, session: SessionDep
) -> PurchaseOrderOut:
    """Add a purchase order with its lines; 409 when the number is in use."""
    await _check(session, principal, body, None)
    row = PurchaseOrderRow.model_validate({**_columns(body), "org_id": principal.org_id})
    session.add(row)
    await commit_or_conflict(session, _taken(body.number))
    return await _out(session, row)


@router.get("/{order_id}", response_model=PurchaseOrderOut)
async def get_purchase_order(
    order_id: int, principal: ApReader, session: SessionDep
) -> PurchaseOrderOut:
    """One purchase order of the org; 404 for another org's."""
    return await _out(
        session, await owned(session, PurchaseOrderRow, order_id, principal, "purchase order")
    )


@router.put("/{order_id}", response_model=PurchaseOrderOut)
async def replace_purchase_order(
    order_id: int, body: PurchaseOrderIn, principal: Admin, session: SessionDep
) -> PurchaseOrderOut:
    """Replace a purchase order and its lines (close it with `status: closed`)."""
    row = await owned(session, PurchaseOrderRow, order_id, principal, "purchase order")
    await _check(session, principal, body, order_id)
    row.sqlmodel_update({**_columns(body), "updated_at": utcnow()})
    session.add(row)
    await commit_or_conflict(session, _taken(body.number))
    return await _out(session, row)


@router.delete("/{order_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_purchase_order(order_id: int, principal: Admin, session: SessionDep) -> None:
    """Remove a purchase order of the org."""
    row = await owned(session, PurchaseOrderRow, order_id, principal, "purchase order")
    await session.delete(row)
    await session.commit()
