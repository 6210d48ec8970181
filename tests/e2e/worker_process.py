"""The product's workers as a real child process (`python -m worker`) that a test can SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path

from config.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "polling "
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def worker_environment(settings: Settings, temporal_address: str) -> dict[str, str]:
    """The process environment that gives `python -m worker` the same settings as the test."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("BATON_")}
    mail = settings.mail
    secret = settings.security.secret_key
    env.update(
        {
            "BATON_DATA_DIR": str(settings.data_dir),
            "BATON_LOG_LEVEL": "INFO",
            "BATON_TEMPORAL__ADDRESS": temporal_address,
            "BATON_TEMPORAL__NAMESPACE": settings.temporal.namespace,
            "BATON_TEMPORAL__TASK_QUEUE_PREFIX": settings.temporal.task_queue_prefix,
            "BATON_DATABASE__URL": settings.database.url,
            "BATON_STORAGE__BACKEND": settings.storage.backend,
            "BATON_STORAGE__LOCAL_ROOT": str(settings.storage.local_root),
            "BATON_MAIL__SMTP_HOST": mail.smtp_host,
            "BATON_MAIL__SMTP_PORT": str(mail.smtp_port),
            "BATON_MAIL__SMTP_SECURITY": mail.smtp_security,
            "BATON_MAIL__SMTP_TIMEOUT_SECONDS": str(mail.smtp_timeout_seconds),
            "BATON_MAIL__SENDER": mail.sender,
            "BATON_API__PUBLIC_URL": settings.api.public_url,
        }
    )
    if secret is not None:
        env["BATON_SECURITY__SECRET_KEY"] = secret.get_secret_value()
    return env


def copy_sqlite_database(source: Path, url: str) -> None:
    """A copy of the SQLite file at `source` as the database of `url` (the test's own)."""
    target = Path(url.removeprefix("sqlite+aiosqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


class WorkerProcess:
    """One `python -m worker --queues ...` child; each start gets a fresh process and log."""

    def __init__(self, env: dict[str, str], queues: str, log_dir: Path) -> None:
        self._env = env
        self._queues = queues
        self._log_dir = log_dir
        self._process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.log_path = log_dir / "worker-0.log"

    async def start(self) -> None:
        """Start a new worker process and return once it polls its task queues."""
        if self._process is not None:
            raise RuntimeError("a worker process is already running")
        self.starts += 1
        self.log_path = self._log_dir / f"worker-{self.starts}.log"
        with self.log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "worker",
                "--queues",
                self._queues,
                cwd=REPO_ROOT,
                env=self._env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        await self._wait_until_polling(self._process)

    async def _wait_until_polling(self, process: asyncio.subprocess.Process) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while READY_LINE not in self.log():
            if process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"worker {self.starts} did not start (exit {process.returncode}):\n"
                    f"{self.log()[-3000:]}"
                )
            await asyncio.sleep(0.05)

    def log(self) -> str:
        """What the current (or last) worker process wrote."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def kill(self) -> None:
        """SIGKILL the worker process, as a machine dying would, and reap it."""
        process = self._require()
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await process.wait()
        self._process = None

    async def stop(self) -> None:
        """Stop the worker process gracefully if one runs (SIGTERM, then SIGKILL)."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            await process.wait()

    def freeze(self) -> None:
        """Stop every thread of the worker where it is (SIGSTOP)."""
        self._require().send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen worker go on (SIGCONT)."""
        self._require().send_signal(signal.SIGCONT)

    def _require(self) -> asyncio.subprocess.Process:
        if self._process is None:
            raise RuntimeError("no worker process is running")
        return self._process
