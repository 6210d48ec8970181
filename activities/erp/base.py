"""What every ERP plugin offers, and the two ways it fails (retry later, or never)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import timedelta

from temporalio.exceptions import ApplicationError

from models.erp import ErpPosted, ErpPosting, PurchaseOrderQuery
from models.invoices import GoodsReceipt, PurchaseOrder


class ErpError(Exception):
    """Base class of the errors a plugin raises on purpose."""

    error_type = "ErpError"
    non_retryable = False

    def to_application_error(self) -> ApplicationError:
        """The Temporal error an activity raises for this one."""
        return ApplicationError(str(self), type=self.error_type, non_retryable=self.non_retryable)


class ErpUnavailable(ErpError):
    """The ERP cannot answer now (5xx, 429, timeout, no connection): the step retries."""

    error_type = "ErpUnavailable"

    def __init__(self, message: str, *, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def to_application_error(self) -> ApplicationError:
        """A retryable Temporal error, asking for the ERP's `Retry-After` delay if it gave one."""
        return ApplicationError(str(self), type=self.error_type, next_retry_delay=self.retry_after)


class ErpRejected(ErpError):
    """The ERP refused the request (a 4xx other than 409/429, or invalid data): no retry."""

    error_type = "ErpRejected"
    non_retryable = True


class ErpPlugin(ABC):
    """One ERP connection of an org: posts approved invoices and looks up POs and receipts."""

    name: str

    @abstractmethod
    async def post_invoice(self, posting: ErpPosting) -> ErpPosted:
        """Post the invoice once per `external_reference`: a repeat finds the first document."""

    @abstractmethod
    async def find_purchase_order(self, query: PurchaseOrderQuery) -> PurchaseOrder | None:
        """The purchase order with the query's number, or None if the ERP has none."""

    @abstractmethod
    async def find_goods_receipt(self, query: PurchaseOrderQuery) -> GoodsReceipt | None:
        """The goods receipt against the query's purchase order, or None if there is none."""
