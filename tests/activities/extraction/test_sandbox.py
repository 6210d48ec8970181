"""Sandboxed extraction: results as in-process, hostile files stopped with a reason, and the
calling process carries on; the activity reads from storage and heartbeats while it waits."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.documents import MAX_PDF_BYTES
from activities.extraction import activity as extraction_activity
from activities.extraction.activity import ExtractionActivities
from activities.extraction.sandbox import (
    ExtractionCancelled,
    ExtractionLimits,
    extract_in_sandbox,
    start_sandbox,
)
from activities.storage import LocalObjectStore
from models.invoices import ExtractRequest
from tests.activities.extraction.samples import (
    bomb_pdf,
    busy_pdf,
    scanned_invoice_pdf,
)
from tests.corpus import CORPUS

FACTUR_X = CORPUS / "zugferd" / "XML-Rechnung_FX_EN16931_Rabatte.pdf"
LIMITS = ExtractionLimits()
BUSY_OPERATORS = 300_000
"""About 2.5 s of CPU to read on one core."""


def _sandboxed(data: bytes, limits: ExtractionLimits = LIMITS) -> Decimal | None:
    return extract_in_sandbox(data, "invoice", limits).fields.total_amount


def test_a_sandboxed_extraction_returns_the_documents_fields() -> None:
    extracted = extract_in_sandbox(FACTUR_X.read_bytes(), "invoice", LIMITS)
    assert (extracted.method, extracted.fields.total_amount) == ("embedded_xml", Decimal("215.07"))
    assert len(extracted.fields.line_items) == 4


def test_document_refusals_cross_the_sandbox_with_their_reason() -> None:
    with pytest.raises(ApplicationError, match="not a PDF") as raised:
        _sandboxed(b"PK\x03\x04 a zip file")
    assert (raised.value.type, raised.value.non_retryable) == ("NotAPdf", True)


def test_a_decompression_bomb_hits_the_memory_limit_and_the_caller_carries_on() -> None:
    limits = ExtractionLimits(memory_mb=384)
    with pytest.raises(ApplicationError, match="more than its 384 MB of memory") as raised:
        _sandboxed(bomb_pdf(600), limits)
    assert (raised.value.type, raised.value.non_retryable) == ("ExtractionMemoryLimit", True)
    assert _sandboxed(FACTUR_X.read_bytes(), limits) == Decimal("215.07")


def test_a_document_that_keeps_the_cpu_busy_is_stopped_at_the_cpu_limit() -> None:
    started = time.monotonic()
    with pytest.raises(ApplicationError, match="more than 1 s of CPU") as raised:
        _sandboxed(busy_pdf(BUSY_OPERATORS), ExtractionLimits(cpu_seconds=1))
    assert raised.value.type == "ExtractionTimeout"
    assert time.monotonic() - started < 10


def test_a_slow_document_is_stopped_at_the_wall_clock_limit_with_its_ocr() -> None:
    start_sandbox()
    groups: set[int] = set()
    running = threading.Event()
    running.set()

    def watch() -> None:
        while running.is_set():
            groups.update(_extraction_children())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    try:
        with pytest.raises(ApplicationError, match=r"longer than 0\.8 s") as raised:
            _sandboxed(scanned_invoice_pdf(pages=8), ExtractionLimits(wall_seconds=0.8))
    finally:
        running.clear()
        watcher.join()
    assert raised.value.type == "ExtractionTimeout"
    assert time.monotonic() - started < 3
    assert groups, "the extraction ran in a child process"
    assert _gone_soon(groups), "the child, its pdftoppm and its tesseract were all killed"


def test_a_child_that_dies_is_reported_as_crashed() -> None:
    start_sandbox()

    def kill_child_once_started() -> None:
        for _ in range(1000):
            children = _extraction_children()
            if children:
                os.kill(children[0], signal.SIGSEGV)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_child_once_started)
    killer.start()
    with pytest.raises(ApplicationError, match="died of signal SIGSEGV") as raised:
        _sandboxed(busy_pdf(BUSY_OPERATORS))
    killer.join()
    assert raised.value.type == "ExtractionCrashed"


def test_a_cancelled_extraction_stops_at_once() -> None:
    start_sandbox()
    cancelled = threading.Event()
    threading.Timer(0.3, cancelled.set).start()
    started = time.monotonic()
    with pytest.raises(ExtractionCancelled):
        extract_in_sandbox(busy_pdf(BUSY_OPERATORS), "invoice", LIMITS, cancelled)
    assert time.monotonic() - started < 2
    assert not _extraction_children()


def test_a_new_zygote_takes_over_when_the_old_one_was_killed() -> None:
    assert _sandboxed(FACTUR_X.read_bytes()) == Decimal("215.07")
    [zygote] = _zygotes()
    os.kill(zygote, signal.SIGKILL)
    while _live_group(Path(f"/proc/{zygote}")) is not None:
        time.sleep(0.01)
    assert _sandboxed(FACTUR_X.read_bytes()) == Decimal("215.07")
    assert _zygotes() != [zygote]


async def test_the_activity_reads_stored_documents_and_heartbeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(
        tmp_path, public_url="http://baton.test", secret_key="k" * 32, link_ttl_seconds=60
    )
    await store.put("acme/ap/run-1/scan.pdf", scanned_invoice_pdf(), "application/pdf")
    monkeypatch.setattr(extraction_activity, "HEARTBEAT_SECONDS", 0.05)
    heartbeats: list[object] = []
    environment = ActivityEnvironment()
    environment.on_heartbeat = lambda *details: heartbeats.append(details)
    activities = ExtractionActivities(store, LIMITS)

    extracted = await environment.run(
        activities.extract_invoice, ExtractRequest(key="acme/ap/run-1/scan.pdf")
    )
    assert (extracted.method, extracted.fields.total_amount) == ("ocr", Decimal("1234.50"))
    assert heartbeats


async def test_a_cancelled_activity_kills_its_extraction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(
        tmp_path, public_url="http://baton.test", secret_key="k" * 32, link_ttl_seconds=60
    )
    await store.put("acme/ap/run-1/busy.pdf", busy_pdf(BUSY_OPERATORS), "application/pdf")
    monkeypatch.setattr(extraction_activity, "HEARTBEAT_SECONDS", 0.05)
    working = asyncio.Event()
    environment = ActivityEnvironment()
    environment.on_heartbeat = lambda *_: working.set()
    running = asyncio.create_task(
        environment.run(
            ExtractionActivities(store, LIMITS).extract_invoice,
            ExtractRequest(key="acme/ap/run-1/busy.pdf"),
        )
    )
    await working.wait()
    environment.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert not _extraction_children()


async def test_the_activity_refuses_a_file_over_50_mb_before_reading_it(tmp_path: Path) -> None:
    store = LocalObjectStore(
        tmp_path, public_url="http://baton.test", secret_key="k" * 32, link_ttl_seconds=60
    )
    await store.put("acme/ap/run-1/huge.pdf", b"%PDF-1.4\n" + b"0" * MAX_PDF_BYTES)
    activities = ExtractionActivities(store, LIMITS)
    with pytest.raises(ApplicationError, match="more than the 50 MB allowed") as raised:
        await ActivityEnvironment().run(
            activities.extract_invoice, ExtractRequest(key="acme/ap/run-1/huge.pdf")
        )
    assert (raised.value.type, raised.value.non_retryable) == ("FileTooLarge", True)


def _gone_soon(groups: set[int], seconds: float = 2.0) -> bool:
    """Whether every process of the groups has ended (zombies count as ended) within seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_live_group(entry) in groups for entry in Path("/proc").glob("[0-9]*")):
            return True
        time.sleep(0.05)
    return False


def _live_group(process: Path) -> int | None:
    """The process group of a running process; None for a zombie or a process gone."""
    try:
        stat = (process / "stat").read_text()
    except OSError:
        return None
    state, _parent, group = stat.rsplit(")", 1)[1].split()[:3]
    return None if state == "Z" else int(group)


def _extraction_children() -> list[int]:
    """The extraction processes the zygote runs now."""
    return [child for zygote in _zygotes() for child in _children(zygote)]


def _zygotes() -> list[int]:
    """The `worker_main` children of this process."""
    return [
        child
        for child in _children(os.getpid())
        if b"activities.extraction.worker_main" in _command_line(child)
    ]


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task").glob("*/children")
    return [int(child) for task in tasks for child in _read(task).split()]


def _command_line(pid: int) -> bytes:
    return _read(Path(f"/proc/{pid}/cmdline")).encode()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
