"""Download links: only for the caller's org, the exact bytes, refused when forged or expired."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from activities.storage.links import sign_download_token
from api.state import AppState
from starter.demo_data import EMPLOYEE, GLOBEX_MANAGER, OPERATOR
from tests.api.conftest import PUBLIC_URL, SECRET_KEY, LoginAs

REPORT = b"%PDF-1.7\n" + bytes(range(256)) * 64 + b"\n%%EOF\n"
ACME_KEY = "acme/ap_invoice/run-1/invoice 4711.pdf"
GLOBEX_KEY = "globex/ap_invoice/run-9/invoice.pdf"


@pytest.fixture
async def stored(baton: AppState) -> None:
    """One file of each org in the store."""
    await baton.store.put(ACME_KEY, REPORT, "application/pdf")
    await baton.store.put(GLOBEX_KEY, b"globex only", "application/pdf")


async def _link(
    client: httpx.AsyncClient, headers: dict[str, str], key: str, filename: str | None = None
) -> httpx.Response:
    return await client.post(
        "/files/links", json={"key": key, "filename": filename}, headers=headers
    )


@pytest.mark.usefixtures("stored")
async def test_a_link_downloads_the_exact_bytes(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    response = await _link(client, await login_as(OPERATOR.email), ACME_KEY, "Invoice 4711.pdf")
    assert response.status_code == 200, response.text
    link = response.json()
    assert link["expires_in"] == 300
    assert link["url"].startswith(f"{PUBLIC_URL}/files/")
    download = await client.get(link["url"])
    assert download.status_code == 200
    assert download.content == REPORT
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"] == 'attachment; filename="Invoice 4711.pdf"'


@pytest.mark.usefixtures("stored")
async def test_a_link_without_a_filename_names_the_file_by_its_key(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    link = (await _link(client, await login_as(OPERATOR.email), ACME_KEY)).json()
    download = await client.get(link["url"])
    assert download.content == REPORT
    assert download.headers["Content-Disposition"] == 'attachment; filename="invoice 4711.pdf"'


@pytest.mark.usefixtures("stored")
async def test_a_download_needs_no_login(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    link = (await _link(client, await login_as(OPERATOR.email), ACME_KEY)).json()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as stranger:
        download = await stranger.get(link["url"])
    assert download.status_code == 200
    assert download.content == REPORT


@pytest.mark.usefixtures("stored")
@pytest.mark.parametrize(
    "key",
    [
        GLOBEX_KEY,
        "acme/ap_invoice/run-1/missing.pdf",
        "acme/../globex/ap_invoice/run-9/invoice.pdf",
        "/acme/ap_invoice/run-1/invoice 4711.pdf",
        "acme",
        "acmex/ap_invoice/run-1/invoice.pdf",
    ],
)
async def test_no_link_outside_the_callers_org(
    client: httpx.AsyncClient, login_as: LoginAs, key: str
) -> None:
    response = await _link(client, await login_as(OPERATOR.email), key)
    assert response.status_code == 404
    assert response.json() == {"detail": "No such file"}


@pytest.mark.usefixtures("stored")
async def test_another_org_cannot_link_acme_files(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    globex = await login_as(GLOBEX_MANAGER.email)
    assert (await _link(client, globex, ACME_KEY)).status_code == 404
    own = await _link(client, globex, GLOBEX_KEY)
    assert own.status_code == 200
    assert (await client.get(own.json()["url"])).content == b"globex only"


@pytest.mark.usefixtures("stored")
async def test_an_employee_may_not_ask_for_links(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    response = await _link(client, await login_as(EMPLOYEE.email), ACME_KEY)
    assert response.status_code == 403
    assert response.json() == {"detail": "This needs one of the roles: admin, operator"}


def _tampered(token: str) -> list[str]:
    payload, signature = token.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    other_key = sign_download_token(SECRET_KEY, GLOBEX_KEY, int(time.time()) + 300)
    return [
        f"{payload}.{flipped}",
        f"{other_key.split('.')[0]}.{signature}",
        sign_download_token("another-key", ACME_KEY, int(time.time()) + 300),
        payload,
        "not-a-token",
    ]


@pytest.mark.usefixtures("stored")
async def test_a_tampered_link_is_not_found(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    link = (await _link(client, await login_as(OPERATOR.email), ACME_KEY)).json()
    token = urlsplit(link["url"]).path.removeprefix("/files/")
    for forged in _tampered(token):
        response = await client.get(f"/files/{forged}")
        assert response.status_code == 404, forged
        assert response.json() == {"detail": "No such file"}


@pytest.mark.usefixtures("stored")
async def test_an_expired_link_is_gone(client: httpx.AsyncClient) -> None:
    token = sign_download_token(SECRET_KEY, ACME_KEY, int(time.time()) - 1, "invoice.pdf")
    response = await client.get(f"/files/{token}")
    assert response.status_code == 410
    assert response.json() == {"detail": "This link has expired"}


async def test_a_link_to_a_file_deleted_since_is_not_found(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState
) -> None:
    await baton.store.put(ACME_KEY, REPORT)
    link = (await _link(client, await login_as(OPERATOR.email), ACME_KEY)).json()
    await baton.store.delete(ACME_KEY)
    assert (await client.get(link["url"])).status_code == 404
