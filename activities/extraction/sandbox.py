"""Extraction in a child process with memory, CPU and wall-clock limits, so that a hostile or
broken file fails with a reason a person understands and never hangs or kills the worker.

Children are forked by one long-lived `python -m activities.extraction.worker_main` (the zygote)
that has already imported the pipeline, so a document pays for a fork, not for a fresh
interpreter and its imports. A timeout kills the child's whole process group, its pdftoppm and
tesseract included.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio.exceptions import ApplicationError

from models.invoices import DocumentKind, ExtractedInvoice

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
START_SECONDS = 60.0
"""How long the zygote may take to import the pipeline before it counts as broken."""
KILL_GRACE_SECONDS = 5.0


class ExtractionLimits(BaseModel):
    """What one extraction may use: CPU seconds and memory per process, and wall-clock time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_seconds: int = Field(default=60, gt=0, description="CPU time of the extracting process")
    memory_mb: int = Field(default=1024, ge=64, description="address space of each process")
    wall_seconds: float = Field(default=120, gt=0, description="from fork to reply")


class ExtractionCancelled(Exception):
    """The caller gave up on the extraction; its child was killed."""


def start_sandbox() -> None:
    """Start the zygote now and wait until it is ready, rather than on the first document."""
    _zygote()


def extract_in_sandbox(
    data: bytes,
    kind: DocumentKind,
    limits: ExtractionLimits,
    cancelled: threading.Event | None = None,
) -> ExtractedInvoice:
    """`extract_document` in a limited child process. A failure is an ApplicationError: the
    document's own (NotAPdf, CorruptPdf...) or ExtractionTimeout, ExtractionMemoryLimit or
    ExtractionCrashed, all non-retryable, except an ExtractionCrashed of the zygote itself.
    Setting `cancelled` kills the child and raises ExtractionCancelled."""
    with tempfile.TemporaryDirectory(prefix="baton-extract-") as folder:
        source, output = Path(folder) / "document", Path(folder) / "reply.json"
        source.write_bytes(data)
        job = _zygote().submit(source, output, kind, limits)
        _wait(job, limits, cancelled or threading.Event())
        reply: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    if "error" in reply:
        error = reply["error"]
        raise _failure(str(error["message"]), str(error["type"]))
    return ExtractedInvoice.model_validate(reply["invoice"])


@dataclass
class _Job:
    """One document in the zygote: its child's pid once forked, its wait status once ended."""

    number: int
    pid: int | None = None
    status: int | None = None
    forked: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)


def _wait(job: _Job, limits: ExtractionLimits, cancelled: threading.Event) -> None:
    """Until the job's child ends, killing it at the wall-clock limit or on cancellation."""
    job.forked.wait(START_SECONDS)
    deadline = time.monotonic() + limits.wall_seconds
    while not job.ended.wait(POLL_SECONDS):
        if cancelled.is_set():
            _kill(job)
            raise ExtractionCancelled("the extraction was cancelled")
        if time.monotonic() >= deadline:
            _kill(job)
            raise _failure(
                f"reading the document took longer than {limits.wall_seconds:g} s, so it was "
                "stopped",
                "ExtractionTimeout",
            )
    if job.status is None:
        raise _failure(
            "the extraction service stopped while reading the document",
            "ExtractionCrashed",
            retryable=True,
        )
    exitcode = os.waitstatus_to_exitcode(job.status)
    if exitcode != 0:
        raise _death(exitcode, limits)


def _kill(job: _Job) -> None:
    """Kill the job's process group (its pdftoppm and tesseract too) and wait for its end."""
    if job.pid is not None:
        try:
            os.killpg(job.pid, signal.SIGKILL)
        except ProcessLookupError:
            logger.debug("extraction child %s already gone", job.pid)
    job.ended.wait(KILL_GRACE_SECONDS)


def _death(exitcode: int, limits: ExtractionLimits) -> ApplicationError:
    """Why a child ended without a reply, in words."""
    if exitcode == -signal.SIGXCPU:
        return _failure(
            f"reading the document used more than {limits.cpu_seconds} s of CPU, so it was stopped",
            "ExtractionTimeout",
        )
    if exitcode == -signal.SIGABRT:
        return _failure(
            f"reading the document needed more than its {limits.memory_mb} MB of memory, so it "
            "was stopped",
            "ExtractionMemoryLimit",
        )
    if exitcode < 0:
        return _failure(
            f"the extraction process died of signal {_signal_name(-exitcode)} (it may have "
            f"needed more than its {limits.memory_mb} MB of memory)",
            "ExtractionCrashed",
        )
    return _failure(
        f"the extraction process ended with exit code {exitcode} without a result",
        "ExtractionCrashed",
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _failure(message: str, reason: str, retryable: bool = False) -> ApplicationError:
    """A failure of the document (for good), or of the zygote under it (worth a retry)."""
    return ApplicationError(message, type=reason, non_retryable=not retryable)


class _Zygote:
    """The running `worker_main` process, shared by every extraction of this process."""

    def __init__(self) -> None:
        search_path = os.pathsep.join(entry for entry in sys.path if entry)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "activities.extraction.worker_main"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": search_path, "OMP_THREAD_LIMIT": "1"},
        )
        self._jobs: dict[int, _Job] = {}
        self._numbers = count(1)
        self._lock = threading.Lock()
        self._ready = threading.Event()
        threading.Thread(target=self._read_answers, name="extraction-zygote", daemon=True).start()
        if not self._ready.wait(START_SECONDS) or not self.alive:
            self.process.kill()
            self.process.wait()
            raise _failure(
                "the extraction service did not start", "ExtractionCrashed", retryable=True
            )

    @property
    def alive(self) -> bool:
        """Whether the zygote still runs."""
        return self.process.poll() is None

    def submit(self, source: Path, output: Path, kind: str, limits: ExtractionLimits) -> _Job:
        """Ask for a child that reads `source` and replies in `output`."""
        with self._lock:
            job = _Job(next(self._numbers))
            self._jobs[job.number] = job
            request = {
                "job": job.number,
                "input": str(source),
                "output": str(output),
                "scratch": str(output.parent),
                "kind": kind,
                "limits": limits.model_dump(),
            }
            try:
                self._stdin().write(json.dumps(request).encode() + b"\n")
                self._stdin().flush()
            except (OSError, ValueError) as error:
                del self._jobs[job.number]
                raise _failure(
                    "the extraction service stopped before reading the document",
                    "ExtractionCrashed",
                    retryable=True,
                ) from error
        return job

    def close(self) -> None:
        """Close stdin: the zygote kills what still runs and exits."""
        self._stdin().close()
        self.process.wait(KILL_GRACE_SECONDS)

    def _stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None
        return self.process.stdin

    def _read_answers(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                logger.warning("the extraction service printed %r", line)
                continue
            if answer.get("ready"):
                self._ready.set()
                continue
            with self._lock:
                job = self._jobs[answer["job"]]
                if "status" in answer:
                    del self._jobs[job.number]
            if "pid" in answer:
                job.pid = answer["pid"]
                job.forked.set()
            else:
                job.status = answer["status"]
                job.ended.set()
        self._ready.set()  # it ended, ready or not: nobody waits for it any longer
        self._abandon()

    def _abandon(self) -> None:
        """The zygote is gone: its children's groups are killed and their jobs end unread."""
        with self._lock:
            jobs, self._jobs = list(self._jobs.values()), {}
        for job in jobs:
            if job.pid is not None:
                try:
                    os.killpg(job.pid, signal.SIGKILL)
                except ProcessLookupError:
                    logger.debug("extraction child %s already gone", job.pid)
            job.forked.set()
            job.ended.set()


_current: _Zygote | None = None
_starting = threading.Lock()


def _zygote() -> _Zygote:
    """The running zygote, started (again) when there is none."""
    global _current
    with _starting:
        if _current is None or not _current.alive:
            _current = _Zygote()
            atexit.register(_current.close)
        return _current
