"""AP reference data on the app database: suppliers, buyer names, purchase orders, goods
receipts, the ERP connection, and invoice-number claims that block duplicates.

`claim_invoice_number` inserts a row under a unique (org, supplier, normalised number) key:
of two runs that claim at once, the database lets one in and the other reads the holder, on
SQLite and PostgreSQL alike; a retry of the holder's own claim is not a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal

from pydantic import ValidationError
from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.erp.registry import ErpConfig
from activities.text_normalise import email_domain, normalise_code, normalise_name, within_domain
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
from models.invoices import (
    DuplicateCheck,
    DuplicateClaim,
    GoodsReceipt,
    LineItem,
    PurchaseOrder,
    Supplier,
    normalise_invoice_number,
)
from models.reference import BuyerNames, OrgQuery, SupplierMatch, SupplierQuery

logger = logging.getLogger(__name__)

_CLAIM_ATTEMPTS = 3
MIN_CONTAINED_LENGTH = 5
"""The fewest letters a supplier name needs before it may match by containment."""


def as_supplier(row: SupplierRow) -> Supplier:
    """The payload form of a supplier row."""
    return Supplier.model_validate({**row.model_dump(), "org": row.org_id})


def _single(found: Sequence[tuple[Supplier, bool]]) -> SupplierMatch | None:
    """The match when every hit is one supplier (its name before an alias); else nobody."""
    if len({supplier.id for supplier, _ in found}) != 1:
        return None
    supplier, is_alias = min(found, key=lambda hit: hit[1])
    return SupplierMatch(supplier=supplier, matched_by="alias" if is_alias else "name")


def _names_match(printed: str, known: str) -> bool:
    """Whether normalised names are equal, or one holds the other's whole words and the
    shorter is long enough to mean something (a lookup must not guess)."""
    if not printed or not known:
        return False
    shorter, longer = sorted((printed, known), key=len)
    if shorter != longer and len(shorter.replace(" ", "")) < MIN_CONTAINED_LENGTH:
        return False
    return f" {shorter} " in f" {longer} "


def _by_name(suppliers: Sequence[Supplier], name: str) -> SupplierMatch | None:
    """The supplier whose name or alias equals the printed one when normalised, else the one
    whose longest such name is contained in it (or contains it); ties name nobody."""
    printed = normalise_name(name)
    exact: list[tuple[Supplier, bool]] = []
    contained: list[tuple[int, Supplier, bool]] = []
    for supplier in suppliers:
        for known, is_alias in [(supplier.name, False), *((a, True) for a in supplier.aliases)]:
            normalised = normalise_name(known)
            if printed and normalised == printed:
                exact.append((supplier, is_alias))
            elif _names_match(printed, normalised):
                contained.append((len(normalised), supplier, is_alias))
    if exact:
        return _single(exact)
    if contained:
        longest = max(length for length, _, _ in contained)
        return _single([(s, alias) for length, s, alias in contained if length == longest])
    return None


def match_supplier(suppliers: Sequence[Supplier], query: SupplierQuery) -> SupplierMatch:
    """The supplier by tax id first, then by name or alias, else by the sender's domain."""
    wanted = normalise_code(query.tax_id) if query.tax_id else ""
    if wanted:
        taxed = [s for s in suppliers if s.tax_id and normalise_code(s.tax_id) == wanted]
        if len(taxed) == 1:
            return SupplierMatch(supplier=taxed[0], matched_by="tax_id")
        named = _by_name(taxed, query.name) if query.name and taxed else None
        if named is not None:
            return SupplierMatch(supplier=named.supplier, matched_by="tax_id")
    if query.name:
        named = _by_name(suppliers, query.name)
        if named is not None:
            return named
    domain = email_domain(query.sender_email) if query.sender_email else None
    if domain:
        mailed = [s for s in suppliers if any(within_domain(domain, d) for d in s.email_domains)]
        if len(mailed) == 1:
            return SupplierMatch(supplier=mailed[0], matched_by="email_domain")
    return SupplierMatch()


def _line_key(line: LineItem) -> str:
    if line.item_code:
        return f"code:{line.item_code.strip().casefold()}"
    return f"text:{' '.join(line.description.casefold().split())}"


def _add(left: Decimal | None, right: Decimal | None) -> Decimal | None:
    return right if left is None else left if right is None else left + right


def merge_receipts(po_number: str, rows: Sequence[GoodsReceiptRow]) -> GoodsReceipt:
    """One receipt of a PO from several: quantities (and totals) summed per line."""
    merged: dict[str, LineItem] = {}
    for row in rows:
        for line in (LineItem.model_validate(line) for line in row.lines):
            key = _line_key(line)
            if key in merged:
                first = merged[key]
                merged[key] = first.model_copy(
                    update={
                        "quantity": _add(first.quantity, line.quantity),
                        "line_total": _add(first.line_total, line.line_total),
                    }
                )
            else:
                merged[key] = line
    number = ", ".join(row.number for row in rows)
    return GoodsReceipt(number=number, po_number=po_number, lines=list(merged.values()))


class ReferenceDataActivities:
    """Reference-data look-ups and invoice-number claims; every query is scoped to its org."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="find_supplier")
    async def find_supplier(self, query: SupplierQuery) -> SupplierMatch:
        """An active supplier of the org by tax id, printed name or alias, or sender domain
        (compared in memory: the name rules are more than SQL can say portably)."""
        statement = select(SupplierRow).where(
            SupplierRow.org_id == query.org, col(SupplierRow.active).is_(True)
        )
        async with self._sessions() as session:
            rows = (await session.exec(statement.order_by(col(SupplierRow.id)))).all()
        match = match_supplier([as_supplier(row) for row in rows], query)
        logger.info("supplier of %s: %s", query.org, match.matched_by or "not found")
        return match

    async def supplier_by_id(self, org: str, supplier_id: int) -> Supplier | None:
        """The org's supplier of that id (a person's pick, so inactive ones too), or None."""
        async with self._sessions() as session:
            row = await session.get(SupplierRow, supplier_id)
        return as_supplier(row) if row is not None and row.org_id == org else None

    @activity.defn(name="org_buyer_names")
    async def org_buyer_names(self, query: OrgQuery) -> BuyerNames:
        """The org's name and aliases, as suppliers may print the buyer."""
        aliases = select(OrgAlias.alias).where(OrgAlias.org_id == query.org)
        async with self._sessions() as session:
            org = await session.get(Org, query.org)
            names = [org.name] if org else []
            names += (await session.exec(aliases.order_by(col(OrgAlias.id)))).all()
        return BuyerNames(names=names)

    @activity.defn(name="find_purchase_order")
    async def find_purchase_order(self, query: PurchaseOrderQuery) -> PurchaseOrder | None:
        """The org's open purchase order of that number (compared as invoice numbers are)."""
        key = normalise_invoice_number(query.po_number)
        statement = (
            select(PurchaseOrderRow, SupplierRow.name)
            .join(
                SupplierRow, col(PurchaseOrderRow.supplier_id) == col(SupplierRow.id), isouter=True
            )
            .where(PurchaseOrderRow.org_id == query.org, PurchaseOrderRow.status == "open")
            .where(
                or_(
                    col(PurchaseOrderRow.number) == query.po_number,
                    col(PurchaseOrderRow.number_key) == key,
                )
            )
        )
        async with self._sessions() as session:
            rows = (await session.exec(statement)).all()
        exact = [row for row in rows if row[0].number == query.po_number]
        found = exact or rows
        if len(found) != 1:
            return None
        order, supplier_name = found[0]
        return PurchaseOrder(
            number=order.number,
            supplier_name=supplier_name,
            currency=order.currency,
            total_amount=order.total_amount,
            department=order.department,
            lines=[LineItem.model_validate(line) for line in order.lines],
        )

    @activity.defn(name="find_goods_receipt")
    async def find_goods_receipt(self, query: PurchaseOrderQuery) -> GoodsReceipt | None:
        """The org's goods receipts of a purchase order, merged into one."""
        statement = (
            select(GoodsReceiptRow)
            .where(GoodsReceiptRow.org_id == query.org)
            .where(GoodsReceiptRow.po_number_key == normalise_invoice_number(query.po_number))
            .order_by(col(GoodsReceiptRow.received_at), col(GoodsReceiptRow.id))
        )
        async with self._sessions() as session:
            rows = (await session.exec(statement)).all()
        return merge_receipts(rows[0].po_number, rows) if rows else None

    @activity.defn(name="claim_invoice_number")
    async def claim_invoice_number(self, claim: DuplicateClaim) -> DuplicateCheck:
        """Claim a supplier's invoice number for a run, or name the run that holds it (a number
        without letters or digits cannot be compared, so it claims nothing)."""
        number = normalise_invoice_number(claim.invoice_number)
        if not number:
            logger.warning("invoice number %r has nothing to compare", claim.invoice_number)
            return DuplicateCheck(duplicate=False)
        for _ in range(_CLAIM_ATTEMPTS):
            try:
                async with session_scope(self._sessions) as session:
                    session.add(
                        InvoiceClaim(
                            org_id=claim.org,
                            supplier_key=claim.supplier_key,
                            invoice_number_normalised=number,
                            transaction_id=claim.transaction_id,
                            invoice_number=claim.invoice_number,
                        )
                    )
            except IntegrityError:
                holder = await self._holder(claim, number)
                if holder is None:
                    continue  # released in the meantime, or the org is unknown: try again
                duplicate = holder != claim.transaction_id
                logger.info("invoice %s of %s: held by %s", number, claim.org, holder)
                return DuplicateCheck(
                    duplicate=duplicate, first_transaction_id=holder if duplicate else None
                )
            logger.info("invoice %s of %s claimed by %s", number, claim.org, claim.transaction_id)
            return DuplicateCheck(duplicate=False)
        await self._require_org(claim.org)
        raise ApplicationError("the invoice number could not be claimed", type="InvoiceClaim")

    async def _holder(self, claim: DuplicateClaim, number: str) -> str | None:
        statement = select(InvoiceClaim.transaction_id).where(
            InvoiceClaim.org_id == claim.org,
            InvoiceClaim.supplier_key == claim.supplier_key,
            InvoiceClaim.invoice_number_normalised == number,
        )
        async with self._sessions() as session:
            return (await session.exec(statement)).first()

    async def _require_org(self, org: str) -> None:
        async with self._sessions() as session:
            if await session.get(Org, org) is None:
                raise ApplicationError(f"no org {org!r}", type="UnknownOrg", non_retryable=True)

    @activity.defn(name="release_invoice_claim")
    async def release_invoice_claim(self, claim: DuplicateClaim) -> None:
        """Drop the run's claim (a rejected or failed run), so a corrected resend may pass."""
        statement = delete(InvoiceClaim).where(
            col(InvoiceClaim.org_id) == claim.org,
            col(InvoiceClaim.supplier_key) == claim.supplier_key,
            col(InvoiceClaim.invoice_number_normalised)
            == normalise_invoice_number(claim.invoice_number),
            col(InvoiceClaim.transaction_id) == claim.transaction_id,
        )
        async with session_scope(self._sessions) as session:
            result = await session.exec(statement)
        logger.info("released %d claim(s) of %s", result.rowcount, claim.transaction_id)

    async def erp_config_for_org(self, org: str) -> ErpConfig | None:
        """The org's ERP plugin and settings (secret references unresolved), or None; the
        ERP activities call it before each use, so a changed connection applies at once."""
        async with self._sessions() as session:
            row = await session.get(ErpConnection, org)
        if row is None:
            return None
        try:
            return ErpConfig.model_validate({"plugin": row.plugin, "settings": row.settings})
        except ValidationError as error:
            fields = ", ".join(".".join(map(str, e["loc"])) for e in error.errors())
            raise ApplicationError(
                f"the ERP connection of {org} is invalid ({fields}): an admin must fix it",
                type="InvalidErpConfig",
                non_retryable=True,
            ) from None
