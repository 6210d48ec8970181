"""AP reference data and onboarding: suppliers, org aliases, purchase orders, goods receipts
and the ERP connection. Admins change them; AP clerks and finance roles read them."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.reference import (
    erp_connection,
    goods_receipts,
    org_aliases,
    purchase_orders,
    suppliers,
)

routers: list[APIRouter] = [
    suppliers.router,
    org_aliases.router,
    purchase_orders.router,
    goods_receipts.router,
    erp_connection.router,
]
"""The reference-data routers, for the app to include."""
