"""The export plugin: each posting as JSON and CSV files in the run's working folder.

For an org without an ERP connection, `<working_folder>/erp/<external_reference>.json` and
`.csv` are what an accountant (or an import job) picks up. The CSV has one row per line
item with the header fields repeated (one row with empty line columns if there are none).
The JSON is written last, so its presence means the export is complete; a repeat finds it
and writes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from activities.erp.base import ErpPlugin, ErpRejected
from activities.storage import ObjectStore, UnsafeKey, validate_key
from models.erp import ErpPosted, ErpPosting, PurchaseOrderQuery
from models.invoices import GoodsReceipt, LineItem, PurchaseOrder

logger = logging.getLogger(__name__)

HEADER_COLUMNS: tuple[str, ...] = (
    "external_reference",
    "org",
    "supplier_id",
    "supplier_name",
    "erp_vendor_id",
    "department",
    "approved_by",
    "invoice_number",
    "invoice_date",
    "due_date",
    "supplier_tax_id",
    "buyer_name",
    "currency",
    "subtotal",
    "tax_amount",
    "total_amount",
    "po_number",
)
LINE_COLUMNS: tuple[str, ...] = (
    "line_number",
    "description",
    "item_code",
    "quantity",
    "unit_price",
    "line_total",
    "tax_rate",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportSettings(BaseModel):
    """How the export is written."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    csv_delimiter: Literal[",", ";", "\t"] = ","


def export_key(posting: ErpPosting, suffix: Literal["json", "csv"]) -> str:
    """`<working_folder>/erp/<external_reference>.<suffix>`; `ErpRejected` if it is unsafe."""
    reference = posting.external_reference
    if not reference or reference != reference.strip() or "/" in reference:
        raise ErpRejected(f"the external reference {reference!r} is not a plain file name")
    try:
        return validate_key(f"{posting.working_folder.strip('/')}/erp/{reference}.{suffix}")
    except UnsafeKey as error:
        raise ErpRejected(f"cannot export {reference!r}: {error}") from error


def export_json(posting: ErpPosting) -> bytes:
    """The posting as indented UTF-8 JSON (amounts as strings, dates as ISO dates)."""
    document = posting.model_dump(mode="json")
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def export_csv(posting: ErpPosting, delimiter: str = ",") -> bytes:
    """One row per line item with the header fields repeated, as UTF-8 CSV."""
    invoice = posting.invoice
    header: dict[str, Any] = {
        **invoice.model_dump(exclude={"line_items", "supplier_name"}),
        **posting.model_dump(exclude={"invoice", "working_folder"}),
        "approved_by": ";".join(posting.approved_by),
    }
    lines: list[LineItem | None] = list(invoice.line_items) or [None]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow([*HEADER_COLUMNS, *LINE_COLUMNS])
    for number, line in enumerate(lines, start=1):
        values = {**header, **_line_values(number, line)}
        writer.writerow([_cell(values.get(column)) for column in (*HEADER_COLUMNS, *LINE_COLUMNS)])
    return buffer.getvalue().encode("utf-8")


def _line_values(number: int, line: LineItem | None) -> dict[str, Any]:
    if line is None:
        return {}
    return {"line_number": number, **line.model_dump(exclude={"confidence"})}


def _cell(value: Any) -> str:
    """A CSV cell: numbers without exponents, text guarded against spreadsheet formulas."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str):
        return f"'{value}" if value.startswith(_FORMULA_STARTS) else value
    return str(value)


class ExportPlugin(ErpPlugin):
    """Writes postings to object storage; has no purchase orders or receipts."""

    name = "export"

    def __init__(self, store: ObjectStore, settings: ExportSettings | None = None) -> None:
        self._store = store
        self._settings = settings or ExportSettings()

    async def post_invoice(self, posting: ErpPosting) -> ErpPosted:
        """Write the CSV, then the JSON; a stored JSON for the reference means done already."""
        json_key, csv_key = export_key(posting, "json"), export_key(posting, "csv")
        reference = posting.external_reference
        document = export_json(posting)
        if await self._store.exists(json_key):
            if await self._store.get(json_key) != document:
                logger.warning(
                    "export %s differs from the stored one; keeping the stored", json_key
                )
            return ErpPosted(
                plugin=self.name, erp_document_id=reference, created=False, location=json_key
            )
        table = export_csv(posting, self._settings.csv_delimiter)
        await self._store.put(csv_key, table, "text/csv; charset=utf-8")
        await self._store.put(json_key, document, "application/json")
        logger.info("exported %s to %s", reference, json_key)
        return ErpPosted(
            plugin=self.name, erp_document_id=reference, created=True, location=json_key
        )

    async def find_purchase_order(self, query: PurchaseOrderQuery) -> PurchaseOrder | None:
        """None: an export has no purchase orders."""
        return None

    async def find_goods_receipt(self, query: PurchaseOrderQuery) -> GoodsReceipt | None:
        """None: an export has no goods receipts."""
        return None
