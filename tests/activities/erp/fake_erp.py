"""A small ERP on loopback with its own documents, for the REST/webhook plugin's tests.

It keeps invoices by id, answers lookups by external reference, and can be told to fail,
to stall after storing a posting, to ignore `Idempotency-Key`, or to demand credentials.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True)
class SeenRequest:
    """One request as the ERP received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeErp:
    """The ERP's state and behaviour; tests change the knobs before calling it."""

    url: str = ""
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    purchase_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    goods_receipts: dict[str, Any] = field(default_factory=dict)
    post_failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    stall_first_post_seconds: float = 0.0
    honours_idempotency: bool = True
    replays_with_200: bool = False
    conflict_names_the_document: bool = True
    offers_lookup: bool = True
    required_headers: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def posts(self) -> list[SeenRequest]:
        """The POST requests received so far."""
        return [request for request in self.requests if request.method == "POST"]

    def handle(self, request: SeenRequest) -> tuple[int, dict[str, str], Any, float]:
        """Status, headers, JSON body and how long to stall before answering."""
        with self.lock:
            self.requests.append(request)
            for name, value in self.required_headers.items():
                if request.headers.get(name.lower()) != value:
                    return 401, {}, {"error": "not authenticated"}, 0.0
            if request.method == "POST":
                return self._post(request)
            return (*self._get(request.path), 0.0)

    def _post(self, request: SeenRequest) -> tuple[int, dict[str, str], Any, float]:
        if request.path != "/api/invoices":
            return 404, {}, {"error": "no such route"}, 0.0
        if self.post_failures:
            status, headers = self.post_failures.pop(0)
            return status, headers, {"error": f"failing with {status} on purpose"}, 0.0
        posting = json.loads(request.body)
        if "supplier_name" not in posting or "invoice" not in posting:
            return 400, {}, {"error": "supplier_name and invoice are required"}, 0.0
        reference = posting.get("external_reference")
        existing = self._by_reference(reference)
        if self.honours_idempotency and existing is not None and self.replays_with_200:
            return 200, {}, {"id": existing, "status": "booked"}, 0.0
        if self.honours_idempotency and existing is not None:
            body = {"error": "already posted"}
            if self.conflict_names_the_document:
                body["id"] = existing
            return 409, {}, body, 0.0
        document_id = f"DOC-{len(self.documents) + 1}"
        self.documents[document_id] = posting
        stall = self.stall_first_post_seconds if len(self.posts()) == 1 else 0.0
        headers = {"Location": f"/api/invoices/{document_id}"}
        return 201, headers, {"id": document_id, "status": "booked"}, stall

    def _get(self, path: str) -> tuple[int, dict[str, str], Any]:
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if parts[:2] == ["api", "invoices"] and len(parts) == 3 and self.offers_lookup:
            document_id = self._by_reference(parts[2])
            if document_id is None:
                return 404, {}, {"error": "unknown reference"}
            return 200, {}, {"id": document_id, "external_reference": parts[2]}
        if parts[:2] == ["api", "purchase-orders"] and len(parts) == 3:
            order = self.purchase_orders.get(parts[2])
            return (200, {}, order) if order is not None else (404, {}, {"error": "no PO"})
        if parts[:2] == ["api", "purchase-orders"] and parts[3:] == ["goods-receipts"]:
            receipt = self.goods_receipts.get(parts[2])
            return (200, {}, receipt) if receipt is not None else (404, {}, {"error": "no GRN"})
        return 404, {}, {"error": "no such route"}

    def _by_reference(self, reference: str | None) -> str | None:
        for document_id, posting in self.documents.items():
            if posting.get("external_reference") == reference:
                return document_id
        return None


def _handler(erp: FakeErp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = SeenRequest(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self.rfile.read(length),
            )
            status, headers, body, stall = erp.handle(request)
            time.sleep(stall)
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def running_fake_erp() -> Iterator[FakeErp]:
    """A fake ERP serving `/api/...` on a free loopback port until the block ends."""
    erp = FakeErp()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(erp))
    server.daemon_threads = True
    erp.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield erp
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
