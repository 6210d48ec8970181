"""The local mail catcher: real SMTP in, the web inbox and the JSON API out, kept on disk."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from config.settings import DevSettings, MailSettings, Settings
from starter.mail_catcher import MailCatcher, create_app, run_mail_catcher
from tests.harness.ports import free_port

RUN_URL = "http://localhost:8000/runs/acme:leave:42?tab=steps&step=manager"
EMAIL_HTML = f"""<!DOCTYPE html>
<html><head><title>Leave request</title></head>
<body><p>Please decide: <a href="{RUN_URL}">open the request</a></p></body></html>
"""


def leave_email(subject: str = "Leave request 42 waits for you") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Baton <baton@baton.test>"
    message["To"] = "Manager <manager@acme.test>"
    message["Cc"] = "hr@acme.test"
    message["Subject"] = subject
    message["Date"] = "Mon, 03 Mar 2025 09:30:00 +0000"
    message["Message-ID"] = "<leave-42@baton.test>"
    message.set_content(f"Please decide: {RUN_URL}\n")
    message.add_alternative(EMAIL_HTML, subtype="html")
    return message


async def send(port: int, message: EmailMessage, *, bcc: list[str] | None = None) -> None:
    recipients = ["manager@acme.test", "hr@acme.test", *(bcc or [])]
    await aiosmtplib.send(
        message, hostname="127.0.0.1", port=port, start_tls=False, recipients=recipients
    )


class FrameFinder(HTMLParser):
    """The attributes of the page's iframes."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.frames.append(dict(attrs))


@pytest.fixture
async def catcher(tmp_path: Path) -> AsyncIterator[MailCatcher]:
    async with MailCatcher(tmp_path / "mail", smtp_port=0, web_port=0) as running:
        yield running


@pytest.fixture
async def web(catcher: MailCatcher) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=catcher.inbox_url, timeout=10) as client:
        yield client


async def test_a_caught_message_is_served_by_the_api(
    catcher: MailCatcher, web: httpx.AsyncClient
) -> None:
    await send(catcher.smtp_port, leave_email(), bcc=["audit@acme.test"])

    listed = (await web.get("/api/messages")).json()
    assert len(listed) == 1
    [summary] = listed
    assert summary["from"] == "Baton <baton@baton.test>"
    assert summary["to"] == ["Manager <manager@acme.test>"]
    assert summary["cc"] == ["hr@acme.test"]
    assert summary["subject"] == "Leave request 42 waits for you"
    assert summary["date"] == "2025-03-03T09:30:00Z"
    assert summary["text"] == f"Please decide: {RUN_URL}\n"
    assert summary["html"] == EMAIL_HTML
    detail = (await web.get(f"/api/messages/{summary['id']}")).json()
    assert detail["message_id"] == "<leave-42@baton.test>"
    assert detail["envelope_from"] == "baton@baton.test"
    assert detail["envelope_to"] == ["manager@acme.test", "hr@acme.test", "audit@acme.test"]
    assert ["Subject", "Leave request 42 waits for you"] in detail["headers"]
    raw = await web.get(f"/api/messages/{summary['id']}/raw")
    assert raw.headers["content-type"] == "message/rfc822"
    assert b"Message-ID: <leave-42@baton.test>" in raw.content


async def test_the_message_page_frames_the_html_so_links_open(
    catcher: MailCatcher, web: httpx.AsyncClient
) -> None:
    await send(catcher.smtp_port, leave_email())
    [summary] = (await web.get("/api/messages")).json()

    inbox = await web.get("/")
    page = await web.get(f"/messages/{summary['id']}")

    assert inbox.status_code == 200
    assert "Leave request 42 waits for you" in inbox.text
    assert f'href="/messages/{summary["id"]}"' in inbox.text
    assert page.status_code == 200
    finder = FrameFinder()
    finder.feed(page.text)
    [frame] = finder.frames
    assert frame["sandbox"] == "allow-popups allow-popups-to-escape-sandbox allow-forms"
    srcdoc = frame["srcdoc"] or ""
    assert srcdoc.startswith('<!DOCTYPE html>\n<html><head><base target="_blank"><title>')
    assert f'<a href="{RUN_URL}">' in srcdoc
    assert "Please decide: http://localhost:8000/runs/acme:leave:42?tab=steps&amp;step=manager" in (
        page.text
    )
    assert "Message-ID" in page.text


async def test_unknown_messages_are_not_found(web: httpx.AsyncClient) -> None:
    for path in ["/api/messages/20250101T000000000000Z-00000000", "/api/messages/..%2Fsecret"]:
        assert (await web.get(path)).status_code == 404
    assert (await web.get("/messages/nope")).status_code == 404
    assert (await web.get("/api/messages")).json() == []


async def test_clearing_forgets_every_message(catcher: MailCatcher, web: httpx.AsyncClient) -> None:
    await send(catcher.smtp_port, leave_email("first"))
    await send(catcher.smtp_port, leave_email("second"))
    listed = (await web.get("/api/messages")).json()
    assert [message["subject"] for message in listed] == ["second", "first"]

    assert (await web.delete(f"/api/messages/{listed[0]['id']}")).status_code == 204
    assert (await web.delete("/api/messages")).json() == {"deleted": 1}
    assert (await web.get("/api/messages")).json() == []


async def test_caught_mail_survives_a_restart(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    async with MailCatcher(folder, smtp_port=0, web_port=0) as first:
        await send(first.smtp_port, leave_email())

    app = create_app(folder)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catcher") as client:
        [message] = (await client.get("/api/messages")).json()
        assert message["subject"] == "Leave request 42 waits for you"
        assert (await client.get(f"/messages/{message['id']}")).status_code == 200
    assert len(list(folder.glob("*.eml"))) == 1


def catcher_settings(data_dir: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        mail=MailSettings(smtp_port=free_port()),
        dev=DevSettings(mail_catcher_port=free_port()),
    )


async def test_run_mail_catcher_serves_until_asked_to_stop(tmp_path: Path) -> None:
    settings = catcher_settings(tmp_path / "data")
    stop = asyncio.Event()
    running = asyncio.create_task(run_mail_catcher(settings, stop))
    base_url = f"http://127.0.0.1:{settings.dev.mail_catcher_port}"
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(100):
            try:
                await client.get("/api/messages")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
        await send(settings.mail.smtp_port, leave_email())
        assert len((await client.get("/api/messages")).json()) == 1

    stop.set()
    await asyncio.wait_for(running, timeout=10)
    assert len(list((tmp_path / "data" / "mail").glob("*.eml"))) == 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_the_process_stops_cleanly_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    settings = catcher_settings(tmp_path / "data")
    env = {
        **os.environ,
        "BATON_DATA_DIR": str(settings.data_dir),
        "BATON_MAIL__SMTP_PORT": str(settings.mail.smtp_port),
        "BATON_DEV__MAIL_CATCHER_PORT": str(settings.dev.mail_catcher_port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "starter.mail_catcher",
        cwd=tmp_path,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        while b"inbox at" not in (line := await asyncio.wait_for(process.stderr.readline(), 30)):
            assert line, "the mail catcher exited before it was ready"
        await send(settings.mail.smtp_port, leave_email())
        process.send_signal(sig)
        rest = await asyncio.wait_for(process.stderr.read(), 15)
        assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert b"mail catcher stopped" in rest
    assert b"Traceback" not in rest
    assert len(list((settings.data_dir / "mail").glob("*.eml"))) == 1
