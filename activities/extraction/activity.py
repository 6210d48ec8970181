"""The `extract_invoice` activity (documents task queue): a stored document's invoice fields."""

from __future__ import annotations

import asyncio
import logging
import threading

from temporalio import activity

from activities.documents import MAX_PDF_BYTES
from activities.extraction.pipeline import file_too_large
from activities.extraction.sandbox import ExtractionLimits, extract_in_sandbox
from activities.storage import ObjectStore
from models.invoices import ExtractedInvoice, ExtractRequest

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0


class ExtractionActivities:
    """Reads invoices out of stored documents, each in a sandboxed child process."""

    def __init__(self, store: ObjectStore, limits: ExtractionLimits | None = None) -> None:
        self._store = store
        self._limits = limits or ExtractionLimits()

    @activity.defn(name="extract_invoice")
    async def extract_invoice(self, request: ExtractRequest) -> ExtractedInvoice:
        """The fields of the stored document; heartbeats while its sandbox works."""
        size = await self._store.size(request.key)
        if size > MAX_PDF_BYTES:
            raise file_too_large(size)
        data = await self._store.get(request.key)
        cancelled = threading.Event()
        job = asyncio.create_task(
            asyncio.to_thread(extract_in_sandbox, data, request.kind, self._limits, cancelled)
        )
        try:
            while True:
                done, _ = await asyncio.wait({job}, timeout=HEARTBEAT_SECONDS)
                if done:
                    invoice = job.result()
                    logger.info(
                        "extracted %s: %s, %s pages", request.key, invoice.method, invoice.pages
                    )
                    return invoice
                activity.heartbeat(f"reading {request.key}")
        finally:
            cancelled.set()  # a child still running is killed; wait until it is gone
            await asyncio.gather(job, return_exceptions=True)
