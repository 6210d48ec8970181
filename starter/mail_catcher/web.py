"""The mail catcher's web inbox and JSON API over a folder of caught mail."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import jinja2
from fastapi import FastAPI, HTTPException, Query, Response, status
from fastapi.responses import HTMLResponse

from starter.mail_catcher.store import CaughtMessage, MailStore

_PAGES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "pages"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_HEAD_OPEN = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_HTML_OPEN = re.compile(r"<html\b[^>]*>", re.IGNORECASE)
_BASE = '<base target="_blank">'
IFRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox allow-forms"
DEFAULT_LIMIT = 500


def links_open_outside(html: str) -> str:
    """The HTML with `<base target="_blank">` first in its head; links stay as they are."""
    for opening in (_HEAD_OPEN, _HTML_OPEN):
        match = opening.search(html)
        if match:
            return html[: match.end()] + _BASE + html[match.end() :]
    return _BASE + html


def create_app(folder: Path) -> FastAPI:
    """The inbox pages and the API for the mail kept in `folder`."""
    store = MailStore(folder)
    app = FastAPI(title="Baton mail catcher", docs_url="/api/docs", redoc_url=None)

    def found(message_id: str) -> CaughtMessage:
        message = store.get(message_id)
        if message is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {message_id}")
        return message

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def inbox_page(limit: Annotated[int, Query(ge=1)] = DEFAULT_LIMIT) -> str:
        """The inbox, newest first."""
        return _PAGES.get_template("inbox.html").render(
            messages=store.messages(limit), total=len(store.ids()), folder=str(folder)
        )

    @app.get("/messages/{message_id}", response_class=HTMLResponse, include_in_schema=False)
    def message_page(message_id: str) -> str:
        """One message: its HTML part in a sandboxed frame, its text part and its headers."""
        message = found(message_id)
        framed = links_open_outside(message.html) if message.html is not None else None
        return _PAGES.get_template("message.html").render(
            message=message, framed_html=framed, sandbox=IFRAME_SANDBOX
        )

    @app.get("/api/messages")
    def list_messages(
        limit: Annotated[int, Query(ge=1)] = DEFAULT_LIMIT,
    ) -> list[CaughtMessage]:
        """The caught messages, newest first."""
        return store.messages(limit)

    @app.delete("/api/messages")
    def clear_messages() -> dict[str, int]:
        """Forget every caught message."""
        return {"deleted": store.clear()}

    @app.get("/api/messages/{message_id}")
    def get_message(message_id: str) -> CaughtMessage:
        """One caught message."""
        return found(message_id)

    @app.get("/api/messages/{message_id}/raw", response_class=Response)
    def raw_message(message_id: str) -> Response:
        """One caught message as an `.eml` file, envelope headers first."""
        raw = store.raw(message_id)
        if raw is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {message_id}")
        disposition = f'attachment; filename="{message_id}.eml"'
        return Response(
            raw, media_type="message/rfc822", headers={"Content-Disposition": disposition}
        )

    @app.delete("/api/messages/{message_id}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_message(message_id: str) -> None:
        """Forget one caught message."""
        if not store.delete(message_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {message_id}")

    return app
