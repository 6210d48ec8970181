"""ERP plugins: post approved invoices and look up purchase orders and goods receipts.

`ErpActivities` are the Temporal activities; `plugin_for` builds an org's plugin from its
`ErpConfig`: the generic REST/webhook plugin, or the export to object storage.
"""

from __future__ import annotations

from activities.erp.activity import ErpActivities
from activities.erp.base import ErpError, ErpPlugin, ErpRejected, ErpUnavailable
from activities.erp.export import ExportPlugin, ExportSettings
from activities.erp.registry import ErpConfig, plugin_for
from activities.erp.rest_webhook import RestWebhookPlugin, RestWebhookSettings

__all__ = [
    "ErpActivities",
    "ErpConfig",
    "ErpError",
    "ErpPlugin",
    "ErpRejected",
    "ErpUnavailable",
    "ExportPlugin",
    "ExportSettings",
    "RestWebhookPlugin",
    "RestWebhookSettings",
    "plugin_for",
]
