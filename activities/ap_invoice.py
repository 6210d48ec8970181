"""Activities of the AP invoice run that combine the stores: the manifest, the PO look-up
(the ERP first, then Baton's purchase orders) and the verify step (reference data + the rules).
"""

from __future__ import annotations

import logging

from temporalio import activity

from activities.erp.activity import ErpActivities
from activities.reference_data import ReferenceDataActivities
from activities.storage import ObjectStore
from activities.verification import verify_invoice_facts
from models.ap_invoice import InvoiceManifest, PurchaseOrderLookup, VerifyInvoice
from models.erp import PurchaseOrderQuery
from models.invoices import Supplier, Verification, VerifyRequest
from models.reference import OrgQuery, SupplierQuery

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
CONFIRMING_MATCHES = frozenset({"tax_id", "name", "alias"})
"""Ways of finding the supplier that confirm the name read from the invoice."""


def confirm_supplier_name(request: VerifyRequest) -> VerifyRequest:
    """The request with the supplier name trusted: reference data knows the name printed."""
    invoice = request.invoice
    confidence = {**invoice.confidence, "supplier_name": 1.0}
    return request.model_copy(
        update={"invoice": invoice.model_copy(update={"confidence": confidence})}
    )


class ApInvoiceActivities:
    """The AP run's own steps, on the I/O queue."""

    def __init__(
        self, store: ObjectStore, reference: ReferenceDataActivities, erp: ErpActivities
    ) -> None:
        self._store = store
        self._reference = reference
        self._erp = erp

    @activity.defn(name="store_invoice_manifest")
    async def store_invoice_manifest(self, manifest: InvoiceManifest) -> str:
        """Write the run's input as `manifest.json` in its working folder, once."""
        key = f"{manifest.working_folder.rstrip('/')}/{MANIFEST_NAME}"
        if not await self._store.exists(key):
            await self._store.put(
                key, manifest.model_dump_json(indent=2).encode(), content_type="application/json"
            )
        return key

    @activity.defn(name="fetch_purchase_order")
    async def fetch_purchase_order(self, query: PurchaseOrderQuery) -> PurchaseOrderLookup:
        """The PO (and its goods receipt) from the org's ERP, else from Baton's records."""
        order = await self._erp.fetch_purchase_order_from_erp(query)
        if order is None:
            order = await self._reference.find_purchase_order(query)
        receipt = None
        if query.with_goods_receipt:
            receipt = await self._erp.fetch_goods_receipt_from_erp(query)
            if receipt is None:
                receipt = await self._reference.find_goods_receipt(query)
        logger.info(
            "PO %s of %s: %s, goods receipt %s",
            query.po_number,
            query.org,
            order.source if order else "not found",
            receipt.source if receipt else "not found",
        )
        return PurchaseOrderLookup(purchase_order=order, goods_receipt=receipt)

    @activity.defn(name="verify_invoice")
    async def verify_invoice(self, step: VerifyInvoice) -> Verification:
        """Find the supplier and the org's buyer names, then check and match the invoice."""
        request = step.request
        fields = request.invoice.fields
        supplier: Supplier | None = None
        if step.supplier_id is not None:
            supplier = await self._reference.supplier_by_id(request.org, step.supplier_id)
        if supplier is None:
            found = await self._reference.find_supplier(
                SupplierQuery(
                    org=request.org,
                    name=fields.supplier_name,
                    tax_id=fields.supplier_tax_id,
                    sender_email=request.sender,
                )
            )
            supplier = found.supplier
            if found.matched_by in CONFIRMING_MATCHES:
                request = confirm_supplier_name(request)
        buyers = await self._reference.org_buyer_names(OrgQuery(org=request.org))
        return verify_invoice_facts(
            request,
            supplier,
            buyers.names,
            required_fields=step.required_fields or None,
        )
