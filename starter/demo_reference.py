"""Demo AP reference data: suppliers, customer-name aliases, open purchase orders and a goods
receipt that match invoices of the ZUGFeRD corpus (`Lieferant GmbH` billing `Kunden AG Mitte`
on order 2018-471331, `MUSTERLIEFERANT GMBH` billing `MUSTER-KUNDE GMBH` on B123456789).

Rows are created when missing and never changed afterwards, so an admin's edits survive a
reload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.tables import GoodsReceiptRow, OrgAlias, PurchaseOrderRow, SupplierRow
from models.invoices import LineItem, MatchMethod, normalise_invoice_number


@dataclass(frozen=True)
class DemoSupplier:
    """A demo supplier of an org."""

    org_id: str
    name: str
    email_domains: tuple[str, ...]
    department: str
    match_method: MatchMethod | None = None
    erp_vendor_id: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoPurchaseOrder:
    """A demo open purchase order; `received` names a goods receipt of every line, if any."""

    org_id: str
    number: str
    supplier: str
    total_amount: Decimal
    department: str
    lines: tuple[LineItem, ...]
    currency: str = "EUR"
    received: str | None = None
    received_at: datetime | None = None


def _line(code: str, description: str, quantity: str, price: str, total: str, tax: str) -> LineItem:
    return LineItem(
        item_code=code,
        description=description,
        quantity=Decimal(quantity),
        unit_price=Decimal(price),
        line_total=Decimal(total),
        tax_rate=Decimal(tax),
    )


LIEFERANT = DemoSupplier(
    "acme", "Lieferant GmbH", ("lieferant.de",), "Engineering", "2way", "V-549910"
)
MUSTERLIEFERANT = DemoSupplier(
    "acme", "Musterlieferant GmbH", ("musterlieferant.de",), "Human Resources", "3way", "V-100200"
)
GLOBAL_SUPPLIES = DemoSupplier(
    "globex", "Global Supplies Ltd.", ("globalsupplies.example",), "Operations"
)
DEMO_SUPPLIERS = (LIEFERANT, MUSTERLIEFERANT, GLOBAL_SUPPLIES)

DEMO_ORG_ALIASES: dict[str, tuple[str, ...]] = {
    "acme": ("Kunden AG Mitte", "Muster-Kunde GmbH"),
    "globex": ("Metallbau Leipzig GmbH & Co. KG",),
}
"""Buyer names the corpus invoices print, accepted as the demo orgs' own."""

DEMO_PURCHASE_ORDERS = (
    DemoPurchaseOrder(
        "acme",
        "2018-471331",
        LIEFERANT.name,
        Decimal("197.65"),
        "Engineering",
        (
            _line("KR3M", "Kunstrasen grün 3m breit", "3", "3.3333", "10.00", "19"),
            _line("SFK5", "Schweinesteak", "1", "5.50", "5.50", "7"),
            _line("GTRWA5", "Mineralwasser Medium 12 x 1,0l PET", "20", "5.49", "109.80", "7"),
            _line("PFA5", "Pfand", "20", "2.77", "55.46", "19"),
        ),
    ),
    DemoPurchaseOrder(
        "acme",
        "B123456789",
        MUSTERLIEFERANT.name,
        Decimal("518.99"),
        "Human Resources",
        (
            _line("ZS997", "Zitronensäure 100ml", "100", "1.00", "100.00", "19"),
            _line("GZ250", "Gelierzucker Extra 250g", "50", "1.45", "72.50", "7"),
            _line("GZ250", "Gelierzucker Extra 250g", "10", "0.00", "0.00", "7"),
            _line("2031", "Bierbrau Pils 20/0500", "15", "12.00", "180.00", "19"),
            _line("1805", "Leergutpfand 20 x 0,5l", "15", "3.10", "46.50", "19"),
            _line("MP107", "Mischpalette Joghurt Karton 3 x 20", "2", "29.10", "58.20", "7"),
        ),
        received="WE-2018-0806",
        received_at=datetime(2018, 8, 3, 9, 30, tzinfo=UTC),
    ),
    DemoPurchaseOrder(
        "acme",
        "PO-1001",
        LIEFERANT.name,
        Decimal("476.00"),
        "Engineering",
        (
            _line("CH-200", "Office chair ErgoPlus", "2", "189.00", "378.00", "19"),
            _line("LMP-12", "Desk lamp LED", "4", "24.50", "98.00", "19"),
        ),
    ),
    DemoPurchaseOrder(
        "acme",
        "PO-1002",
        LIEFERANT.name,
        Decimal("6400.00"),
        "Engineering",
        (_line("SD-900", "Standing desk Pro", "10", "640.00", "6400.00", "19"),),
    ),
)


async def _ensure_supplier(session: AsyncSession, demo: DemoSupplier) -> tuple[int, bool]:
    """The supplier's id, and whether it was created now."""
    query = select(SupplierRow).where(
        SupplierRow.org_id == demo.org_id, SupplierRow.name == demo.name
    )
    row = (await session.exec(query)).first()
    created = row is None
    if row is None:
        row = SupplierRow(
            org_id=demo.org_id,
            name=demo.name,
            aliases=list(demo.aliases),
            email_domains=list(demo.email_domains),
            match_method=demo.match_method,
            department=demo.department,
            erp_vendor_id=demo.erp_vendor_id,
        )
        session.add(row)
        await session.flush()
    assert row.id is not None
    return row.id, created


async def _ensure_alias(session: AsyncSession, org_id: str, alias: str) -> bool:
    query = select(OrgAlias.id).where(OrgAlias.org_id == org_id, OrgAlias.alias == alias)
    if (await session.exec(query)).first() is not None:
        return False
    session.add(OrgAlias(org_id=org_id, alias=alias))
    return True


def _lines(lines: tuple[LineItem, ...]) -> list[dict[str, object]]:
    return [line.model_dump(mode="json") for line in lines]


async def _ensure_order(session: AsyncSession, demo: DemoPurchaseOrder, supplier_id: int) -> int:
    """The purchase order and its goods receipt, where missing; the rows created."""
    created = 0
    query = select(PurchaseOrderRow.id).where(
        PurchaseOrderRow.org_id == demo.org_id, PurchaseOrderRow.number == demo.number
    )
    if (await session.exec(query)).first() is None:
        session.add(
            PurchaseOrderRow(
                org_id=demo.org_id,
                number=demo.number,
                number_key=normalise_invoice_number(demo.number),
                supplier_id=supplier_id,
                currency=demo.currency,
                total_amount=demo.total_amount,
                department=demo.department,
                lines=_lines(demo.lines),
            )
        )
        created += 1
    if demo.received is None:
        return created
    query = select(GoodsReceiptRow.id).where(
        GoodsReceiptRow.org_id == demo.org_id, GoodsReceiptRow.number == demo.received
    )
    if (await session.exec(query)).first() is None:
        session.add(
            GoodsReceiptRow(
                org_id=demo.org_id,
                number=demo.received,
                po_number=demo.number,
                po_number_key=normalise_invoice_number(demo.number),
                lines=_lines(demo.lines),
                received_at=demo.received_at or datetime.now(UTC),
            )
        )
        created += 1
    return created


async def ensure_demo_reference_data(session: AsyncSession) -> int:
    """Create the demo suppliers, aliases, purchase orders and receipts that are missing;
    the number of rows created."""
    created = 0
    supplier_ids: dict[tuple[str, str], int] = {}
    for supplier in DEMO_SUPPLIERS:
        supplier_id, new = await _ensure_supplier(session, supplier)
        supplier_ids[(supplier.org_id, supplier.name)] = supplier_id
        created += new
    for org_id, aliases in DEMO_ORG_ALIASES.items():
        for alias in aliases:
            created += await _ensure_alias(session, org_id, alias)
    for order in DEMO_PURCHASE_ORDERS:
        created += await _ensure_order(session, order, supplier_ids[(order.org_id, order.supplier)])
    await session.flush()
    return created
