"""A generic REST/webhook ERP plugin: posts invoices as JSON, looks up POs and goods receipts.

The contract the ERP side offers (paths are settings, relative to `base_url`):

- ``POST {post_path}`` with the posting as JSON (``external_reference`` in the body and in the
  ``Idempotency-Key`` header; ``X-Baton-Signature: sha256=<hex HMAC-SHA256 of the body>`` when
  a signing secret is set) answers ``201`` (created) or ``200`` (it had the reference already)
  with ``{"id": "<document id>"}``; a boolean ``"created"`` in the answer wins over the
  status. ``409 Conflict`` means the reference was posted before; its body should carry the
  existing ``id``, else Baton looks it up. 5xx, 408 and 429 (``Retry-After`` honoured) are
  retried; other 4xx are final.
- ``GET {post_path}/{external_reference}`` answers ``200 {"id": ...}`` for a posted reference
  and ``404`` otherwise. Baton asks it before every post (``lookup_before_post``), so a retry
  after a timeout never posts twice, even where the ERP ignores ``Idempotency-Key``.
- ``GET {po_path}`` and ``GET {grn_path}`` (``{number}`` is the PO number) answer ``200``
  with a `PurchaseOrder` or `GoodsReceipt` as JSON, or ``404``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urljoin

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from activities.erp.base import ErpPlugin, ErpRejected, ErpUnavailable
from config.secrets import SecretRef, SecretResolver, default_resolver
from models.erp import ErpPosted, ErpPosting, PurchaseOrderQuery
from models.invoices import GoodsReceipt, PurchaseOrder

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Baton-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
_RETRYABLE_STATUS = {408, 429}
_NOT_FOUND_STATUS = {404, 410}
_SNIPPET_CHARS = 300
ModelT = TypeVar("ModelT", bound=BaseModel)


class RestWebhookSettings(BaseModel):
    """Where an org's ERP listens, how Baton authenticates to it and signs what it sends."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    base_url: str = Field(pattern=r"^https?://[^\s/?#]+[^\s?#]*$")
    post_path: str = "/invoices"
    po_path: str = "/purchase-orders/{number}"
    grn_path: str = "/purchase-orders/{number}/goods-receipts"
    auth: Literal["none", "bearer", "basic", "header"] = "none"
    token_ref: SecretRef | None = Field(default=None, description="bearer token, password, key")
    username: str | None = Field(default=None, description="for basic auth")
    header_name: str = Field(default="X-Api-Key", pattern=_HEADER_NAME)
    signing_secret_ref: SecretRef | None = None
    document_id_field: str = Field(default="id", min_length=1)
    lookup_before_post: bool = True
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    verify_tls: bool = True

    @field_validator("post_path", "po_path", "grn_path")
    @classmethod
    def _relative_path(cls, path: str) -> str:
        if not path.startswith("/") or any(char in path for char in "?# \r\n"):
            raise ValueError("a path starts with '/' and has no query, fragment or spaces")
        return path

    @field_validator("po_path", "grn_path")
    @classmethod
    def _names_the_number(cls, path: str) -> str:
        if re.findall(r"\{([^}]*)\}", path) != ["number"]:
            raise ValueError("the path names the PO number once, as {number}")
        return path

    @model_validator(mode="after")
    def _auth_is_complete(self) -> RestWebhookSettings:
        if self.auth != "none" and self.token_ref is None:
            raise ValueError(f"auth {self.auth!r} needs token_ref")
        if self.auth == "basic" and not self.username:
            raise ValueError("basic auth needs a username")
        return self


def signature(secret: str, body: bytes) -> str:
    """The `X-Baton-Signature` value of a body: ``sha256=<hex HMAC-SHA256>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def posting_body(posting: ErpPosting) -> bytes:
    """The JSON Baton posts: the posting without its storage folder, keys sorted."""
    document = posting.model_dump(mode="json", exclude={"working_folder"})
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


class RestWebhookPlugin(ErpPlugin):
    """An ERP reached over HTTP(S) as the module docstring describes."""

    name = "rest_webhook"

    def __init__(self, settings: RestWebhookSettings, secrets: SecretResolver | None = None):
        self._settings = settings
        self._secrets = secrets or default_resolver()

    async def post_invoice(self, posting: ErpPosting) -> ErpPosted:
        """Post once per reference: look it up, post with an idempotency key, read conflicts."""
        reference = posting.external_reference
        async with self._client() as client:
            if self._settings.lookup_before_post:
                found = await self._lookup(client, reference)
                if found is not None:
                    logger.info("ERP already has %s as %s", reference, found.erp_document_id)
                    return found
            body = posting_body(posting)
            headers = {IDEMPOTENCY_HEADER: reference, "Content-Type": "application/json"}
            if self._settings.signing_secret_ref is not None:
                secret = await self._secrets.resolve_async(self._settings.signing_secret_ref)
                headers[SIGNATURE_HEADER] = signature(secret.get_secret_value(), body)
            response = await self._send(client, "POST", self._settings.post_path, body, headers)
            posted = await self._posted(client, reference, response)
        logger.info(
            "posted %s to the ERP as %s (created=%s)",
            reference,
            posted.erp_document_id,
            posted.created,
        )
        return posted

    async def find_purchase_order(self, query: PurchaseOrderQuery) -> PurchaseOrder | None:
        """The ERP's purchase order by number, or None on 404."""
        path = self._settings.po_path.format(number=quote(query.po_number, safe=""))
        data = await self._get_document(path, f"purchase order {query.po_number!r}")
        if data is None:
            return None
        return _parsed(PurchaseOrder, data, f"purchase order {query.po_number!r}")

    async def find_goods_receipt(self, query: PurchaseOrderQuery) -> GoodsReceipt | None:
        """The ERP's goods receipt against a purchase order, or None on 404."""
        path = self._settings.grn_path.format(number=quote(query.po_number, safe=""))
        what = f"goods receipt of purchase order {query.po_number!r}"
        data = await self._get_document(path, what)
        if data is None:
            return None
        return _parsed(GoodsReceipt, {"po_number": query.po_number, **data}, what)

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        settings = self._settings
        headers = {"Accept": "application/json", "User-Agent": "baton-erp"}
        auth: httpx.Auth | None = None
        if settings.auth != "none" and settings.token_ref is not None:
            token = (await self._secrets.resolve_async(settings.token_ref)).get_secret_value()
            if not token.isprintable():
                raise ErpRejected(f"secret {settings.token_ref!r} cannot go in an HTTP header")
            if settings.auth == "bearer":
                headers["Authorization"] = f"Bearer {token}"
            elif settings.auth == "header":
                headers[settings.header_name] = token
            else:
                auth = httpx.BasicAuth(settings.username or "", token)
        async with httpx.AsyncClient(
            base_url=settings.base_url,
            headers=headers,
            auth=auth,
            timeout=settings.timeout_seconds,
            verify=settings.verify_tls,
            follow_redirects=False,
        ) as client:
            yield client

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return await client.request(method, path, content=body, headers=headers)
        except httpx.TimeoutException as error:
            raise ErpUnavailable(
                f"the ERP did not answer {method} {path} within {self._settings.timeout_seconds:g}s"
            ) from error
        except httpx.TransportError as error:
            raise ErpUnavailable(f"cannot reach the ERP for {method} {path}: {error}") from error

    async def _lookup(self, client: httpx.AsyncClient, reference: str) -> ErpPosted | None:
        path = f"{self._settings.post_path.rstrip('/')}/{quote(reference, safe='')}"
        response = await self._send(client, "GET", path)
        if response.status_code in _NOT_FOUND_STATUS:
            return None
        _raise_for_status(response, f"looking up {reference!r}")
        document_id = self._document_id(response)
        if document_id is None:
            raise ErpRejected(
                f"the ERP's answer to GET {path} has no {self._settings.document_id_field!r}"
            )
        return ErpPosted(
            plugin=self.name,
            erp_document_id=document_id,
            created=False,
            location=_location(response) or str(response.url),
        )

    async def _posted(
        self, client: httpx.AsyncClient, reference: str, response: httpx.Response
    ) -> ErpPosted:
        status = response.status_code
        if status == 409:
            document_id = self._document_id(response)
            if document_id is not None:
                return ErpPosted(plugin=self.name, erp_document_id=document_id, created=False)
            found = await self._lookup(client, reference)
            if found is None:
                raise ErpRejected(
                    f"the ERP answered 409 for {reference!r} but has no document for it: "
                    f"{_snippet(response)}"
                )
            return found
        _raise_for_status(response, f"posting {reference!r}")
        document_id = self._document_id(response)
        if document_id is None:
            found = await self._lookup(client, reference)
            if found is None:
                raise ErpUnavailable(f"the ERP accepted {reference!r} but cannot find it yet")
            return found
        created = _json(response).get("created")
        return ErpPosted(
            plugin=self.name,
            erp_document_id=document_id,
            created=created if isinstance(created, bool) else status == 201,
            location=_location(response),
        )

    def _document_id(self, response: httpx.Response) -> str | None:
        value = _json(response).get(self._settings.document_id_field)
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            return None
        return str(value)

    async def _get_document(self, path: str, what: str) -> dict[str, Any] | None:
        async with self._client() as client:
            response = await self._send(client, "GET", path)
        if response.status_code in _NOT_FOUND_STATUS:
            return None
        _raise_for_status(response, f"reading the {what}")
        data = _json(response)
        if not data:
            raise ErpRejected(f"the ERP's {what} is not a JSON object: {_snippet(response)}")
        return data


def _raise_for_status(response: httpx.Response, doing: str) -> None:
    """`ErpUnavailable` for 5xx/408/429, `ErpRejected` for other non-2xx answers."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = f"the ERP answered {doing} with {status}: {_snippet(response)}"
    if status >= 500 or status in _RETRYABLE_STATUS:
        raise ErpUnavailable(message, retry_after=_retry_after(response))
    raise ErpRejected(message)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:_SNIPPET_CHARS] or response.reason_phrase or "(no body)"


def _location(response: httpx.Response) -> str | None:
    location = response.headers.get("Location")
    return urljoin(str(response.url), location) if location else None


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("Retry-After", "").strip()
    return timedelta(seconds=min(int(value), 3600)) if value.isdigit() else None


def _parsed(model: type[ModelT], data: dict[str, Any], what: str) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        fields = ", ".join(".".join(map(str, item["loc"])) or "(root)" for item in error.errors())
        raise ErpRejected(f"the ERP's {what} has invalid fields: {fields}") from error
