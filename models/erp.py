"""Payloads between the AP workflow and the ERP plugins (sandbox-safe: no I/O)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from models.invoices import InvoiceFields


class ErpPosting(BaseModel):
    """An approved invoice to post; `external_reference` (the transaction id) makes it once."""

    org: str
    external_reference: str
    supplier_id: int | None = None
    supplier_name: str
    erp_vendor_id: str | None = None
    department: str | None = None
    approved_by: list[str] = Field(default_factory=list, description="email addresses")
    invoice: InvoiceFields
    working_folder: str = Field(description="storage prefix of the run, for exports")


class ErpPosted(BaseModel):
    """The ERP's answer: its document id and whether this call created it or found it."""

    plugin: str
    erp_document_id: str
    created: bool = Field(description="False when the ERP already had this external reference")
    location: str | None = Field(default=None, description="a URL or storage key, if any")


class PurchaseOrderQuery(BaseModel):
    """Find a purchase order (and its goods receipt) of an org by number."""

    org: str
    po_number: str
    with_goods_receipt: bool = False
