"""AP reference data on SQLite and PostgreSQL: supplier look-up rules, buyer names, purchase
orders and merged goods receipts, invoice-number claims (also when they race), the ERP config,
and the demo data that matches the corpus invoices."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities.reference_data import ReferenceDataActivities, match_supplier
from activities.text_normalise import same_party
from db.engine import session_scope
from db.tables import (
    ErpConnection,
    GoodsReceiptRow,
    InvoiceClaim,
    Org,
    OrgAlias,
    PurchaseOrderRow,
    SupplierRow,
)
from models.erp import PurchaseOrderQuery
from models.invoices import DuplicateClaim, LineItem, Supplier, normalise_invoice_number
from models.reference import OrgQuery, SupplierQuery
from starter.demo_data import load_demo_data

Sessions = async_sessionmaker[AsyncSession]


async def _orgs(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        session.add(Org(id="acme", name="Acme"))
        session.add(Org(id="globex", name="Globex"))


async def _suppliers(sessions: Sessions) -> dict[str, int]:
    """Suppliers of acme (one inactive) and one of globex; ids by name."""
    rows = [
        SupplierRow(
            org_id="acme",
            name="Lieferant GmbH",
            aliases=["Lieferant Süd"],
            tax_id="DE123456789",
            email_domains=["lieferant.de"],
        ),
        SupplierRow(
            org_id="acme",
            name="Musterlieferant GmbH",
            aliases=["ML Handel AG"],
            email_domains=["musterlieferant.de"],
        ),
        SupplierRow(org_id="acme", name="Old Vendor Ltd", email_domains=["old.example"]),
        SupplierRow(org_id="acme", name="Shared Mail Inc", email_domains=["mail.example"]),
        SupplierRow(org_id="acme", name="Other Mail Inc", email_domains=["mail.example"]),
        SupplierRow(org_id="globex", name="Global Supplies Ltd.", tax_id="GB999"),
    ]
    rows[2].active = False
    async with session_scope(sessions) as session:
        session.add_all(rows)
    return {row.name: row.id for row in rows if row.id is not None}


def test_short_names_match_only_whole() -> None:
    suppliers = [
        Supplier(id=1, org="acme", name="Acme Inc."),
        Supplier(id=2, org="acme", name="Metallbau Leipzig GmbH & Co. KG"),
    ]

    def found(name: str) -> int | None:
        match = match_supplier(suppliers, SupplierQuery(org="acme", name=name))
        return match.supplier.id if match.supplier else None

    assert found("ACME") == 1
    assert found("Acme Tools") is None
    assert found("Metallbau Leipzig") == 2
    assert found("Rechnung an Metallbau Leipzig, Halle 3") == 2
    assert found("Metallbau") == 2
    assert found("Metall") is None, "whole words only"
    assert found("Bau") is None
    assert found("GmbH") is None


async def test_supplier_lookup_rules(db_sessions: Sessions) -> None:
    await _orgs(db_sessions)
    ids = await _suppliers(db_sessions)
    reference = ReferenceDataActivities(db_sessions)

    async def found(**query: str | None) -> tuple[str | None, str | None]:
        match = await reference.find_supplier(SupplierQuery(org=query.pop("org", "acme"), **query))
        return (match.supplier.name if match.supplier else None, match.matched_by)

    lieferant = ("Lieferant GmbH", "tax_id")
    assert await found(tax_id="de 123 456 789", name="Someone Else") == lieferant
    assert await found(name="LIEFERANT gmbh.") == ("Lieferant GmbH", "name")
    assert await found(name="Lieferant Süd GmbH") == ("Lieferant GmbH", "alias")
    assert await found(name="ML Handel") == ("Musterlieferant GmbH", "alias")
    printed = "GLN 4333741000005 \nLief-Nr: 549910\nMUSTERLIEFERANT GMBH"
    assert await found(name=printed) == ("Musterlieferant GmbH", "name")
    assert await found(name="Unknown", sender_email="Max <max@Mail.Lieferant.de>") == (
        "Lieferant GmbH",
        "email_domain",
    )
    assert await found(name="Old Vendor Ltd", sender_email="a@old.example") == (None, None)
    assert await found(sender_email="a@mail.example") == (None, None)
    assert await found(name="Global Supplies", tax_id="GB999") == (None, None)
    old_vendor = await reference.supplier_by_id("acme", ids["Old Vendor Ltd"])
    assert old_vendor is not None and old_vendor.name == "Old Vendor Ltd"
    assert await reference.supplier_by_id("globex", ids["Lieferant GmbH"]) is None
    assert await reference.supplier_by_id("acme", 999_999) is None
    globex = await reference.find_supplier(SupplierQuery(org="globex", tax_id="gb 999"))
    assert globex.supplier is not None and globex.supplier.id == ids["Global Supplies Ltd."]
    assert globex.supplier.org == "globex"


async def test_tax_id_shared_by_two_suppliers_is_settled_by_name(db_sessions: Sessions) -> None:
    await _orgs(db_sessions)
    async with session_scope(db_sessions) as session:
        session.add(SupplierRow(org_id="acme", name="Alpha Foods GmbH", tax_id="DE1"))
        session.add(SupplierRow(org_id="acme", name="Beta Drinks GmbH", tax_id="DE1"))
    reference = ReferenceDataActivities(db_sessions)

    beta = await reference.find_supplier(
        SupplierQuery(org="acme", tax_id="DE1", name="BETA DRINKS")
    )
    assert beta.supplier is not None and beta.supplier.name == "Beta Drinks GmbH"
    assert beta.matched_by == "tax_id"
    unknown = await reference.find_supplier(SupplierQuery(org="acme", tax_id="DE1"))
    assert unknown.supplier is None


async def test_buyer_names_are_the_org_name_and_its_aliases(db_sessions: Sessions) -> None:
    await _orgs(db_sessions)
    async with session_scope(db_sessions) as session:
        session.add(OrgAlias(org_id="acme", alias="Kunden AG Mitte"))
        session.add(OrgAlias(org_id="globex", alias="Globex Europe"))
    reference = ReferenceDataActivities(db_sessions)

    assert (await reference.org_buyer_names(OrgQuery(org="acme"))).names == [
        "Acme",
        "Kunden AG Mitte",
    ]
    assert (await reference.org_buyer_names(OrgQuery(org="nobody"))).names == []
    with pytest.raises(IntegrityError):
        async with session_scope(db_sessions) as session:
            session.add(OrgAlias(org_id="acme", alias="Kunden AG Mitte"))


def _po(
    org: str, number: str, status: str = "open", supplier_id: int | None = None
) -> PurchaseOrderRow:
    lines = [LineItem(item_code="A1", description="Widget", quantity=Decimal(10))]
    return PurchaseOrderRow(
        org_id=org,
        number=number,
        number_key=normalise_invoice_number(number),
        supplier_id=supplier_id,
        currency="EUR",
        total_amount=Decimal("123.45"),
        department="Finance",
        lines=[line.model_dump(mode="json") for line in lines],
        status=status,
    )


def _receipt(number: str, po_number: str, day: int, *lines: LineItem) -> GoodsReceiptRow:
    return GoodsReceiptRow(
        org_id="acme",
        number=number,
        po_number=po_number,
        po_number_key=normalise_invoice_number(po_number),
        lines=[line.model_dump(mode="json") for line in lines],
        received_at=datetime(2026, 3, day, tzinfo=UTC),
    )


async def test_purchase_orders_and_merged_goods_receipts(db_sessions: Sessions) -> None:
    await _orgs(db_sessions)
    ids = await _suppliers(db_sessions)
    async with session_scope(db_sessions) as session:
        session.add(_po("acme", "PO-2026-001", supplier_id=ids["Lieferant GmbH"]))
        session.add(_po("acme", "PO-2026-002", status="closed"))
        session.add(_po("globex", "PO-2026-003"))
        session.add(
            _receipt("GR-2", "po 2026 001", 5, LineItem(item_code="a1", quantity=Decimal(4)))
        )
        session.add(
            _receipt(
                "GR-1",
                "PO-2026-001",
                2,
                LineItem(item_code="A1", description="Widget", quantity=Decimal(5)),
                LineItem(description="Spare  part", quantity=Decimal(1)),
            )
        )
        session.add(_receipt("GR-3", "PO-9", 2, LineItem(item_code="A1", quantity=Decimal(1))))
    reference = ReferenceDataActivities(db_sessions)

    order = await reference.find_purchase_order(
        PurchaseOrderQuery(org="acme", po_number="po2026001")
    )
    assert order is not None
    assert (order.number, order.supplier_name, order.currency) == (
        "PO-2026-001",
        "Lieferant GmbH",
        "EUR",
    )
    assert order.total_amount == Decimal("123.45")
    assert order.department == "Finance"
    assert [(line.item_code, line.quantity) for line in order.lines] == [("A1", Decimal(10))]
    assert (
        await reference.find_purchase_order(PurchaseOrderQuery(org="acme", po_number="PO-2026-002"))
        is None
    )
    assert (
        await reference.find_purchase_order(PurchaseOrderQuery(org="acme", po_number="PO-2026-003"))
        is None
    )

    receipt = await reference.find_goods_receipt(
        PurchaseOrderQuery(org="acme", po_number="PO-2026-001")
    )
    assert receipt is not None
    assert (receipt.number, receipt.po_number) == ("GR-1, GR-2", "PO-2026-001")
    assert [(line.item_code, line.description, line.quantity) for line in receipt.lines] == [
        ("A1", "Widget", Decimal(9)),
        (None, "Spare  part", Decimal(1)),
    ]
    assert (
        await reference.find_goods_receipt(PurchaseOrderQuery(org="globex", po_number="PO-9"))
        is None
    )

    with pytest.raises(IntegrityError):
        async with session_scope(db_sessions) as session:
            session.add(_po("acme", "PO-2026-001"))


def _claim(transaction: str, number: str = "INV-2026/001", **changes: str) -> DuplicateClaim:
    fields = {
        "org": "acme",
        "supplier_key": "7",
        "invoice_number": number,
        "transaction_id": transaction,
    }
    return DuplicateClaim.model_validate({**fields, **changes})


async def test_a_claim_blocks_other_runs_until_its_run_releases_it(db_sessions: Sessions) -> None:
    await _orgs(db_sessions)
    reference = ReferenceDataActivities(db_sessions)

    first = await reference.claim_invoice_number(_claim("acme:ap:t1"))
    assert (first.duplicate, first.first_transaction_id) == (False, None)
    again = await reference.claim_invoice_number(_claim("acme:ap:t1", "inv 2026 001"))
    assert (again.duplicate, again.first_transaction_id) == (False, None)
    other = await reference.claim_invoice_number(_claim("acme:ap:t2", "INV2026-001"))
    assert (other.duplicate, other.first_transaction_id) == (True, "acme:ap:t1")
    assert not (await reference.claim_invoice_number(_claim("t3", supplier_key="8"))).duplicate
    assert not (await reference.claim_invoice_number(_claim("t4", org="globex"))).duplicate

    await reference.release_invoice_claim(_claim("acme:ap:t2"))
    assert (await reference.claim_invoice_number(_claim("acme:ap:t2"))).duplicate
    await reference.release_invoice_claim(_claim("acme:ap:t1"))
    await reference.release_invoice_claim(_claim("acme:ap:t1"))
    resent = await reference.claim_invoice_number(_claim("acme:ap:t2"))
    assert (resent.duplicate, resent.first_transaction_id) == (False, None)

    async with db_sessions() as session:
        rows = (
            await session.exec(
                select(InvoiceClaim).where(
                    InvoiceClaim.org_id == "acme", InvoiceClaim.supplier_key == "7"
                )
            )
        ).all()
    assert [(row.org_id, row.transaction_id, row.invoice_number) for row in rows] == [
        ("acme", "acme:ap:t2", "INV-2026/001")
    ]


async def test_a_claim_needs_letters_or_digits_and_a_known_org(db_sessions: Sessions) -> None:
    await _orgs(db_sessions)
    reference = ReferenceDataActivities(db_sessions)

    for transaction in ("t1", "t2"):
        check = await reference.claim_invoice_number(_claim(transaction, " -/- "))
        assert (check.duplicate, check.first_transaction_id) == (False, None)
    with pytest.raises(ApplicationError) as no_org:
        await reference.claim_invoice_number(_claim("t1", org="initech"))
    assert (no_org.value.type, no_org.value.non_retryable) == ("UnknownOrg", True)


async def test_concurrent_claims_of_one_invoice_let_exactly_one_run_in(
    db_sessions: Sessions,
) -> None:
    await _orgs(db_sessions)
    reference = ReferenceDataActivities(db_sessions)

    for round_number in range(3):
        number = f"RACE-{round_number}"
        claims = [_claim(f"run-{index}", number) for index in range(2 if round_number == 0 else 5)]
        checks = await asyncio.gather(*(reference.claim_invoice_number(c) for c in claims))

        winners = [
            claim.transaction_id
            for claim, check in zip(claims, checks, strict=True)
            if not check.duplicate
        ]
        assert len(winners) == 1, checks
        for claim, check in zip(claims, checks, strict=True):
            if claim.transaction_id != winners[0]:
                assert check.first_transaction_id == winners[0]


@pytest.mark.parametrize("first_commits", [True, False], ids=["committed", "rolled-back"])
async def test_a_claim_waits_for_an_unfinished_one_and_then_follows_it(
    db_sessions: Sessions, first_commits: bool
) -> None:
    await _orgs(db_sessions)
    reference = ReferenceDataActivities(db_sessions)

    async with db_sessions() as first:
        first.add(
            InvoiceClaim(
                org_id="acme",
                supplier_key="7",
                invoice_number_normalised="inv2026001",
                transaction_id="first",
                invoice_number="INV-2026/001",
            )
        )
        await first.flush()
        second = asyncio.create_task(reference.claim_invoice_number(_claim("second")))
        await asyncio.sleep(0.3)
        assert not second.done()
        await (first.commit() if first_commits else first.rollback())
    check = await second

    if first_commits:
        assert (check.duplicate, check.first_transaction_id) == (True, "first")
    else:
        assert (check.duplicate, check.first_transaction_id) == (False, None)


async def test_erp_config_is_the_stored_plugin_and_settings(db_sessions: Sessions) -> None:
    await _orgs(db_sessions)
    reference = ReferenceDataActivities(db_sessions)
    assert await reference.erp_config_for_org("acme") is None

    settings = {"base_url": "https://erp.example", "auth": "bearer", "token_ref": "env:ERP_TOKEN"}
    async with session_scope(db_sessions) as session:
        session.add(ErpConnection(org_id="acme", plugin="rest_webhook", settings=settings))
        session.add(ErpConnection(org_id="globex", plugin="rest_webhook", settings={"x": "y"}))

    config = await reference.erp_config_for_org("acme")
    assert config is not None and (config.plugin, config.settings) == ("rest_webhook", settings)
    with pytest.raises(ApplicationError) as invalid:
        await reference.erp_config_for_org("globex")
    assert (invalid.value.type, invalid.value.non_retryable) == ("InvalidErpConfig", True)
    assert "base_url" in str(invalid.value)


# Ground truth of two ZUGFeRD corpus invoices (invoice-corpus/zugferd/*.expected.json).
TEILRECHNUNG = {
    "supplier_name": "Lieferant GmbH",
    "buyer_name": "Kunden AG Mitte",
    "po_number": "2018-471331",
    "total_amount": "197.65",
    "subtotal": "180.76",
}
WARENRECHNUNG = {
    "supplier_name": "GLN 4333741000005 \nLief-Nr: 549910\nMUSTERLIEFERANT GMBH",
    "buyer_name": "MUSTER-KUNDE GMBH",
    "po_number": "B123456789",
}


async def test_demo_data_matches_corpus_invoices(db_sessions: Sessions) -> None:
    await load_demo_data(db_sessions)
    await load_demo_data(db_sessions)
    reference = ReferenceDataActivities(db_sessions)
    buyers = (await reference.org_buyer_names(OrgQuery(org="acme"))).names

    expected = TEILRECHNUNG
    found = await reference.find_supplier(SupplierQuery(org="acme", name=expected["supplier_name"]))
    assert found.supplier is not None and found.supplier.department == "Engineering"
    assert any(same_party(expected["buyer_name"], name) for name in buyers)
    query = PurchaseOrderQuery(org="acme", po_number=expected["po_number"])
    order = await reference.find_purchase_order(query)
    assert order is not None and order.supplier_name == found.supplier.name
    assert order.total_amount == Decimal(expected["total_amount"])
    assert sum(line.line_total or 0 for line in order.lines) == Decimal(expected["subtotal"])

    expected = WARENRECHNUNG
    mailed = SupplierQuery(
        org="acme", name=expected["supplier_name"], sender_email="max@musterlieferant.de"
    )
    musterlieferant = (await reference.find_supplier(mailed)).supplier
    assert musterlieferant is not None and musterlieferant.match_method == "3way"
    assert any(same_party(expected["buyer_name"], name) for name in buyers)
    query = PurchaseOrderQuery(org="acme", po_number=expected["po_number"])
    receipt = await reference.find_goods_receipt(query)
    assert receipt is not None and len(receipt.lines) == 5, "the two GZ250 lines are one"

    async with db_sessions() as session:
        suppliers = (await session.exec(select(SupplierRow))).all()
        orders = (await session.exec(select(PurchaseOrderRow))).all()
    assert len(suppliers) == 3 and len(orders) == 4
    assert all(row.department for row in suppliers)
