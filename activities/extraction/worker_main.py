"""The extraction zygote: imports the pipeline once, then forks one limited child per document.

`python -m activities.extraction.worker_main` is started by `activities.extraction.sandbox`
and speaks JSON lines. It reads jobs on stdin, `{"job": 1, "input": PATH, "output": PATH,
"scratch": FOLDER, "kind": "invoice", "limits": {...}}`, and answers `{"ready": true}` once,
then `{"job": 1, "pid": PID}` when a job's child is forked and `{"job": 1, "status":
WAIT_STATUS}` when it ended. The child leads a process group of its own (so one kill reaches
its pdftoppm and tesseract), takes on the memory and CPU limits, keeps its temporary files in
the scratch folder, and writes its reply, the invoice or an error, as JSON to the output path.
When stdin closes, running children are killed and the zygote exits.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import resource
import selectors
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from temporalio.exceptions import ApplicationError

from activities.extraction.ocr import single_threaded_tesseract
from activities.extraction.pipeline import extract_document
from models.invoices import DocumentKind

logger = logging.getLogger(__name__)

CHILD_FAILED = 70
"""The exit code of a child that could not even write its reply."""


def extraction_reply(path: Path, kind: DocumentKind, memory_mb: int) -> dict[str, Any]:
    """The JSON reply for one document: `{"invoice": ...}` or `{"error": {type, message}}`."""
    try:
        invoice = extract_document(path.read_bytes(), kind)
    except ApplicationError as error:
        return _error(error.type or "ExtractionFailed", error.message)
    except MemoryError:
        return _error(
            "ExtractionMemoryLimit",
            f"reading the document needed more than its {memory_mb} MB of memory, so it was "
            "stopped",
        )
    except RecursionError:
        return _error("CorruptPdf", "the document nests its objects too deeply to be read")
    except Exception as error:
        logger.exception("extraction failed")
        return _error("ExtractionCrashed", f"reading the document failed: {error!r}")
    return {"invoice": invoice.model_dump(mode="json")}


def _error(reason: str, message: str) -> dict[str, Any]:
    return {"error": {"type": reason, "message": message}}


def run_child(job: dict[str, Any]) -> None:
    """In the forked child: own process group, limits, extraction, reply; never returns."""
    code = CHILD_FAILED
    try:
        os.setpgid(0, 0)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(2, 1)  # stdout is the zygote's answer channel: nothing else may write there
        tempfile.tempdir = job["scratch"]  # removed by the caller, even after a kill
        limits = job["limits"]
        memory = int(limits["memory_mb"]) * 2**20
        cpu = int(limits["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a killed child leaves no core file
        reply = extraction_reply(Path(job["input"]), job["kind"], int(limits["memory_mb"]))
        output = Path(job["output"])
        output.with_suffix(".part").write_text(json.dumps(reply), encoding="utf-8")
        output.with_suffix(".part").rename(output)
        code = 0
    except BaseException:
        logger.exception("the extraction child failed")
    finally:
        os._exit(code)


class Zygote:
    """Forks children for jobs read on stdin and reports their pids and ends on stdout."""

    def __init__(self) -> None:
        self.running: dict[int, int] = {}
        self._pending = b""
        self._wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def serve(self) -> None:
        """Answer jobs until stdin closes, then kill what still runs."""
        selector = selectors.DefaultSelector()
        selector.register(0, selectors.EVENT_READ)
        selector.register(self._wakeup_read, selectors.EVENT_READ)
        self._answer({"ready": True})
        while True:
            for key, _ in selector.select():
                if key.fd == self._wakeup_read:
                    os.read(self._wakeup_read, 4096)
                elif not self._read_jobs():
                    self._stop()
                    return
            self._reap()

    def _read_jobs(self) -> bool:
        data = os.read(0, 65536)
        if not data:
            return False
        *lines, self._pending = (self._pending + data).split(b"\n")
        for line in lines:
            if line.strip():
                self._fork(json.loads(line))
        return True

    def _fork(self, job: dict[str, Any]) -> None:
        pid = os.fork()
        if pid == 0:
            run_child(job)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.setpgid(pid, pid)  # as the child does: no kill can miss the group
        self.running[pid] = int(job["job"])
        self._answer({"job": job["job"], "pid": pid})

    def _reap(self) -> None:
        while self.running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            job = self.running.pop(pid, None)
            if job is not None:
                self._answer({"job": job, "status": status})

    def _stop(self) -> None:
        for pid in self.running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    @staticmethod
    def _answer(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def main() -> None:
    """Serve extraction jobs from stdin until it closes."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    single_threaded_tesseract()
    gc.freeze()  # children share the imported modules' pages instead of copying them
    Zygote().serve()


if __name__ == "__main__":
    main()
