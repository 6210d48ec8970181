"""Reference-data look-ups of the AP invoice process: suppliers and the org's buyer names
(sandbox-safe: no I/O)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from models.invoices import Supplier

SupplierMatchedBy = Literal["tax_id", "name", "alias", "email_domain"]


class SupplierQuery(BaseModel):
    """Find an org's supplier by tax id, printed name or the mail sender's address."""

    org: str
    name: str | None = None
    tax_id: str | None = None
    sender_email: str | None = None


class SupplierMatch(BaseModel):
    """The supplier found, if any, and which rule found it."""

    supplier: Supplier | None = None
    matched_by: SupplierMatchedBy | None = None


class OrgQuery(BaseModel):
    """Ask about one org."""

    org: str


class BuyerNames(BaseModel):
    """The names an org's suppliers may print as the buyer: its name and its aliases."""

    names: list[str] = Field(default_factory=list)
