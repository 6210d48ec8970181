"""A real SMTP server (aiosmtpd) on loopback that keeps every message it receives."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from config.settings import MailSettings, Settings
from tests.harness.ports import free_port

SMTP_HOST = "127.0.0.1"


@dataclass(frozen=True)
class CapturedEmail:
    """One message as the server received it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes

    @property
    def subject(self) -> str:
        """The decoded Subject header."""
        return str(self.message["Subject"])

    def text(self) -> str:
        """The text/plain part."""
        return _body(self.message, "plain")

    def html(self) -> str:
        """The text/html part."""
        return _body(self.message, "html")


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        raise AssertionError(f"the message has no text/{subtype} part")
    return str(part.get_content())


class CapturingHandler:
    """An aiosmtpd handler that parses and keeps each message (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[CapturedEmail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        parsed = message_from_bytes(raw, policy=policy.default)
        captured = CapturedEmail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            message=parsed,
            raw=raw,
        )
        with self._lock:
            self._messages.append(captured)
        return "250 Message accepted for delivery"

    def snapshot(self) -> list[CapturedEmail]:
        """The messages received so far, oldest first."""
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        """Forget every message received so far."""
        with self._lock:
            self._messages.clear()


class SmtpServer:
    """An aiosmtpd Controller on 127.0.0.1 (its own thread) with a capturing handler."""

    def __init__(self, port: int | None = None) -> None:
        self.host = SMTP_HOST
        self.port = port or free_port()
        self.handler = CapturingHandler()
        self._controller = Controller(
            self.handler, hostname=self.host, port=self.port, server_hostname="smtp.localhost"
        )

    def start(self) -> None:
        """Listen, and return once the server answers."""
        self._controller.start()

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()


class SmtpInbox:
    """The messages a test's code sent to the session's SMTP server."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server
        self.host = server.host
        self.port = server.port

    @property
    def messages(self) -> list[CapturedEmail]:
        """The messages received so far, oldest first."""
        return self._server.handler.snapshot()

    def clear(self) -> None:
        """Forget every message received so far."""
        self._server.handler.clear()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[CapturedEmail]:  # noqa: ASYNC109
        """Wait until at least `count` messages arrived, and return them all."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages
            if len(messages) >= count:
                return messages
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"expected {count} message(s) within {timeout}s, got {len(messages)}"
                )
            await asyncio.sleep(0.05)


def mail_settings_for(host: str, port: int, data_dir: Path) -> Settings:
    """Settings whose outgoing mail goes to the given plain SMTP server."""
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        mail=MailSettings(
            smtp_host=host,
            smtp_port=port,
            smtp_security="none",
            smtp_timeout_seconds=5.0,
            sender="Baton <baton@baton.test>",
        ),
    )


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    """One capturing SMTP server for the whole test session."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_inbox(smtp_server: SmtpServer) -> SmtpInbox:
    """The session's SMTP server, emptied for this test."""
    inbox = SmtpInbox(smtp_server)
    inbox.clear()
    return inbox


@pytest.fixture
def mail_settings(smtp_server: SmtpServer, tmp_path: Path) -> Settings:
    """Settings that send mail to the session's SMTP server and keep data under tmp_path."""
    return mail_settings_for(smtp_server.host, smtp_server.port, tmp_path / "data")
