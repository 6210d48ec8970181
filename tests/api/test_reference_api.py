"""AP reference data over REST: admins manage suppliers, aliases, purchase orders, goods
receipts and the ERP connection; AP and finance roles read them; other orgs' records are not
found; invalid input changes nothing; secrets are only ever references."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.routes.reference import routers
from api.routes.reference.secret_settings import plain_secrets, redact_secrets
from api.state import AppState
from db.tables import ErpConnection
from starter.demo_data import (
    AP_CLERK,
    CFO,
    EMPLOYEE,
    FINANCE_APPROVER,
    GLOBEX_EMPLOYEE,
    GLOBEX_MANAGER,
    OPERATOR,
)
from tests.api.conftest import LoginAs

Headers = dict[str, str]


@pytest.fixture
def api(app: FastAPI, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The client, with the reference-data routes on the app (until `api.main` has them)."""
    paths = {getattr(route, "path", None) for route in app.routes}
    for router in routers:
        if router.prefix not in paths:
            app.include_router(router)
    return client


async def _json(response: httpx.Response, expected: int) -> Any:
    assert response.status_code == expected, response.text
    return response.json() if response.content else None


NEW_SUPPLIER = {
    "name": "Neu Handel GmbH",
    "aliases": ["Neu Handel", "neu handel", "NH Vertrieb"],
    "tax_id": "de 111 222 333",
    "email_domains": ["@Neu-Handel.Example", "neu-handel.example", "rechnung.neu.example"],
    "match_method": "3way",
    "department": "Finance",
    "erp_vendor_id": "V-7",
}


async def test_an_admin_manages_suppliers_and_ap_roles_read_them(
    api: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(OPERATOR.email)
    created = await _json(await api.post("/suppliers", json=NEW_SUPPLIER, headers=admin), 201)
    assert created["aliases"] == ["Neu Handel", "NH Vertrieb"]
    assert created["tax_id"] == "DE111222333"
    assert created["email_domains"] == ["neu-handel.example", "rechnung.neu.example"]
    assert (created["match_method"], created["department"], created["active"]) == (
        "3way",
        "Finance",
        True,
    )
    path = f"/suppliers/{created['id']}"

    for reader in (AP_CLERK, FINANCE_APPROVER, CFO):
        listed = await _json(await api.get("/suppliers", headers=await login_as(reader.email)), 200)
        names = [supplier["name"] for supplier in listed]
        assert names == sorted(names) and "Neu Handel GmbH" in names and "Lieferant GmbH" in names
    clerk = await login_as(AP_CLERK.email)
    assert (await _json(await api.get(path, headers=clerk), 200))["name"] == "Neu Handel GmbH"
    assert (await api.post("/suppliers", json=NEW_SUPPLIER, headers=clerk)).status_code == 403
    assert (await api.delete(path, headers=clerk)).status_code == 403
    employee = await login_as(EMPLOYEE.email)
    assert (await api.get("/suppliers", headers=employee)).status_code == 403

    changed = {**NEW_SUPPLIER, "name": "Neu Handel AG", "active": False, "match_method": None}
    replaced = await _json(await api.put(path, json=changed, headers=admin), 200)
    assert (replaced["name"], replaced["active"], replaced["match_method"]) == (
        "Neu Handel AG",
        False,
        None,
    )
    inactive = await _json(await api.get("/suppliers?active=false", headers=admin), 200)
    assert [supplier["id"] for supplier in inactive] == [created["id"]]

    await _json(await api.delete(path, headers=admin), 204)
    assert (await api.get(path, headers=admin)).status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"colour": "red"}, id="unknown-field"),
        pytest.param({"email_domains": ["not a domain"]}, id="bad-domain"),
        pytest.param({"match_method": "4way"}, id="bad-match-method"),
        pytest.param({"department": "Marketing"}, id="unknown-department"),
        pytest.param({"name": ""}, id="empty-name"),
    ],
)
async def test_invalid_supplier_input_is_refused_and_nothing_is_written(
    api: httpx.AsyncClient, login_as: LoginAs, change: dict[str, object]
) -> None:
    admin = await login_as(OPERATOR.email)
    before = await _json(await api.get("/suppliers", headers=admin), 200)
    await _json(await api.post("/suppliers", json={**NEW_SUPPLIER, **change}, headers=admin), 422)
    first = before[0]
    replacement = {**NEW_SUPPLIER, "name": first["name"], **change}
    await _json(await api.put(f"/suppliers/{first['id']}", json=replacement, headers=admin), 422)
    assert await _json(await api.get("/suppliers", headers=admin), 200) == before


async def test_duplicate_names_and_numbers_conflict(
    api: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(OPERATOR.email)
    suppliers = await _json(await api.get("/suppliers", headers=admin), 200)
    by_name = {supplier["name"]: supplier for supplier in suppliers}

    taken = await api.post("/suppliers", json={"name": "Lieferant GmbH"}, headers=admin)
    assert (await _json(taken, 409)) == {
        "detail": "A supplier named 'Lieferant GmbH' already exists"
    }
    rename = {"name": "Lieferant GmbH"}
    other = by_name["Musterlieferant GmbH"]
    renamed = await api.put(f"/suppliers/{other['id']}", json=rename, headers=admin)
    assert (await _json(renamed, 409))[
        "detail"
    ] == "A supplier named 'Lieferant GmbH' already exists"
    still = await _json(await api.get(f"/suppliers/{other['id']}", headers=admin), 200)
    assert still == other
    in_use = await api.delete(f"/suppliers/{by_name['Lieferant GmbH']['id']}", headers=admin)
    assert "deactivate it instead" in (await _json(in_use, 409))["detail"]

    alias = await api.post("/org-aliases", json={"alias": "Kunden AG Mitte"}, headers=admin)
    assert (await _json(alias, 409)) == {"detail": "The alias 'Kunden AG Mitte' already exists"}
    order = {"number": "2018 471331", "currency": "eur"}
    near = await api.post("/purchase-orders", json=order, headers=admin)
    assert (await _json(near, 409)) == {
        "detail": "A purchase order numbered '2018-471331' already exists"
    }
    receipt = {"number": "WE-2018-0806", "po_number": "B123456789", "lines": [{"quantity": 1}]}
    again = await api.post("/goods-receipts", json=receipt, headers=admin)
    assert (await _json(again, 409)) == {
        "detail": "A goods receipt numbered 'WE-2018-0806' already exists"
    }


async def test_org_aliases_are_listed_added_and_removed(
    api: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, clerk = await login_as(OPERATOR.email), await login_as(AP_CLERK.email)
    listed = await _json(await api.get("/org-aliases", headers=clerk), 200)
    assert [alias["alias"] for alias in listed] == ["Kunden AG Mitte", "Muster-Kunde GmbH"]

    added = await _json(
        await api.post("/org-aliases", json={"alias": " Acme Europe "}, headers=admin), 201
    )
    assert added["alias"] == "Acme Europe"
    assert (await api.post("/org-aliases", json={"alias": "X"}, headers=clerk)).status_code == 403
    assert (
        await api.post("/org-aliases", json={"alias": "X", "id": 3}, headers=admin)
    ).status_code == 422
    globex = await login_as(GLOBEX_MANAGER.email)
    assert (await api.delete(f"/org-aliases/{added['id']}", headers=globex)).status_code == 404
    await _json(await api.delete(f"/org-aliases/{added['id']}", headers=admin), 204)
    assert await _json(await api.get("/org-aliases", headers=clerk), 200) == listed


PO_LINES = [
    {
        "item_code": "W-1",
        "description": "Widget",
        "quantity": "10",
        "unit_price": "2.50",
        "line_total": "25.00",
        "tax_rate": "19",
    },
    {"description": "Freight", "line_total": "5"},
]


async def test_purchase_orders_and_goods_receipts_with_lines(
    api: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, clerk = await login_as(OPERATOR.email), await login_as(AP_CLERK.email)
    suppliers = await _json(await api.get("/suppliers", headers=admin), 200)
    lieferant = next(s for s in suppliers if s["name"] == "Lieferant GmbH")
    body = {
        "number": "PO-77",
        "supplier_id": lieferant["id"],
        "currency": "eur",
        "total_amount": "35.70",
        "department": "Engineering",
        "lines": PO_LINES,
    }
    order = await _json(await api.post("/purchase-orders", json=body, headers=admin), 201)
    assert (order["supplier_name"], order["currency"], order["status"]) == (
        "Lieferant GmbH",
        "EUR",
        "open",
    )
    assert order["lines"][0]["item_code"] == "W-1"
    assert [float(line["line_total"]) for line in order["lines"]] == [25.0, 5.0]
    assert float(order["total_amount"]) == 35.7

    found = await _json(await api.get("/purchase-orders?number=po77", headers=clerk), 200)
    assert [o["id"] for o in found] == [order["id"]]
    demo = await _json(await api.get("/purchase-orders?number=b-123456789", headers=clerk), 200)
    assert [(o["number"], len(o["lines"])) for o in demo] == [("B123456789", 6)]

    closed = await _json(
        await api.put(
            f"/purchase-orders/{order['id']}", json={**body, "status": "closed"}, headers=admin
        ),
        200,
    )
    assert closed["status"] == "closed"
    only_open = await _json(await api.get("/purchase-orders?status=open", headers=clerk), 200)
    assert order["id"] not in [o["id"] for o in only_open] and only_open
    bad_line = {**body, "number": "PO-78", "lines": [{"description": "x", "qty": 1}]}
    assert (await api.post("/purchase-orders", json=bad_line, headers=admin)).status_code == 422
    assert (await api.post("/purchase-orders", json=body, headers=clerk)).status_code == 403

    receipt = {
        "number": "GR-77",
        "po_number": "PO-77",
        "lines": [{"item_code": "W-1", "quantity": "4"}],
        "received_at": "2026-03-01T10:00:00+01:00",
    }
    created = await _json(await api.post("/goods-receipts", json=receipt, headers=admin), 201)
    assert created["received_at"].startswith("2026-03-01T09:00:00")
    by_po = await _json(await api.get("/goods-receipts?po_number=po-77", headers=clerk), 200)
    assert [r["number"] for r in by_po] == ["GR-77"]
    more = {**receipt, "lines": [{"item_code": "W-1", "quantity": "6"}]}
    assert (
        await _json(
            await api.put(f"/goods-receipts/{created['id']}", json=more, headers=admin), 200
        )
    )["lines"][0]["quantity"] == "6"
    naive = {**receipt, "number": "GR-78", "received_at": "2026-03-01T10:00:00"}
    assert (await api.post("/goods-receipts", json=naive, headers=admin)).status_code == 422

    await _json(await api.delete(f"/goods-receipts/{created['id']}", headers=admin), 204)
    await _json(await api.delete(f"/purchase-orders/{order['id']}", headers=admin), 204)
    assert (await api.get(f"/purchase-orders/{order['id']}", headers=clerk)).status_code == 404


async def test_another_orgs_records_are_not_found(
    api: httpx.AsyncClient, login_as: LoginAs
) -> None:
    acme = await login_as(OPERATOR.email)
    supplier = (await _json(await api.get("/suppliers", headers=acme), 200))[0]
    order = (await _json(await api.get("/purchase-orders", headers=acme), 200))[0]
    receipt = (await _json(await api.get("/goods-receipts", headers=acme), 200))[0]
    alias = (await _json(await api.get("/org-aliases", headers=acme), 200))[0]
    globex, globex_clerk = (
        await login_as(GLOBEX_MANAGER.email),
        await login_as(GLOBEX_EMPLOYEE.email),
    )

    for path, body in [
        (f"/suppliers/{supplier['id']}", {"name": "Taken Over"}),
        (f"/purchase-orders/{order['id']}", {"number": "X1", "currency": "EUR"}),
        (f"/goods-receipts/{receipt['id']}", {"number": "X1", "po_number": "X", "lines": [{}]}),
    ]:
        assert (await api.get(path, headers=globex_clerk)).status_code == 404
        assert (await api.put(path, json=body, headers=globex)).status_code == 404
        response = await api.delete(path, headers=globex)
        assert response.status_code == 404, path
        assert response.json()["detail"].startswith("No such ")
    assert (await api.delete(f"/org-aliases/{alias['id']}", headers=globex)).status_code == 404

    theirs = await _json(await api.get("/suppliers", headers=globex_clerk), 200)
    assert [s["name"] for s in theirs] == ["Global Supplies Ltd."]
    assert await _json(await api.get("/purchase-orders", headers=globex_clerk), 200) == []
    borrowed = {"number": "G-1", "currency": "EUR", "supplier_id": supplier["id"]}
    refused = await api.post("/purchase-orders", json=borrowed, headers=globex)
    assert (await _json(refused, 422))[
        "detail"
    ] == f"No supplier {supplier['id']} in your organisation"
    assert (
        await _json(await api.get(f"/suppliers/{supplier['id']}", headers=acme), 200)
    ) == supplier


ERP_SETTINGS = {
    "base_url": "https://erp.acme.example/api",
    "auth": "basic",
    "username": "baton",
    "token_ref": "env:ACME_ERP_PASSWORD",
    "signing_secret_ref": "aws-sm:acme/erp#signing",
}
ERP = {"plugin": "rest_webhook", "settings": ERP_SETTINGS}


def test_secret_named_settings_must_be_references() -> None:
    settings = {
        "base_url": "https://erp.example",
        "token_url": "https://erp.example/token",
        "password": "hunter2",
        "auth": {"clientSecret": "env:ERP_SECRET", "apiKey": "abc123"},
        "keys": [{"private_key": "file:/run/secrets/erp.pem"}],
    }
    assert plain_secrets(settings) == ["password", "auth.apiKey"]
    shown = redact_secrets(settings)
    assert shown["password"] == "[hidden]"
    assert shown["auth"] == {"clientSecret": "env:ERP_SECRET", "apiKey": "[hidden]"}
    assert shown["token_url"] == settings["token_url"]
    assert plain_secrets({"password": "aws-sm:arn:aws:secretsmanager:eu-1:1:secret:erp"}) == []
    assert plain_secrets({"password": "env:"}) == ["password"]


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({**ERP_SETTINGS, "token_ref": "hunter2"}, id="plain-token"),
        pytest.param({**ERP_SETTINGS, "signing_secret_ref": "hunter2"}, id="plain-signing-key"),
        pytest.param({**ERP_SETTINGS, "password": "hunter2"}, id="plain-password"),
        pytest.param({"base_url": "https://erp.example", "auth": "bearer"}, id="missing-token"),
        pytest.param({**ERP_SETTINGS, "colour": "hunter2"}, id="unknown-setting"),
    ],
)
async def test_erp_settings_that_do_not_fit_are_refused_without_repeating_them(
    api: httpx.AsyncClient, login_as: LoginAs, settings: dict[str, object]
) -> None:
    admin = await login_as(OPERATOR.email)
    await _json(await api.put("/erp-connection", json=ERP, headers=admin), 200)

    refused = await api.put("/erp-connection", json={**ERP, "settings": settings}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert "hunter2" not in refused.text
    shown = await _json(await api.get("/erp-connection", headers=admin), 200)
    assert shown["settings"] == ERP_SETTINGS


async def test_the_erp_connection_holds_secret_references_only(
    api: httpx.AsyncClient, login_as: LoginAs, baton: AppState
) -> None:
    admin = await login_as(OPERATOR.email)
    assert (await api.get("/erp-connection", headers=admin)).status_code == 404
    for wrong in ({**ERP, "secret": "x"}, {**ERP, "plugin": "sap"}):
        assert (await api.put("/erp-connection", json=wrong, headers=admin)).status_code == 422
    assert (await api.get("/erp-connection", headers=admin)).status_code == 404

    stored = await _json(await api.put("/erp-connection", json=ERP, headers=admin), 200)
    assert (stored["plugin"], stored["settings"]) == ("rest_webhook", ERP_SETTINGS)
    shown = await _json(await api.get("/erp-connection", headers=admin), 200)
    assert shown["settings"] == ERP_SETTINGS
    for reader in (AP_CLERK, EMPLOYEE):
        denied = await api.get("/erp-connection", headers=await login_as(reader.email))
        assert denied.status_code == 403
    globex = await login_as(GLOBEX_MANAGER.email)
    assert (await api.get("/erp-connection", headers=globex)).status_code == 404

    async with baton.sessions() as session:  # a row written behind the API's back
        row = await session.get(ErpConnection, "acme")
        assert row is not None
        row.settings = {**ERP_SETTINGS, "api_key": "sk-live-123", "token_ref": "sk-live-456"}
        session.add(row)
        await session.commit()
    leaked = await api.get("/erp-connection", headers=admin)
    assert leaked.status_code == 200 and "sk-live" not in leaked.text
    assert (
        leaked.json()["settings"]["api_key"] == leaked.json()["settings"]["token_ref"] == "[hidden]"
    )

    await _json(await api.delete("/erp-connection", headers=admin), 204)
    assert (await api.get("/erp-connection", headers=admin)).status_code == 404
    await _json(await api.delete("/erp-connection", headers=admin), 204)
