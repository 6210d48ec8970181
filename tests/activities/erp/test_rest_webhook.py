"""The REST/webhook ERP plugin against a real HTTP server on loopback, retried by Temporal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.erp import (
    ErpActivities,
    ErpConfig,
    ErpError,
    ErpRejected,
    ErpUnavailable,
    RestWebhookPlugin,
    RestWebhookSettings,
)
from activities.storage import LocalObjectStore
from models.erp import ErpPosted, ErpPosting, PurchaseOrderQuery
from models.invoices import InvoiceFields, LineItem
from tests.activities.erp.fake_erp import FakeErp, running_fake_erp
from tests.activities.erp.post_workflow import PostToErpWorkflow
from tests.harness.ports import free_port

TOKEN = "erp-token-7f3a9c"


def make_posting(reference: str | None = None) -> ErpPosting:
    reference = reference or str(uuid.uuid4())
    return ErpPosting(
        org="acme",
        external_reference=reference,
        supplier_id=42,
        supplier_name="Globex GmbH",
        erp_vendor_id="V-100",
        department="Facilities",
        approved_by=["liam.walker@acme.example"],
        invoice=InvoiceFields(
            invoice_number="INV-2024-001",
            invoice_date=date(2024, 3, 1),
            currency="EUR",
            subtotal=Decimal("100.00"),
            tax_amount=Decimal("19.00"),
            total_amount=Decimal("119.00"),
            po_number="PO-7",
            line_items=[
                LineItem(
                    description="Chairs",
                    item_code="CH-1",
                    quantity=Decimal("4"),
                    unit_price=Decimal("25.00"),
                    line_total=Decimal("100.00"),
                    tax_rate=Decimal("19"),
                )
            ],
        ),
        working_folder=f"acme/ap_invoice/{reference}",
    )


@pytest.fixture
def erp() -> Iterator[FakeErp]:
    with running_fake_erp() as fake:
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(
        tmp_path / "files", public_url="http://baton.test", secret_key="k" * 32, link_ttl_seconds=60
    )


def settings_for(erp: FakeErp, **overrides: Any) -> dict[str, Any]:
    return {"base_url": erp.url, "timeout_seconds": 5, **overrides}


def plugin_for_erp(erp: FakeErp, **overrides: Any) -> RestWebhookPlugin:
    return RestWebhookPlugin(RestWebhookSettings(**settings_for(erp, **overrides)))


def activities_for(erp: FakeErp, store: LocalObjectStore, **overrides: Any) -> ErpActivities:
    config = ErpConfig(plugin="rest_webhook", settings=settings_for(erp, **overrides))

    async def config_for_org(org: str) -> ErpConfig | None:
        return config if org == "acme" else None

    return ErpActivities(store, config_for_org)


async def post_through_temporal(
    client: Client, activities: ErpActivities, posting: ErpPosting
) -> ErpPosted:
    """Run the activity in a real workflow on the session's Temporal server."""
    queue = f"erp-test-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[PostToErpWorkflow],
        activities=[activities.post_invoice_to_erp],
    ):
        return await client.execute_workflow(
            PostToErpWorkflow.run,
            posting,
            id=f"acme:erp-test:{posting.external_reference}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=60),
        )


# --- posting ----------------------------------------------------------------------------


async def test_a_post_creates_one_document(erp: FakeErp) -> None:
    posting = make_posting()

    posted = await plugin_for_erp(erp).post_invoice(posting)

    assert posted == ErpPosted(
        plugin="rest_webhook",
        erp_document_id="DOC-1",
        created=True,
        location=f"{erp.url}/invoices/DOC-1",
    )
    assert list(erp.documents) == ["DOC-1"]
    lookup, post = erp.requests
    assert (lookup.method, lookup.path) == ("GET", f"/api/invoices/{posting.external_reference}")
    assert (post.method, post.path) == ("POST", "/api/invoices")
    assert post.headers["idempotency-key"] == posting.external_reference
    assert post.headers["content-type"] == "application/json"
    assert "x-baton-signature" not in post.headers
    assert "authorization" not in post.headers
    body = json.loads(post.body)
    assert body["external_reference"] == posting.external_reference
    assert body["invoice"]["total_amount"] == "119.00"
    assert body["invoice"]["invoice_date"] == "2024-03-01"
    assert body["invoice"]["line_items"][0]["quantity"] == "4"
    assert body["approved_by"] == ["liam.walker@acme.example"]
    assert "working_folder" not in body


@pytest.mark.parametrize(
    ("lookup_before_post", "conflict_names_the_document", "posts"),
    [(True, True, 1), (False, True, 2), (False, False, 2)],
    ids=["lookup-first", "conflict-with-id", "conflict-then-lookup"],
)
async def test_posting_the_same_reference_again_finds_the_first_document(
    erp: FakeErp, lookup_before_post: bool, conflict_names_the_document: bool, posts: int
) -> None:
    erp.conflict_names_the_document = conflict_names_the_document
    plugin = plugin_for_erp(erp, lookup_before_post=lookup_before_post)
    posting = make_posting()

    first = await plugin.post_invoice(posting)
    second = await plugin.post_invoice(posting)

    assert first.created
    assert not second.created
    assert second.erp_document_id == first.erp_document_id == "DOC-1"
    assert list(erp.documents) == ["DOC-1"]
    assert len(erp.posts()) == posts


async def test_a_200_replay_means_the_erp_had_the_reference(erp: FakeErp) -> None:
    erp.replays_with_200 = True
    plugin = plugin_for_erp(erp, lookup_before_post=False)
    posting = make_posting()

    first = await plugin.post_invoice(posting)
    second = await plugin.post_invoice(posting)

    assert (first.created, second.created) == (True, False)
    assert second.erp_document_id == first.erp_document_id
    assert list(erp.documents) == ["DOC-1"]


async def test_an_answer_without_an_id_is_checked_by_a_lookup(erp: FakeErp) -> None:
    erp.post_failures.append((200, {}))

    with pytest.raises(ErpUnavailable, match=r"accepted .* but cannot find it yet"):
        await plugin_for_erp(erp).post_invoice(make_posting())
    assert [request.method for request in erp.requests] == ["GET", "POST", "GET"]


async def test_503_twice_then_201_through_temporal_retries_posts_once(
    erp: FakeErp, store: LocalObjectStore, temporal_client: Client
) -> None:
    erp.post_failures.extend([(503, {}), (503, {})])
    posting = make_posting()

    posted = await post_through_temporal(temporal_client, activities_for(erp, store), posting)

    assert posted.created
    assert posted.erp_document_id == "DOC-1"
    assert list(erp.documents) == ["DOC-1"]
    assert len(erp.posts()) == 3
    assert {post.headers["idempotency-key"] for post in erp.posts()} == {posting.external_reference}


async def test_a_timeout_after_the_erp_stored_the_posting_ends_with_one_document(
    erp: FakeErp, store: LocalObjectStore, temporal_client: Client
) -> None:
    erp.honours_idempotency = False
    erp.stall_first_post_seconds = 2.0
    activities = activities_for(erp, store, timeout_seconds=0.5)

    posted = await post_through_temporal(temporal_client, activities, make_posting())

    assert posted.erp_document_id == "DOC-1"
    assert not posted.created
    assert list(erp.documents) == ["DOC-1"]
    assert len(erp.posts()) == 1


async def test_without_the_lookup_an_erp_ignoring_idempotency_keys_would_book_twice(
    erp: FakeErp,
) -> None:
    """The control for the test above: the same ERP and timeout, with the lookup turned off."""
    erp.honours_idempotency = False
    erp.stall_first_post_seconds = 2.0
    plugin = plugin_for_erp(erp, timeout_seconds=0.5, lookup_before_post=False)
    posting = make_posting()

    with pytest.raises(
        ErpUnavailable, match=re.escape("did not answer POST /invoices within 0.5s")
    ):
        await plugin.post_invoice(posting)
    await plugin.post_invoice(posting)

    assert list(erp.documents) == ["DOC-1", "DOC-2"]


async def test_400_is_rejected_without_a_retry(
    erp: FakeErp, store: LocalObjectStore, temporal_client: Client
) -> None:
    erp.post_failures.append((400, {}))

    with pytest.raises(WorkflowFailureError) as failure:
        await post_through_temporal(temporal_client, activities_for(erp, store), make_posting())

    activity_error = failure.value.cause
    assert isinstance(activity_error, ActivityError)
    error = activity_error.cause
    assert isinstance(error, ApplicationError)
    assert error.type == "ErpRejected"
    assert error.non_retryable
    assert "400" in error.message
    assert "failing with 400 on purpose" in error.message
    assert len(erp.posts()) == 1
    assert erp.documents == {}


@pytest.mark.parametrize(
    ("status", "headers", "error_type", "retry_after"),
    [
        (401, {}, ErpRejected, None),
        (404, {}, ErpRejected, None),
        (422, {}, ErpRejected, None),
        (408, {}, ErpUnavailable, None),
        (429, {"Retry-After": "7"}, ErpUnavailable, timedelta(seconds=7)),
        (500, {}, ErpUnavailable, None),
        (502, {}, ErpUnavailable, None),
    ],
)
async def test_answers_map_to_retryable_or_final_errors(
    erp: FakeErp,
    status: int,
    headers: dict[str, str],
    error_type: type[ErpError],
    retry_after: timedelta | None,
) -> None:
    erp.post_failures.append((status, headers))

    with pytest.raises(error_type) as failure:
        await plugin_for_erp(erp).post_invoice(make_posting())

    assert f"with {status}" in str(failure.value)
    converted = failure.value.to_application_error()
    assert converted.type == error_type.__name__
    assert converted.non_retryable is (error_type is ErpRejected)
    assert converted.next_retry_delay == retry_after
    assert erp.documents == {}


async def test_an_unreachable_erp_is_retryable() -> None:
    plugin = RestWebhookPlugin(RestWebhookSettings(base_url=f"http://127.0.0.1:{free_port()}"))

    with pytest.raises(ErpUnavailable, match="cannot reach the ERP"):
        await plugin.post_invoice(make_posting())


async def test_a_route_the_erp_lacks_is_a_final_error(erp: FakeErp) -> None:
    plugin = plugin_for_erp(erp, post_path="/bookings")

    with pytest.raises(ErpRejected, match="no such route"):
        await plugin.post_invoice(make_posting())


# --- authentication and signatures ------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "extra", "header", "value"),
    [
        ("bearer", {}, "Authorization", f"Bearer {TOKEN}"),
        (
            "basic",
            {"username": "baton"},
            "Authorization",
            "Basic " + base64.b64encode(f"baton:{TOKEN}".encode()).decode(),
        ),
        ("header", {"header_name": "X-Erp-Key"}, "X-Erp-Key", TOKEN),
    ],
)
async def test_a_token_from_an_env_reference_reaches_the_erp(
    erp: FakeErp,
    monkeypatch: pytest.MonkeyPatch,
    auth: str,
    extra: dict[str, str],
    header: str,
    value: str,
) -> None:
    monkeypatch.setenv("ACME_ERP_TOKEN", TOKEN)
    erp.required_headers = {header: value}
    erp.purchase_orders["PO-7"] = {"number": "PO-7"}
    plugin = plugin_for_erp(erp, auth=auth, token_ref="env:ACME_ERP_TOKEN", **extra)

    posted = await plugin.post_invoice(make_posting())
    order = await plugin.find_purchase_order(PurchaseOrderQuery(org="acme", po_number="PO-7"))

    assert posted.created
    assert order is not None
    assert all(request.headers[header.lower()] == value for request in erp.requests)


async def test_a_wrong_token_is_rejected(erp: FakeErp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_ERP_TOKEN", "stale-token")
    erp.required_headers = {"Authorization": f"Bearer {TOKEN}"}
    plugin = plugin_for_erp(erp, auth="bearer", token_ref="env:ACME_ERP_TOKEN")

    with pytest.raises(ErpRejected, match="401"):
        await plugin.post_invoice(make_posting())
    assert erp.documents == {}


async def test_a_token_that_cannot_be_a_header_is_refused_without_showing_it(
    erp: FakeErp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_ERP_TOKEN", f"{TOKEN}\r\nX-Injected: 1")
    plugin = plugin_for_erp(erp, auth="bearer", token_ref="env:ACME_ERP_TOKEN")

    with pytest.raises(ErpRejected) as failure:
        await plugin.post_invoice(make_posting())

    assert "env:ACME_ERP_TOKEN" in str(failure.value)
    assert TOKEN not in str(failure.value)
    assert erp.requests == []


async def test_a_missing_secret_fails_the_activity_for_good(
    erp: FakeErp, store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_NO_SUCH_TOKEN", raising=False)
    activities = activities_for(erp, store, auth="bearer", token_ref="env:ACME_NO_SUCH_TOKEN")

    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(activities.post_invoice_to_erp, make_posting())

    assert failure.value.type == "SecretUnavailable"
    assert failure.value.non_retryable
    assert "env:ACME_NO_SUCH_TOKEN" in failure.value.message
    assert erp.requests == []


async def test_the_signature_header_is_an_hmac_of_the_body(erp: FakeErp, tmp_path: Path) -> None:
    secret_file = tmp_path / "signing-secret"
    secret_file.write_text("whsec-9d2e7b\n")
    plugin = plugin_for_erp(erp, signing_secret_ref=f"file:{secret_file}")

    await plugin.post_invoice(make_posting())

    [post] = erp.posts()
    expected = hmac.new(b"whsec-9d2e7b", post.body, hashlib.sha256).hexdigest()
    assert post.headers["x-baton-signature"] == f"sha256={expected}"
    forged = hmac.new(b"whsec-9d2e7b", post.body + b" ", hashlib.sha256).hexdigest()
    assert post.headers["x-baton-signature"] != f"sha256={forged}"


# --- purchase orders and goods receipts -------------------------------------------------


async def test_purchase_orders_and_goods_receipts_are_read_from_the_erp(erp: FakeErp) -> None:
    erp.purchase_orders["PO 7/A"] = {
        "number": "PO 7/A",
        "supplier_name": "Globex GmbH",
        "currency": "EUR",
        "total_amount": "100.00",
        "lines": [{"description": "Chairs", "quantity": "4", "unit_price": "25.00"}],
        "erp_internal": {"ignored": True},
    }
    erp.goods_receipts["PO 7/A"] = {"number": "GRN-3", "lines": [{"quantity": "3"}]}
    plugin = plugin_for_erp(erp)
    query = PurchaseOrderQuery(org="acme", po_number="PO 7/A")

    order = await plugin.find_purchase_order(query)
    receipt = await plugin.find_goods_receipt(query)

    assert order is not None
    assert order.total_amount == Decimal("100.00")
    assert order.lines[0].unit_price == Decimal("25.00")
    assert order.source == "reference"
    assert receipt is not None
    assert (receipt.number, receipt.po_number) == ("GRN-3", "PO 7/A")
    assert receipt.lines[0].quantity == Decimal("3")
    paths = [request.path for request in erp.requests]
    assert paths == [
        "/api/purchase-orders/PO%207%2FA",
        "/api/purchase-orders/PO%207%2FA/goods-receipts",
    ]


async def test_unknown_purchase_orders_are_none(erp: FakeErp) -> None:
    plugin = plugin_for_erp(erp)
    query = PurchaseOrderQuery(org="acme", po_number="PO-404")

    assert await plugin.find_purchase_order(query) is None
    assert await plugin.find_goods_receipt(query) is None


async def test_a_malformed_purchase_order_is_rejected(erp: FakeErp) -> None:
    erp.purchase_orders["PO-1"] = {"number": "PO-1", "total_amount": "a lot"}

    with pytest.raises(ErpRejected, match="invalid fields: total_amount"):
        await plugin_for_erp(erp).find_purchase_order(
            PurchaseOrderQuery(org="acme", po_number="PO-1")
        )


async def test_the_fetch_activities_use_the_orgs_erp(erp: FakeErp, store: LocalObjectStore) -> None:
    erp.purchase_orders["PO-7"] = {"number": "PO-7", "currency": "EUR"}
    erp.goods_receipts["PO-7"] = {"number": "GRN-1", "po_number": "PO-7"}
    activities = activities_for(erp, store)
    environment = ActivityEnvironment()

    order = await environment.run(
        activities.fetch_purchase_order_from_erp, PurchaseOrderQuery(org="acme", po_number="PO-7")
    )
    receipt = await environment.run(
        activities.fetch_goods_receipt_from_erp, PurchaseOrderQuery(org="acme", po_number="PO-7")
    )
    elsewhere = await environment.run(
        activities.fetch_purchase_order_from_erp, PurchaseOrderQuery(org="other", po_number="PO-7")
    )

    assert order is not None
    assert order.currency == "EUR"
    assert receipt is not None
    assert receipt.number == "GRN-1"
    assert elsewhere is None
    assert len(erp.requests) == 2


# --- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"base_url": "ftp://erp.example"}, "base_url"),
        ({"auth": "bearer"}, "auth 'bearer' needs token_ref"),
        ({"auth": "basic", "token_ref": "env:T"}, "basic auth needs a username"),
        ({"po_path": "/purchase-orders"}, "names the PO number once"),
        ({"grn_path": "/po/{number}/{other}"}, "names the PO number once"),
        ({"post_path": "invoices"}, "starts with '/'"),
        ({"header_name": "X Erp"}, "header_name"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_settings_refuse_incomplete_or_unsafe_values(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        RestWebhookSettings(**{"base_url": "https://erp.example/api", **overrides})


def test_a_pasted_secret_instead_of_a_reference_is_not_echoed() -> None:
    with pytest.raises(ValidationError) as failure:
        ErpConfig(
            plugin="rest_webhook",
            settings={"base_url": "https://erp.example", "auth": "bearer", "token_ref": TOKEN},
        )

    assert "settings.token_ref" in str(failure.value)
    assert TOKEN not in str(failure.value)
