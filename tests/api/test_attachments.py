"""Attachments on runs over REST, on a real Temporal server with the product's workers.

Emma asks for leave and attaches files; Liam (her manager) holds the step and is told; Priya
(acme, no part in the run) and Tomas (globex) learn nothing. Files land in the local store.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import httpx
import pytest
from fastapi import HTTPException
from temporalio.client import Client

from activities.file_types import PDF
from activities.storage import LocalObjectStore, ObjectStore
from api.routes.attachments import ReceivedFile, attach
from api.run_access import CLOSED, NO_SUCH_RUN, OpenRun
from api.state import AppState
from config.settings import Settings
from models.approvals import RunView
from starter.demo_data import AP_CLERK, EMPLOYEE, GLOBEX_EMPLOYEE, MANAGER
from tests.api.conftest import PUBLIC_URL, LoginAs
from tests.api.leave_steps import Headers, run_view, started, wait_for_step
from tests.harness.smtp import CapturedEmail, SmtpInbox

EMMA, LIAM = EMPLOYEE.email, MANAGER.email
LIMIT = 64 * 1024
PDF_BYTES = b"%PDF-1.7\n1 0 obj <<>> endobj\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(512)

pytestmark = pytest.mark.usefixtures("workers")


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    """The suite's settings with a small upload limit, so a too-large file stays small."""
    storage = api_settings.storage.model_copy(update={"max_attachment_bytes": LIMIT})
    return api_settings.model_copy(update={"storage": storage})


def stored_files(baton: AppState) -> list[str]:
    """Every object in the local store (partial writes included), as keys."""
    store = baton.store
    assert isinstance(store, LocalObjectStore)
    if not store.root.exists():
        return []
    return sorted(
        p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file()
    )


async def upload(
    client: httpx.AsyncClient,
    headers: Headers,
    workflow_id: str,
    name: str,
    data: bytes,
    content_type: str = "application/pdf",
) -> httpx.Response:
    """POST one file to the run, as a browser form would."""
    return await client.post(
        f"/runs/{workflow_id}/attachments",
        files={"file": (name, data, content_type)},
        headers=headers,
    )


async def mail_about(inbox: SmtpInbox, to: str, workflow_id: str, subject: str) -> CapturedEmail:
    """The first email to that person about the run whose subject says so."""
    deadline = time.monotonic() + 15
    while True:
        for mail in inbox.messages:
            if to in mail.rcpt_tos and subject in mail.subject and workflow_id in mail.text():
                return mail
        assert time.monotonic() < deadline, [(m.rcpt_tos, m.subject) for m in inbox.messages]
        await asyncio.sleep(0.1)


async def test_emma_attaches_a_pdf_and_liam_is_told_and_downloads_it(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState, smtp_inbox: SmtpInbox
) -> None:
    emma, liam = await login_as(EMMA), await login_as(LIAM)
    workflow_id = (await started(client, emma))["workflow_id"]
    await wait_for_step(client, emma, workflow_id, "manager", LIAM)

    uploaded = await upload(client, emma, workflow_id, "../medical note.pdf", PDF_BYTES)

    assert uploaded.status_code == 201, uploaded.text
    [attachment] = uploaded.json()["attachments"]
    key = f"acme/leave_request/{workflow_id}/1-medical note.pdf"
    assert attachment["key"] == key
    assert (attachment["name"], attachment["size"]) == ("medical note.pdf", len(PDF_BYTES))
    assert attachment["content_type"] == "application/pdf"
    assert (attachment["uploaded_by"]["email"], attachment["step"]) == (EMMA, "manager")
    assert stored_files(baton) == [key]

    mail = await mail_about(smtp_inbox, LIAM, workflow_id, "attached medical note.pdf")
    assert EMMA not in mail.rcpt_tos  # the uploader is not told of their own file
    assert "Emma Schmidt attached a file" in mail.text()

    link = await client.get(f"/runs/{workflow_id}/attachments/1/link", headers=liam)
    assert link.status_code == 200, link.text
    url = httpx.URL(link.json()["url"])
    assert str(url).startswith(f"{PUBLIC_URL}/files/")
    download = await client.get(url.path)
    assert download.status_code == 200
    assert download.content == PDF_BYTES
    assert download.headers["Content-Disposition"] == 'attachment; filename="medical note.pdf"'
    assert download.headers["Content-Type"] == "application/pdf"
    missing = await client.get(f"/runs/{workflow_id}/attachments/2/link", headers=liam)
    assert (missing.status_code, missing.json()) == (404, {"detail": "No such file"})


async def test_the_content_decides_the_kind_and_the_name_follows_it(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState
) -> None:
    emma = await login_as(EMMA)
    workflow_id = (await started(client, emma))["workflow_id"]

    png = await upload(client, emma, workflow_id, "scan.pdf", PNG_BYTES, "application/pdf")
    text = await upload(client, emma, workflow_id, "notes.html", b"Back on 4 March.\n", "text/html")

    assert png.status_code == 201, png.text
    assert text.status_code == 201, text.text
    kinds = [(a["name"], a["content_type"]) for a in text.json()["attachments"]]
    assert kinds == [("scan.pdf.png", "image/png"), ("notes.html.txt", "text/plain")]
    folder = f"acme/leave_request/{workflow_id}"
    assert stored_files(baton) == [f"{folder}/1-scan.pdf.png", f"{folder}/2-notes.html.txt"]


class SlowStore:
    """The store, with writes slow enough that two uploads overlap."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def put(self, key: str, data: bytes, content_type: str = "") -> None:
        await asyncio.sleep(0.3)
        await self._store.put(key, data, content_type)


async def test_a_double_click_keeps_both_files_under_their_own_keys(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState, temporal_client: Client
) -> None:
    emma = await login_as(EMMA)
    workflow_id = (await started(client, emma))["workflow_id"]
    view = RunView.model_validate(await run_view(client, emma, workflow_id))
    run = OpenRun(temporal_client.get_workflow_handle(workflow_id), view, view.initiator)
    file = ReceivedFile(name="note.pdf", data=PDF_BYTES, kind=PDF)
    store = cast(ObjectStore, SlowStore(baton.store))

    await asyncio.gather(attach(store, run, file), attach(store, run, file))

    folder = f"acme/leave_request/{workflow_id}"
    keys = [f"{folder}/1-note.pdf", f"{folder}/2-note.pdf"]
    view = RunView.model_validate(await run_view(client, emma, workflow_id))
    assert sorted(attachment.key for attachment in view.attachments) == keys
    assert stored_files(baton) == keys


async def test_another_org_or_an_outsider_can_neither_upload_nor_get_a_link(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState
) -> None:
    emma = await login_as(EMMA)
    workflow_id = (await started(client, emma))["workflow_id"]
    assert (await upload(client, emma, workflow_id, "note.pdf", PDF_BYTES)).status_code == 201
    before = stored_files(baton)
    missing = {"detail": NO_SUCH_RUN}

    for outsider in (GLOBEX_EMPLOYEE.email, AP_CLERK.email):
        headers = await login_as(outsider)
        uploaded = await upload(client, headers, workflow_id, "x.pdf", PDF_BYTES)
        assert (uploaded.status_code, uploaded.json()) == (404, missing), outsider
        link = await client.get(f"/runs/{workflow_id}/attachments/1/link", headers=headers)
        assert (link.status_code, link.json()) == (404, missing), outsider
        unknown = await client.get(
            "/runs/acme:leave_request:none/attachments/1/link", headers=headers
        )
        assert (unknown.status_code, unknown.json()) == (404, missing), outsider
    assert stored_files(baton) == before


async def test_too_large_or_disguised_files_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState
) -> None:
    emma = await login_as(EMMA)
    workflow_id = (await started(client, emma))["workflow_id"]
    too_large = PDF_BYTES + bytes(LIMIT + 1 - len(PDF_BYTES))
    just_fits = too_large[:LIMIT]

    large = await upload(client, emma, workflow_id, "big.pdf", too_large)
    assert large.status_code == 413, large.text
    assert stored_files(baton) == []
    huge = await upload(client, emma, workflow_id, "huge.pdf", too_large * 4)
    assert huge.status_code == 413, huge.text
    disguised = await upload(client, emma, workflow_id, "invoice.pdf", EXECUTABLE)
    assert disguised.status_code == 415, disguised.text
    empty = await upload(client, emma, workflow_id, "empty.txt", b"", "text/plain")
    assert empty.status_code == 422, empty.text
    not_multipart = await client.post(
        f"/runs/{workflow_id}/attachments", content=PDF_BYTES, headers=emma
    )
    assert not_multipart.status_code == 415, not_multipart.text
    assert stored_files(baton) == []

    fits = await upload(client, emma, workflow_id, "fits.pdf", just_fits)
    assert fits.status_code == 201, fits.text
    assert stored_files(baton) == [f"acme/leave_request/{workflow_id}/1-fits.pdf"]


async def test_no_upload_after_the_run_ended_and_a_refused_one_leaves_nothing(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState, temporal_client: Client
) -> None:
    emma = await login_as(EMMA)
    run = await started(client, emma)
    workflow_id = run["workflow_id"]
    handle = temporal_client.get_workflow_handle(workflow_id)
    view: dict[str, Any] = await run_view(client, emma, workflow_id)
    open_view = RunView.model_validate(view)
    file = ReceivedFile(name="note.pdf", data=PDF_BYTES, kind=PDF)

    stranger = open_view.initiator.model_copy(update={"org": "globex"})
    with pytest.raises(HTTPException) as raised:  # the run's own rules refuse after the store
        await attach(baton.store, OpenRun(handle, open_view, stranger), file)
    assert (raised.value.status_code, raised.value.detail) == (
        403,
        "this request belongs to another organisation",
    )
    assert stored_files(baton) == []

    assert (await client.post(f"/runs/{workflow_id}/withdraw", headers=emma)).is_success
    await handle.result()
    late = await upload(client, emma, workflow_id, "late.pdf", PDF_BYTES)
    assert (late.status_code, late.json()) == (409, {"detail": CLOSED})
    with pytest.raises(HTTPException) as raised:  # a run that ended meanwhile
        await attach(baton.store, OpenRun(handle, open_view, open_view.initiator), file)
    assert (raised.value.status_code, raised.value.detail) == (409, CLOSED)
    assert stored_files(baton) == []
