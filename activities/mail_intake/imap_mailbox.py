"""One IMAP mailbox folder: list its unread messages, fetch them untouched, file them away.

Built on aioimaplib, with what it lacks added here: STARTTLS, a deadline and a lost-connection
check on every command, capabilities read correctly after LOGIN, and modified UTF-7 folder
names. Sizes are fetched in batches small enough for aioimaplib's line parser, which recurses
once per response line. A NOOP before listing (and before giving up on a UID) lets a session
see messages that arrived after it opened the folder.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import re
import ssl
from collections.abc import Awaitable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

import aioimaplib

logger = logging.getLogger(__name__)

SIZE_BATCH = 250
"""UIDs per `UID FETCH (RFC822.SIZE)`: keeps each response far below the recursion limit."""

_REFUSED_LOGIN_CODES = frozenset(
    {"AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED", "CONTACTADMIN"}
)
_RESPONSE_CODE = re.compile(rb"\[([A-Z0-9-]+)(?: ([^\]]*))?\]")
_FETCH_START = re.compile(rb"^\d+ FETCH \(")
_FETCH_UID = re.compile(rb"[( ]UID (\d+)")
_FETCH_SIZE = re.compile(rb"[( ]RFC822\.SIZE (\d+)")
_BODY_LITERAL = re.compile(rb"[( ]BODY\[\] \{\d+\}$")


@dataclass(frozen=True)
class ImapAccount:
    """Where a mailbox is, how to log in, and which folders to read from and file into."""

    host: str
    port: int
    tls: Literal["ssl", "starttls", "none"]
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    timeout_seconds: float = 30.0


class MailboxError(Exception):
    """The mailbox could not be reached or read: connection, TLS, login or protocol failure."""


class MailboxLoginRefused(MailboxError):
    """The server refused the credentials; retrying soon will not help."""


@dataclass(frozen=True)
class MessageSummary:
    """An unread message: its UID in the folder and its size in bytes (RFC822.SIZE)."""

    uid: int
    size: int


@dataclass(frozen=True)
class _Reply:
    """A completed command: OK/NO/BAD, the untagged lines, literals, and the tagged text last."""

    result: str
    lines: list[bytes | bytearray]

    @property
    def ok(self) -> bool:
        return self.result == "OK"

    @property
    def text(self) -> bytes:
        return bytes(self.lines[-1]) if self.lines else b""

    def codes(self) -> dict[str, bytes]:
        """The response codes ("[TRYCREATE]", "[UIDVALIDITY 7]") in the text lines."""
        found: dict[str, bytes] = {}
        for line in self.lines:
            if isinstance(line, bytes):
                for code in _RESPONSE_CODE.finditer(line):
                    found.setdefault(code[1].decode(), code[2] or b"")
        return found

    def capabilities(self) -> set[str] | None:
        """The capabilities announced with the reply (untagged or as a response code)."""
        for line in self.lines:
            if isinstance(line, bytes) and line.startswith(b"CAPABILITY "):
                return set(line.decode(errors="replace").split()[1:])
        listed = self.codes().get("CAPABILITY")
        return set(listed.decode(errors="replace").split()) if listed is not None else None

    def fetched(self) -> Iterator[tuple[bytes, list[bytes | bytearray]]]:
        """Each untagged FETCH response: its text pieces joined, and all its pieces."""
        pieces: list[bytes | bytearray] = []
        for line in self.lines[:-1]:
            if isinstance(line, bytes) and _FETCH_START.match(line) and pieces:
                yield _text_of(pieces), pieces
                pieces = []
            if pieces or (isinstance(line, bytes) and _FETCH_START.match(line)):
                pieces.append(line)
        if pieces:
            yield _text_of(pieces), pieces

    def body(self, uid: int) -> bytes | None:
        """The `BODY[]` literal of the FETCH response for `uid`, if there is one."""
        for text, pieces in self.fetched():
            if _uid_of(text) != uid:
                continue
            for before, piece in itertools.pairwise(pieces):
                is_literal = isinstance(piece, bytearray) and isinstance(before, bytes)
                if is_literal and _BODY_LITERAL.search(before):
                    return bytes(piece)
        return None


def _text_of(pieces: list[bytes | bytearray]) -> bytes:
    return b" ".join(piece for piece in pieces if isinstance(piece, bytes))


def encode_folder_name(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 section 5.1.3)."""
    encoded: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            encoded.append(
                "&" + base64.b64encode(raw).rstrip(b"=").decode().replace("/", ",") + "-"
            )
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            encoded.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(encoded)


def decode_folder_name(wire_name: str) -> str:
    """A folder name as the user sees it, from IMAP's modified UTF-7."""

    def decode(shift: re.Match[str]) -> str:
        chunk = shift[1].replace(",", "/")
        if not chunk:
            return "&"
        return base64.b64decode(chunk + "=" * (-len(chunk) % 4)).decode("utf-16-be")

    return re.sub(r"&([A-Za-z0-9+,]*)-", decode, wire_name)


def _mailbox_argument(name: str) -> str:
    return str(aioimaplib.quoted(encode_folder_name(name)))


def uid_set(uids: Iterable[int]) -> str:
    """A compact IMAP sequence set for the UIDs, e.g. "3:5,9"."""
    ranges: list[tuple[int, int]] = []
    for uid in sorted(set(uids)):
        if ranges and uid == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], uid)
        else:
            ranges.append((uid, uid))
    return ",".join(str(low) if low == high else f"{low}:{high}" for low, high in ranges)


class ImapMailbox:
    """A logged-in session on one folder; use `async with`, one command at a time."""

    def __init__(self, account: ImapAccount, ssl_context: ssl.SSLContext | None = None) -> None:
        self._account = account
        self._ssl_context = ssl_context
        self._where = f"IMAP {account.host}:{account.port}, folder {account.folder!r}"
        self._client: Any = None
        self._lost: asyncio.Future[None] | None = None
        self._broken = False
        self._lock = asyncio.Lock()
        self.uid_validity = 0

    async def __aenter__(self) -> Self:
        try:
            await self._open()
        except BaseException:
            self._close_transport()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._client is not None and not self._broken and not self._connection_lost():
                await self._call(self._client.logout(), "LOGOUT")
        except MailboxError as error:
            logger.debug("%s: LOGOUT failed: %s", self._where, error)
        finally:
            self._close_transport()

    @property
    def encrypted(self) -> bool:
        """Whether the connection is protected by TLS (implicit or after STARTTLS)."""
        transport = getattr(getattr(self._client, "protocol", None), "transport", None)
        return transport is not None and transport.get_extra_info("ssl_object") is not None

    async def unseen(self, limit: int | None = None) -> list[MessageSummary]:
        """The folder's unread messages, oldest UID first, at most `limit` of them."""
        async with self._lock:
            client = self._open_client()
            await self._sync()
            search = await self._command(client.uid_search("UNSEEN", charset=None), "UID SEARCH")
            self._expect_ok(search, "UID SEARCH UNSEEN")
            numbers = (number for line in search.lines[:-1] for number in line.split())
            uids = sorted({int(number) for number in numbers if number.isdigit()})
            if limit is not None:
                uids = uids[: max(limit, 0)]
            sizes: dict[int, int] = {}
            for start in range(0, len(uids), SIZE_BATCH):
                batch = uids[start : start + SIZE_BATCH]
                sizes.update(await self._sizes(batch))
            logger.debug("%s: %d unseen message(s) listed", self._where, len(sizes))
            return [MessageSummary(uid=uid, size=sizes[uid]) for uid in uids if uid in sizes]

    async def fetch(self, uid: int) -> bytes | None:
        """The message's bytes exactly as stored, without marking it read; None if it is gone."""
        async with self._lock:
            client = self._open_client()
            what = f"UID FETCH {uid} BODY.PEEK[]"
            body: bytes | None = None
            for attempt in range(2):
                if attempt:
                    await self._sync()
                reply = await self._command(client.uid("FETCH", str(uid), "BODY.PEEK[]"), what)
                if "EXPUNGEISSUED" not in reply.codes():
                    self._expect_ok(reply, what)
                body = reply.body(uid)
                if body is not None:
                    break
            if body is not None:
                logger.debug("%s: fetched UID %s (%d bytes)", self._where, uid, len(body))
                return body
            logger.info("%s: UID %s is no longer in the folder", self._where, uid)
            return None

    async def file(self, uid: int) -> bool:
        """Mark the message read and move it to the processed folder; False if it is gone.

        If the move fails, a message that was unread is marked unread again (when the
        connection still works), so it is not lost from the next `unseen()` listing.
        """
        async with self._lock:
            flags = await self._flags(uid)
            if flags is None:
                await self._sync()
                flags = await self._flags(uid)
            if flags is None:
                logger.info("%s: UID %s already gone, nothing to file", self._where, uid)
                return False
            was_seen = b"\\Seen" in flags
            await self._store(uid, "+FLAGS.SILENT", r"(\Seen)")
            try:
                await self._move_to_processed(uid)
            except MailboxError:
                if not was_seen and not self._broken:
                    with contextlib.suppress(MailboxError):
                        await self._store(uid, "-FLAGS.SILENT", r"(\Seen)")
                raise
            logger.info(
                "%s: UID %s filed into %r", self._where, uid, self._account.processed_folder
            )
            return True

    async def _sync(self) -> None:
        """NOOP: the server reports messages that arrived since the session's last command."""
        self._expect_ok(await self._command(self._open_client().noop(), "NOOP"), "NOOP")

    async def _flags(self, uid: int) -> bytes | None:
        what = f"UID FETCH {uid} (FLAGS)"
        probe = await self._command(self._open_client().uid("FETCH", str(uid), "(FLAGS)"), what)
        self._expect_ok(probe, what)
        return next((text for text, _ in probe.fetched() if _uid_of(text) == uid), None)

    def _open_client(self) -> Any:
        if self._broken:
            raise self._error(MailboxError, "the connection is no longer usable")
        if self._client is None:
            raise self._error(MailboxError, "the mailbox is not open (use `async with`)")
        return self._client

    async def _store(self, uid: int, change: str, flags: str) -> None:
        what = f"UID STORE {uid} {change} {flags}"
        reply = await self._command(self._open_client().uid("STORE", str(uid), change, flags), what)
        self._expect_ok(reply, what)

    async def _move_to_processed(self, uid: int) -> None:
        client = self._open_client()
        if client.has_capability("MOVE"):
            await self._into_processed("MOVE", uid)
            return
        await self._into_processed("COPY", uid)
        await self._store(uid, "+FLAGS.SILENT", r"(\Deleted)")
        if client.has_capability("UIDPLUS"):
            expunge = await self._command(client.uid("EXPUNGE", str(uid)), "UID EXPUNGE")
        else:
            expunge = await self._command(client.expunge(), "EXPUNGE")
        self._expect_ok(expunge, "EXPUNGE")

    async def _open(self) -> None:
        account = self._account
        self._lost = asyncio.get_running_loop().create_future()
        self._client = aioimaplib.IMAP4(
            host=account.host,
            port=account.port,
            timeout=account.timeout_seconds,
            conn_lost_cb=self._on_connection_lost,
            ssl_context=self._tls_context() if account.tls == "ssl" else None,
        )
        await self._call(self._client.wait_hello_from_server(), "connect")
        self._normalise_capabilities()
        if account.tls == "starttls":
            await self._starttls()
        await self._login()
        await self._select()

    def _tls_context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    async def _starttls(self) -> None:
        client = self._client
        if not client.has_capability("STARTTLS"):
            raise self._error(MailboxError, "the server does not offer STARTTLS")
        protocol = client.protocol
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        self._expect_ok(await self._command(protocol.execute(command), "STARTTLS"), "STARTTLS")
        if protocol.incomplete_line:
            raise self._error(MailboxError, "the server sent data before the TLS handshake")
        upgrade = asyncio.get_running_loop().start_tls(
            protocol.transport,
            protocol,
            self._tls_context(),
            server_hostname=self._account.host,
            ssl_handshake_timeout=self._account.timeout_seconds,
        )
        protocol.transport = await self._call(upgrade, "TLS handshake")
        await self._call(protocol.capability(), "CAPABILITY")
        self._normalise_capabilities()

    async def _login(self) -> None:
        account = self._account
        if self._client.has_capability("LOGINDISABLED"):
            raise self._error(MailboxError, "the server refuses LOGIN on this connection (no TLS)")
        reply = await self._command(
            self._client.login(aioimaplib.quoted(account.username), account.password), "LOGIN"
        )
        if not reply.ok:
            codes = reply.codes().keys()
            refused = not codes or bool(codes & _REFUSED_LOGIN_CODES)
            kind = MailboxLoginRefused if refused else MailboxError
            server_said = reply.text.decode(errors="replace")
            raise self._error(kind, f"LOGIN as {account.username!r} refused: {server_said}")
        capabilities = reply.capabilities()
        if capabilities is not None:
            self._client.protocol.capabilities = capabilities
        else:
            await self._call(self._client.protocol.capability(), "CAPABILITY")
        self._normalise_capabilities()
        security = "TLS" if self.encrypted else "no TLS"
        logger.info("%s: logged in as %r (%s)", self._where, account.username, security)

    async def _select(self) -> None:
        reply = await self._command(
            self._client.select(_mailbox_argument(self._account.folder)), "SELECT"
        )
        self._expect_ok(reply, "SELECT")
        validity = reply.codes().get("UIDVALIDITY", b"")
        if not validity.isdigit():
            raise self._error(MailboxError, "SELECT returned no UIDVALIDITY")
        self.uid_validity = int(validity)

    async def _sizes(self, uids: list[int]) -> dict[int, int]:
        what = "UID FETCH (RFC822.SIZE)"
        reply = await self._command(
            self._open_client().uid("FETCH", uid_set(uids), "(RFC822.SIZE)"), what
        )
        self._expect_ok(reply, what)
        wanted = set(uids)
        sizes: dict[int, int] = {}
        for text, _ in reply.fetched():
            uid, size = _uid_of(text), _FETCH_SIZE.search(text)
            if uid in wanted and size is not None:
                sizes[uid] = int(size[1])
        return sizes

    async def _into_processed(self, verb: Literal["MOVE", "COPY"], uid: int) -> None:
        target = _mailbox_argument(self._account.processed_folder)
        what = f"UID {verb} {uid} to {self._account.processed_folder!r}"
        client = self._open_client()
        reply = await self._command(client.uid(verb, str(uid), target), what)
        if not reply.ok and "TRYCREATE" in reply.codes():
            await self._create_processed_folder(target)
            reply = await self._command(client.uid(verb, str(uid), target), what)
        self._expect_ok(reply, what)

    async def _create_processed_folder(self, target: str) -> None:
        name = self._account.processed_folder
        reply = await self._command(self._client.create(target), f"CREATE {name!r}")
        if not reply.ok and "ALREADYEXISTS" not in reply.codes():
            self._expect_ok(reply, f"CREATE {name!r}")
        subscribed = await self._command(self._client.subscribe(target), f"SUBSCRIBE {name!r}")
        if not subscribed.ok:
            logger.warning("%s: could not subscribe to %r", self._where, name)
        logger.info("%s: created folder %r", self._where, name)

    async def _command(self, operation: Awaitable[Any], what: str) -> _Reply:
        """Run one IMAP command and return the server's reply (any of OK, NO and BAD)."""
        result = await self._call(operation, what)
        reply = _Reply(result=str(result.result), lines=list(result.lines))
        logger.debug("%s: %s -> %s", self._where, what, reply.result)
        return reply

    async def _call(self, operation: Awaitable[Any], what: str) -> Any:
        """Await one aioimaplib operation within the timeout, failing fast if the line drops."""
        if self._broken or self._lost is None:
            if asyncio.iscoroutine(operation):
                operation.close()
            raise self._error(MailboxError, f"{what}: the connection is no longer usable")
        task = asyncio.ensure_future(operation)
        timeout = self._account.timeout_seconds
        try:
            done, _ = await asyncio.wait(
                {task, self._lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            task.cancel()
            self._broken = True
            raise
        if task not in done:
            task.cancel()
            self._broken = True
            if self._lost in done:
                raise self._error(MailboxError, f"the server closed the connection during {what}")
            raise self._error(MailboxError, f"{what} timed out after {timeout:g}s")
        try:
            result = task.result()
        except (TimeoutError, aioimaplib.CommandTimeout) as error:
            self._broken = True
            raise self._error(MailboxError, f"{what} timed out after {timeout:g}s") from error
        except (aioimaplib.AioImapException, OSError, ValueError) as error:
            self._broken = True
            detail = str(error) or type(error).__name__
            raise self._error(MailboxError, f"{what} failed: {detail}") from error
        return result

    def _expect_ok(self, reply: _Reply, what: str) -> None:
        if not reply.ok:
            said = reply.text.decode(errors="replace")
            raise self._error(MailboxError, f"{what} failed: {reply.result} {said}")

    def _error(self, kind: type[MailboxError], message: str) -> MailboxError:
        text = f"{self._where}: {message}"
        if self._account.password:
            text = text.replace(self._account.password, "***")
        return kind(text)

    def _on_connection_lost(self, error: Exception | None) -> None:
        logger.debug("%s: connection lost: %r", self._where, error)
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    def _normalise_capabilities(self) -> None:
        protocol = self._client.protocol
        protocol.capabilities = {str(name).upper() for name in protocol.capabilities}

    def _connection_lost(self) -> bool:
        return self._lost is not None and self._lost.done()

    def _close_transport(self) -> None:
        self._broken = True
        transport = getattr(getattr(self._client, "protocol", None), "transport", None)
        if transport is not None and not transport.is_closing():
            transport.close()
        task = getattr(self._client, "_client_task", None)
        if task is not None and not task.done():
            task.cancel()


def _uid_of(fetch_text: bytes) -> int | None:
    found = _FETCH_UID.search(fetch_text)
    return int(found[1]) if found else None
