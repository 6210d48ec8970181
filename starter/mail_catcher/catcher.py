"""The mail catcher process: an SMTP server that keeps mail and the web inbox, in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP

from config.logging_setup import configure_logging
from config.settings import Settings, get_settings
from starter.mail_catcher.store import MailStore
from starter.mail_catcher.web import create_app

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
SMTP_HOSTNAME = "mail-catcher.localhost"


class CatchingHandler:
    """An aiosmtpd handler that keeps every message in a `MailStore`."""

    def __init__(self, store: MailStore) -> None:
        self._store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else str(content).encode("utf-8")
        rcpt_tos = [str(address) for address in envelope.rcpt_tos]
        message_id = await asyncio.to_thread(
            self._store.save, raw, mail_from=envelope.mail_from, rcpt_tos=rcpt_tos
        )
        logger.info("caught %s from %s to %s", message_id, envelope.mail_from, ", ".join(rcpt_tos))
        return "250 Message accepted for delivery"


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the process that runs it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class MailCatcher:
    """The SMTP server and the web inbox over one folder, served by the running event loop.

    Port 0 picks a free port; `smtp_port` and `web_port` hold the ports in use after `start()`.
    """

    def __init__(
        self, folder: Path, *, smtp_port: int, web_port: int, host: str = LOOPBACK
    ) -> None:
        self.folder = folder
        self.host = host
        self.smtp_port = smtp_port
        self.web_port = web_port
        self._sockets: list[socket.socket] = []
        self._smtp: asyncio.Server | None = None
        self._web: _EmbeddedServer | None = None
        self._web_task: asyncio.Task[None] | None = None

    @property
    def inbox_url(self) -> str:
        """Where a browser finds the inbox."""
        return f"http://{self.host}:{self.web_port}/"

    async def start(self) -> None:
        """Accept mail and web requests; returns once both are listening."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        smtp_sock = self._listen(self.smtp_port)
        web_sock = self._listen(self.web_port)
        self.smtp_port = int(smtp_sock.getsockname()[1])
        self.web_port = int(web_sock.getsockname()[1])
        loop = asyncio.get_running_loop()
        handler = CatchingHandler(MailStore(self.folder))
        self._smtp = await loop.create_server(
            lambda: SMTP(handler, hostname=SMTP_HOSTNAME, enable_SMTPUTF8=True, loop=loop),
            sock=smtp_sock,
        )
        config = uvicorn.Config(
            create_app(self.folder),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=3,
        )
        self._web = _EmbeddedServer(config)
        self._web_task = asyncio.create_task(self._web.serve(sockets=[web_sock]))
        while not self._web.started:
            if self._web_task.done():
                await self._web_task
                raise RuntimeError("the mail catcher's web server stopped while starting")
            await asyncio.sleep(0.02)

    def _listen(self, port: int) -> socket.socket:
        try:
            sock = _listening_socket(self.host, port)
        except OSError:
            self._close_sockets()
            raise
        self._sockets.append(sock)
        return sock

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()

    async def stop(self) -> None:
        """Stop both servers and close their ports."""
        web, web_task, smtp = self._web, self._web_task, self._smtp
        self._web = self._web_task = self._smtp = None
        if web is not None and web_task is not None:
            web.should_exit = True
            with contextlib.suppress(Exception):
                await web_task
        if smtp is not None:
            smtp.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(smtp.wait_closed(), timeout=3)
        self._close_sockets()

    async def __aenter__(self) -> MailCatcher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


async def run_mail_catcher(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve the catcher until `stop` is set, or until SIGINT or SIGTERM when none is given."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    folder = settings.data_dir / "mail"
    catcher = MailCatcher(
        folder, smtp_port=settings.mail.smtp_port, web_port=settings.dev.mail_catcher_port
    )
    async with catcher:
        logger.info(
            "mail catcher: SMTP on %s:%d, inbox at %s (mail kept in %s)",
            catcher.host,
            catcher.smtp_port,
            catcher.inbox_url,
            folder,
        )
        await stop.wait()
    logger.info("mail catcher stopped")


def main() -> None:
    """`python -m starter.mail_catcher`: run the catcher with the process settings."""
    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        asyncio.run(run_mail_catcher(settings))
    except OSError as exc:
        logger.error("the mail catcher could not start: %s", exc)
        raise SystemExit(1) from exc
