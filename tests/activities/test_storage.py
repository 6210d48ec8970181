"""One contract for both object stores (a local folder and a real S3 server), plus link safety."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from pydantic import SecretStr

from activities.storage import (
    ExpiredDownloadToken,
    InvalidDownloadToken,
    LocalObjectStore,
    ObjectNotFound,
    ObjectStore,
    S3ObjectStore,
    StorageUnavailable,
    UnsafeKey,
    build_object_store,
    content_disposition,
    safe_filename,
    storage_key,
)
from config.settings import ApiSettings, SecuritySettings, Settings, StorageSettings
from tests.harness.s3 import S3Server

PUBLIC_URL = "http://baton.test"
SECRET = "a-test-signing-key-that-is-long-enough"
UNSAFE_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "acme/../../outside",
    "acme/./file",
    "acme//file",
    "acme/",
    "acme\\file",
    "C:\\windows\\file",
    "acme/fi\x00le",
    "acme/fi\nle",
    "acme/\u202efdp.exe",
    "..",
]


def local_settings(root: Path) -> Settings:
    return Settings(
        _env_file=None,
        storage=StorageSettings(backend="local", local_root=root, link_ttl_seconds=60),
        security=SecuritySettings(secret_key=SecretStr(SECRET)),
        api=ApiSettings(public_url=PUBLIC_URL + "/"),
    )


def s3_settings(server: S3Server, bucket: str) -> Settings:
    return Settings(
        _env_file=None,
        storage=StorageSettings(
            backend="s3",
            s3_bucket=bucket,
            s3_endpoint_url=server.endpoint_url,
            s3_region=server.region,
            s3_access_key_id=server.access_key_id,
            s3_secret_access_key=SecretStr(server.secret_access_key),
            link_ttl_seconds=60,
        ),
    )


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    """A fresh, empty store of each kind, built from settings as the worker builds it."""
    if request.param == "local":
        yield build_object_store(local_settings(tmp_path / "files"))
        return
    server: S3Server = request.getfixturevalue("s3_server")
    s3_store = build_object_store(s3_settings(server, server.new_bucket_name()))
    assert isinstance(s3_store, S3ObjectStore)
    await s3_store.ensure_bucket()
    yield s3_store
    server.client().delete_bucket(Bucket=s3_store.bucket)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalObjectStore:
    """A local store with a one-minute link lifetime."""
    store = build_object_store(local_settings(tmp_path / "files"))
    assert isinstance(store, LocalObjectStore)
    return store


async def test_binary_round_trip(store: ObjectStore) -> None:
    data = bytes(range(256)) * 64 + os.urandom(4096)
    key = storage_key("acme", "ap_invoice", "run-1", "invoice.pdf")

    await store.put(key, data, "application/pdf")

    assert await store.get(key) == data
    assert await store.size(key) == len(data)
    assert await store.exists(key)


async def test_put_replaces_and_empty_objects_work(store: ObjectStore) -> None:
    await store.put("acme/leave/run-2/note.txt", b"first", "text/plain")
    await store.put("acme/leave/run-2/note.txt", b"", "text/plain")

    assert await store.get("acme/leave/run-2/note.txt") == b""
    assert await store.size("acme/leave/run-2/note.txt") == 0


async def test_exists_and_delete(store: ObjectStore) -> None:
    key = "acme/leave/run-3/medical.pdf"
    assert not await store.exists(key)
    await store.put(key, b"%PDF-1.7", "application/pdf")

    await store.delete(key)

    assert not await store.exists(key)
    await store.delete(key)


async def test_missing_object_is_a_clear_error(store: ObjectStore) -> None:
    key = "acme/leave/run-4/missing.pdf"
    with pytest.raises(ObjectNotFound, match=r"missing\.pdf") as raised:
        await store.get(key)
    assert raised.value.key == key
    with pytest.raises(ObjectNotFound):
        await store.size(key)


async def test_a_folder_of_objects_is_not_an_object(store: ObjectStore) -> None:
    await store.put("acme/leave/run-5/a.txt", b"a", "text/plain")

    assert not await store.exists("acme/leave/run-5")
    with pytest.raises(ObjectNotFound):
        await store.get("acme/leave")


@pytest.mark.parametrize("key", UNSAFE_KEYS)
async def test_unsafe_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(UnsafeKey):
        await store.put(key, b"x", "text/plain")
    with pytest.raises(UnsafeKey):
        await store.get(key)
    with pytest.raises(UnsafeKey):
        await store.exists(key)
    with pytest.raises(UnsafeKey):
        await store.delete(key)
    with pytest.raises(UnsafeKey):
        await store.download_url(key)


async def test_check_passes_on_a_usable_store(store: ObjectStore) -> None:
    await store.check()


async def test_download_link_downloads_the_bytes(store: ObjectStore) -> None:
    data = os.urandom(10_000)
    key = "acme/ap_invoice/run-6/scan.pdf"
    await store.put(key, data, "application/pdf")

    url = await store.download_url(key, filename="Facture n°42.pdf")

    if isinstance(store, LocalObjectStore):
        assert url.startswith(f"{PUBLIC_URL}/files/")
        linked_key, filename = store.verify_download_token(url.rsplit("/", 1)[1])
        assert (linked_key, filename) == (key, "Facture n°42.pdf")
        assert await store.get(linked_key) == data
        return
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "Facture n°42.pdf" in unquote(disposition)


async def test_s3_link_with_a_tampered_signature_is_refused(s3_server: S3Server) -> None:
    store = build_object_store(s3_settings(s3_server, s3_server.new_bucket_name()))
    assert isinstance(store, S3ObjectStore)
    await store.ensure_bucket()
    await store.put("acme/leave/run-7/a.txt", b"secret", "text/plain")
    url = await store.download_url("acme/leave/run-7/a.txt")
    forged = url.replace("run-7/a.txt", "run-7/b.txt")

    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 200
        assert (await client.get(forged)).status_code == 403


async def test_s3_links_use_the_public_endpoint_when_one_is_set(s3_server: S3Server) -> None:
    settings = s3_settings(s3_server, s3_server.new_bucket_name())
    public = s3_server.endpoint_url.replace("127.0.0.1", "localhost")
    settings.storage.s3_public_endpoint_url = public
    store = build_object_store(settings)
    assert isinstance(store, S3ObjectStore)
    await store.ensure_bucket()
    await store.put("acme/ap/run-8/invoice.pdf", b"%PDF-1.7", "application/pdf")

    url = await store.download_url("acme/ap/run-8/invoice.pdf")

    assert url.startswith(public + "/")
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert (response.status_code, response.content) == (200, b"%PDF-1.7")


async def test_s3_ensure_bucket_is_idempotent_and_check_needs_the_bucket(
    s3_server: S3Server,
) -> None:
    store = build_object_store(s3_settings(s3_server, s3_server.new_bucket_name()))
    assert isinstance(store, S3ObjectStore)
    with pytest.raises(StorageUnavailable, match=store.bucket):
        await store.check()

    await store.ensure_bucket()
    await store.ensure_bucket()

    await store.check()


async def test_s3_wrong_keys_are_unusable(s3_server: S3Server) -> None:
    store = S3ObjectStore(
        "baton",
        endpoint_url=s3_server.endpoint_url,
        access_key_id="intruder",
        secret_access_key="not-the-secret",
    )
    with pytest.raises(StorageUnavailable) as raised:
        await store.check()
    assert "not-the-secret" not in str(raised.value)


async def test_local_store_writes_atomically_inside_its_root(
    local_store: LocalObjectStore,
) -> None:
    await local_store.put("acme/leave/run-8/a.bin", b"one", "application/octet-stream")
    await local_store.put("acme/leave/run-8/a.bin", b"two", "application/octet-stream")

    folder = local_store.root / "acme" / "leave" / "run-8"
    assert sorted(path.name for path in folder.iterdir()) == ["a.bin"]
    assert (folder / "a.bin").read_bytes() == b"two"
    assert local_store.path_of("acme/leave/run-8/a.bin") == folder / "a.bin"


async def test_local_store_refuses_symlinks_out_of_its_root(
    local_store: LocalObjectStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    local_store.root.mkdir(parents=True)
    (local_store.root / "acme").symlink_to(outside)

    with pytest.raises(UnsafeKey):
        await local_store.get("acme/secret.txt")


async def test_local_check_fails_when_the_root_is_not_a_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "files"
    blocker.write_text("not a folder")
    store = build_object_store(local_settings(blocker))

    with pytest.raises(StorageUnavailable, match="not writable"):
        await store.check()


async def test_local_expired_link_is_refused(tmp_path: Path) -> None:
    now = time.time()
    issued_long_ago = LocalObjectStore(
        tmp_path, public_url=PUBLIC_URL, secret_key=SECRET, link_ttl_seconds=60, clock=lambda: now
    )
    later = LocalObjectStore(
        tmp_path,
        public_url=PUBLIC_URL,
        secret_key=SECRET,
        link_ttl_seconds=60,
        clock=lambda: now + 61,
    )
    url = await issued_long_ago.download_url("acme/leave/run-9/a.pdf")
    token = url.rsplit("/", 1)[1]

    assert issued_long_ago.verify_download_token(token) == ("acme/leave/run-9/a.pdf", None)
    with pytest.raises(ExpiredDownloadToken, match="expired"):
        later.verify_download_token(token)


def _flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


async def test_local_tampered_or_malformed_tokens_are_refused(
    local_store: LocalObjectStore, tmp_path: Path
) -> None:
    url = await local_store.download_url("acme/leave/run-10/a.pdf", filename="a.pdf")
    token = url.rsplit("/", 1)[1]
    payload, signature = token.split(".")
    other_key = LocalObjectStore(
        tmp_path, public_url=PUBLIC_URL, secret_key="another-key", link_ttl_seconds=60
    )
    forged_url = await other_key.download_url("acme/leave/run-10/a.pdf", filename="a.pdf")

    refused = [
        _flip(token, 3),
        _flip(token, len(token) - 2),
        f"{payload}.{signature}=",
        f"{payload}.{signature}!",
        f"{payload}.",
        f".{signature}",
        payload,
        f"{payload}.{signature}.{signature}",
        "",
        "not a token",
        forged_url.rsplit("/", 1)[1],
    ]
    for bad in refused:
        with pytest.raises(InvalidDownloadToken):
            local_store.verify_download_token(bad)


def test_storage_key_format() -> None:
    assert storage_key("acme", "ap_invoice", "acme:ap_invoice:INV-7", "Invoice 7.pdf") == (
        "acme/ap_invoice/acme:ap_invoice:INV-7/Invoice 7.pdf"
    )


@pytest.mark.parametrize(
    "parts",
    [
        ("", "leave", "r", "a.pdf"),
        ("ac/me", "leave", "r", "a.pdf"),
        ("acme", "..", "r", "a.pdf"),
        ("acme", "leave", ".", "a.pdf"),
        ("acme", "leave", "r", "../a.pdf"),
        ("acme", "leave", "r", "a\\b.pdf"),
        ("acme", "leave", "r", "a\x00.pdf"),
        ("acme", "leave", "r\n", "a.pdf"),
        ("acme", "leave", "r", " a.pdf"),
        ("acme", "leave", "r", "x" * 300),
    ],
)
def test_storage_key_refuses_unsafe_parts(parts: tuple[str, str, str, str]) -> None:
    with pytest.raises(UnsafeKey):
        storage_key(*parts)


@pytest.mark.parametrize(
    ("untrusted", "safe"),
    [
        ("invoice.pdf", "invoice.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\scan 1.pdf", "scan 1.pdf"),
        ("re\x00port\r\n.pdf", "re_port__.pdf"),
        ('what?"*<>|.pdf', "what______.pdf"),
        ("..", "file"),
        ("  ", "file"),
        (".env", "env"),
    ],
)
def test_safe_filename(untrusted: str, safe: str) -> None:
    assert safe_filename(untrusted) == safe
    storage_key("acme", "leave", "r", safe_filename(untrusted))


def test_safe_filename_keeps_the_extension_of_long_names() -> None:
    name = safe_filename("é" * 400 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode()) <= 255


def test_content_disposition() -> None:
    assert content_disposition("a.pdf") == 'attachment; filename="a.pdf"'
    assert content_disposition("Facture n°42.pdf") == (
        "attachment; filename=\"Facture n42.pdf\"; filename*=UTF-8''Facture%20n%C2%B042.pdf"
    )
    assert "\r" not in content_disposition("a\r\nSet-Cookie: x.pdf")
