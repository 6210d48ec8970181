"""The export plugin on a local folder and on a real S3 server: JSON + CSV, written once."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.erp import ErpActivities, ErpConfig, ErpRejected, ExportPlugin, ExportSettings
from activities.storage import LocalObjectStore, ObjectStore, S3ObjectStore
from models.erp import ErpPosted, ErpPosting, PurchaseOrderQuery
from models.invoices import InvoiceFields, LineItem
from tests.harness.s3 import S3Server

REFERENCE = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
FOLDER = f"acme/ap_invoice/{REFERENCE}"
JSON_KEY = f"{FOLDER}/erp/{REFERENCE}.json"
CSV_KEY = f"{FOLDER}/erp/{REFERENCE}.csv"


def make_posting(**invoice_changes: object) -> ErpPosting:
    invoice = InvoiceFields(
        invoice_number="INV-2024-001",
        invoice_date=date(2024, 3, 1),
        due_date=date(2024, 3, 31),
        supplier_name="Globex (as printed)",
        supplier_tax_id="DE123456789",
        buyer_name="Acme Corp",
        currency="EUR",
        subtotal=Decimal("150.00"),
        tax_amount=Decimal("28.50"),
        total_amount=Decimal("178.50"),
        po_number="PO-7",
        line_items=[
            LineItem(
                description="Office chairs, grey",
                item_code="CH-1",
                quantity=Decimal("4"),
                unit_price=Decimal("25.00"),
                line_total=Decimal("100.00"),
                tax_rate=Decimal("19"),
            ),
            LineItem(
                description='=HYPERLINK("http://evil.example")',
                quantity=Decimal("1E+0"),
                unit_price=Decimal("50"),
                line_total=Decimal("50.00"),
            ),
        ],
    )
    return ErpPosting(
        org="acme",
        external_reference=REFERENCE,
        supplier_id=42,
        supplier_name="Globex GmbH",
        erp_vendor_id="V-100",
        department="Facilities",
        approved_by=["liam.walker@acme.example", "hr@acme.example"],
        invoice=invoice.model_copy(update=invoice_changes),
        working_folder=FOLDER,
    )


def csv_rows(data: bytes, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8")), delimiter=delimiter))


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    """An empty local folder, or a fresh bucket on the session's S3 server."""
    if request.param == "local":
        yield LocalObjectStore(
            tmp_path / "files",
            public_url="http://baton.test",
            secret_key="k" * 32,
            link_ttl_seconds=60,
        )
        return
    server: S3Server = request.getfixturevalue("s3_server")
    s3_store = S3ObjectStore(
        server.new_bucket_name(),
        endpoint_url=server.endpoint_url,
        region=server.region,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
    )
    await s3_store.ensure_bucket()
    yield s3_store
    client = server.client()
    for item in client.list_objects_v2(Bucket=s3_store.bucket).get("Contents", []):
        client.delete_object(Bucket=s3_store.bucket, Key=item["Key"])
    client.delete_bucket(Bucket=s3_store.bucket)


async def test_the_posting_is_written_as_json_and_csv(store: ObjectStore) -> None:
    posting = make_posting()

    posted = await ExportPlugin(store).post_invoice(posting)

    assert posted == ErpPosted(
        plugin="export", erp_document_id=REFERENCE, created=True, location=JSON_KEY
    )
    stored = json.loads(await store.get(JSON_KEY))
    assert stored["invoice"]["total_amount"] == "178.50"
    assert stored["invoice"]["due_date"] == "2024-03-31"
    assert ErpPosting.model_validate(stored) == posting
    first, second = csv_rows(await store.get(CSV_KEY))
    for row in (first, second):
        assert row["external_reference"] == REFERENCE
        assert row["supplier_name"] == "Globex GmbH"
        assert row["supplier_id"] == "42"
        assert row["approved_by"] == "liam.walker@acme.example;hr@acme.example"
        assert row["invoice_number"] == "INV-2024-001"
        assert row["invoice_date"] == "2024-03-01"
        assert row["total_amount"] == "178.50"
        assert row["po_number"] == "PO-7"
    assert first["line_number"] == "1"
    assert first["description"] == "Office chairs, grey"
    assert (first["quantity"], first["unit_price"], first["tax_rate"]) == ("4", "25.00", "19")
    assert second["line_number"] == "2"
    assert second["quantity"] == "1"
    assert second["item_code"] == ""
    assert second["description"] == '\'=HYPERLINK("http://evil.example")'


async def test_a_second_post_finds_the_export_and_writes_nothing(store: ObjectStore) -> None:
    plugin = ExportPlugin(store)
    first = await plugin.post_invoice(make_posting())
    stored_json, stored_csv = await store.get(JSON_KEY), await store.get(CSV_KEY)

    again = await plugin.post_invoice(make_posting())
    changed = await plugin.post_invoice(make_posting(total_amount=Decimal("999.00")))

    assert first.created
    assert not again.created
    assert not changed.created
    assert again.erp_document_id == changed.erp_document_id == first.erp_document_id
    assert again.location == first.location
    assert await store.get(JSON_KEY) == stored_json
    assert await store.get(CSV_KEY) == stored_csv


async def test_an_export_cut_short_before_the_json_is_completed(store: ObjectStore) -> None:
    await store.put(CSV_KEY, b"partial", "text/csv")

    posted = await ExportPlugin(store).post_invoice(make_posting())

    assert posted.created
    assert len(csv_rows(await store.get(CSV_KEY))) == 2
    assert await store.exists(JSON_KEY)


async def test_an_invoice_without_lines_still_has_one_row(store: ObjectStore) -> None:
    settings = ExportSettings(csv_delimiter=";")

    await ExportPlugin(store, settings).post_invoice(make_posting(line_items=[]))

    [row] = csv_rows(await store.get(CSV_KEY), delimiter=";")
    assert row["invoice_number"] == "INV-2024-001"
    assert row["line_number"] == row["description"] == row["quantity"] == ""


@pytest.mark.parametrize("reference", ["../escape", "a/b", "a\\b", " padded", "", "line\nbreak"])
async def test_a_reference_that_is_not_a_file_name_is_rejected(
    store: ObjectStore, reference: str
) -> None:
    posting = make_posting().model_copy(update={"external_reference": reference})

    with pytest.raises(ErpRejected):
        await ExportPlugin(store).post_invoice(posting)


async def test_an_export_has_no_purchase_orders(store: ObjectStore) -> None:
    query = PurchaseOrderQuery(org="acme", po_number="PO-7", with_goods_receipt=True)

    assert await ExportPlugin(store).find_purchase_order(query) is None
    assert await ExportPlugin(store).find_goods_receipt(query) is None


@pytest.mark.parametrize("config", [None, ErpConfig(plugin="none")], ids=["unset", "none"])
async def test_orgs_without_an_erp_post_to_the_export(
    store: ObjectStore, config: ErpConfig | None
) -> None:
    asked: list[str] = []

    async def config_for_org(org: str) -> ErpConfig | None:
        asked.append(org)
        return config

    activities = ErpActivities(store, config_for_org)
    environment = ActivityEnvironment()
    query = PurchaseOrderQuery(org="acme", po_number="PO-7")

    posted = await environment.run(activities.post_invoice_to_erp, make_posting())
    order = await environment.run(activities.fetch_purchase_order_from_erp, query)
    receipt = await environment.run(activities.fetch_goods_receipt_from_erp, query)

    assert (posted.plugin, posted.created, posted.location) == ("export", True, JSON_KEY)
    assert await store.exists(CSV_KEY)
    assert order is None
    assert receipt is None
    assert asked == ["acme", "acme", "acme"]


async def test_an_export_config_applies_its_settings(store: ObjectStore) -> None:
    async def config_for_org(org: str) -> ErpConfig | None:
        return ErpConfig(plugin="export", settings={"csv_delimiter": "\t"})

    activities = ErpActivities(store, config_for_org)

    await ActivityEnvironment().run(activities.post_invoice_to_erp, make_posting())

    header = (await store.get(CSV_KEY)).decode().splitlines()[0]
    assert header.startswith("external_reference\torg\tsupplier_id\t")
