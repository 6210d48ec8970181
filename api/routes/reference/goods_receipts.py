"""Goods receipts of the caller's org: what arrived against a purchase order (3-way match)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlmodel import col, select

from api.deps import Admin, SessionDep
from api.routes.reference.access import ApReader, commit_or_conflict, owned
from api.routes.reference.lines import MAX_LINES, LineIn, lines_from_json, lines_to_json
from db.tables import GoodsReceiptRow, utcnow
from models.invoices import normalise_invoice_number

router = APIRouter(prefix="/goods-receipts", tags=["reference data"])


class GoodsReceiptIn(BaseModel):
    """A goods received note as an admin enters it; `received_at` defaults to now."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    number: str = Field(min_length=1, max_length=64)
    po_number: str = Field(min_length=1, max_length=64)
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)
    received_at: AwareDatetime | None = None

    @field_validator("po_number")
    @classmethod
    def _has_characters(cls, number: str) -> str:
        if not normalise_invoice_number(number):
            raise ValueError("a number needs at least one letter or digit")
        return number


class GoodsReceiptOut(GoodsReceiptIn):
    """A goods receipt of the caller's org."""

    model_config = ConfigDict(extra="ignore")

    id: int
    received_at: datetime
    created_at: datetime


def _out(row: GoodsReceiptRow) -> GoodsReceiptOut:
    return GoodsReceiptOut.model_validate({**row.model_dump(), "lines": lines_from_json(row.lines)})


def _columns(body: GoodsReceiptIn) -> dict[str, object]:
    return {
        "number": body.number,
        "po_number": body.po_number,
        "po_number_key": normalise_invoice_number(body.po_number),
        "lines": lines_to_json(body.lines),
        "received_at": body.received_at.astimezone(UTC) if body.received_at else utcnow(),
    }


def _taken(number: str) -> str:
    return f"A goods receipt numbered {number!r} already exists"


@router.get("", response_model=list[GoodsReceiptOut])
async def list_goods_receipts(
    principal: ApReader, session: SessionDep, po_number: str | None = None
) -> list[GoodsReceiptOut]:
    """The org's goods receipts, oldest first, optionally those of one purchase order."""
    query = select(GoodsReceiptRow).where(GoodsReceiptRow.org_id == principal.org_id)
    if po_number is not None:
        key = normalise_invoice_number(po_number)
        query = query.where(GoodsReceiptRow.po_number_key == key)
    order = (col(GoodsReceiptRow.received_at), col(GoodsReceiptRow.id))
    return [_out(row) for row in await session.exec(query.order_by(*order))]


@router.post("", response_model=GoodsReceiptOut, status_code=status.HTTP_201_CREATED)
async def create_goods_receipt(
    body: GoodsReceiptIn, principal: Admin, session: SessionDep
) -> GoodsReceiptOut:
    """Record a goods receipt; 409 when its number is in use."""
    row = GoodsReceiptRow.model_validate({**_columns(body), "org_id": principal.org_id})
    session.add(row)
    await commit_or_conflict(session, _taken(body.number))
    return _out(row)


@router.get("/{receipt_id}", response_model=GoodsReceiptOut)
async def get_goods_receipt(
    receipt_id: int, principal: ApReader, session: SessionDep
) -> GoodsReceiptOut:
    """One goods receipt of the org; 404 for another org's."""
    return _out(await owned(session, GoodsReceiptRow, receipt_id, principal, "goods receipt"))


@router.put("/{receipt_id}", response_model=GoodsReceiptOut)
async def replace_goods_receipt(
    receipt_id: int, body: GoodsReceiptIn, principal: Admin, session: SessionDep
) -> GoodsReceiptOut:
    """Replace a goods receipt and its lines."""
    row = await owned(session, GoodsReceiptRow, receipt_id, principal, "goods receipt")
    row.sqlmodel_update(_columns(body))
    session.add(row)
    await commit_or_conflict(session, _taken(body.number))
    return _out(row)


@router.delete("/{receipt_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_goods_receipt(receipt_id: int, principal: Admin, session: SessionDep) -> None:
    """Remove a goods receipt of the org."""
    row = await owned(session, GoodsReceiptRow, receipt_id, principal, "goods receipt")
    await session.delete(row)
    await session.commit()
