"""Lines of purchase orders and goods receipts as the API takes and shows them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.invoices import LineItem

MAX_LINES = 500


class LineIn(BaseModel):
    """One line of a purchase order or goods receipt."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    description: str = Field(default="", max_length=500)
    item_code: str | None = Field(default=None, max_length=64)
    quantity: Decimal | None = Field(default=None, max_digits=20, decimal_places=6)
    unit_price: Decimal | None = Field(default=None, max_digits=20, decimal_places=6)
    line_total: Decimal | None = Field(default=None, max_digits=20, decimal_places=6)
    tax_rate: Decimal | None = Field(default=None, ge=0, le=100, description="percent, e.g. 19")


def lines_to_json(lines: list[LineIn]) -> list[dict[str, Any]]:
    """Lines as stored: `LineItem` dicts in JSON form (amounts as strings)."""
    return [LineItem.model_validate(line.model_dump()).model_dump(mode="json") for line in lines]


def lines_from_json(lines: list[dict[str, Any]]) -> list[LineIn]:
    """Stored lines as the API shows them."""
    fields = set(LineIn.model_fields)
    return [
        LineIn.model_validate({key: value for key, value in line.items() if key in fields})
        for line in lines
    ]
