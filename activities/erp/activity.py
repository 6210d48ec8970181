"""The ERP activities: post an approved invoice, fetch a purchase order or goods receipt.

Each call builds the org's plugin from its current `ErpConfig`, so a changed config applies
to the next attempt. An org without an ERP (no config, or plugin "none") gets the export
plugin for postings and no purchase orders or receipts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.erp.base import ErpError, ErpPlugin
from activities.erp.export import ExportPlugin
from activities.erp.registry import ErpConfig, plugin_for
from activities.storage import ObjectStore
from config.secrets import SecretResolver, SecretUnavailable
from models.erp import ErpPosted, ErpPosting, PurchaseOrderQuery
from models.invoices import GoodsReceipt, PurchaseOrder

logger = logging.getLogger(__name__)

ConfigForOrg = Callable[[str], Awaitable[ErpConfig | None]]


@asynccontextmanager
async def erp_errors() -> AsyncIterator[None]:
    """Raise plugin and secret errors as the Temporal errors the retry policy understands."""
    try:
        yield
    except ErpError as error:
        raise error.to_application_error() from error
    except SecretUnavailable as error:
        raise ApplicationError(
            str(error), type="SecretUnavailable", non_retryable=not error.retryable
        ) from error


class ErpActivities:
    """ERP activities, built once per worker with the object store and the org config lookup."""

    def __init__(
        self,
        store: ObjectStore,
        config_for_org: ConfigForOrg,
        secrets: SecretResolver | None = None,
    ) -> None:
        self._store = store
        self._config_for_org = config_for_org
        self._secrets = secrets

    async def _plugin(self, org: str) -> ErpPlugin | None:
        config = await self._config_for_org(org)
        return plugin_for(config, self._store, self._secrets) if config is not None else None

    @activity.defn(name="post_invoice_to_erp")
    async def post_invoice_to_erp(self, posting: ErpPosting) -> ErpPosted:
        """Post the invoice once per external reference; orgs without an ERP get an export."""
        async with erp_errors():
            plugin = await self._plugin(posting.org) or ExportPlugin(self._store)
            logger.info(
                "posting %s of %s with %s", posting.external_reference, posting.org, plugin.name
            )
            return await plugin.post_invoice(posting)

    @activity.defn(name="fetch_purchase_order_from_erp")
    async def fetch_purchase_order_from_erp(
        self, query: PurchaseOrderQuery
    ) -> PurchaseOrder | None:
        """The org's purchase order from its ERP, or None if it has none (or no ERP)."""
        async with erp_errors():
            plugin = await self._plugin(query.org)
            return await plugin.find_purchase_order(query) if plugin is not None else None

    @activity.defn(name="fetch_goods_receipt_from_erp")
    async def fetch_goods_receipt_from_erp(self, query: PurchaseOrderQuery) -> GoodsReceipt | None:
        """The goods receipt against the org's purchase order, or None if there is none."""
        async with erp_errors():
            plugin = await self._plugin(query.org)
            return await plugin.find_goods_receipt(query) if plugin is not None else None
