"""The IMAP mailbox against a real Dovecot: listing, fetching untouched, filing, TLS, failures."""

from __future__ import annotations

import asyncio
import random
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from activities.mail_intake.imap_mailbox import (
    SIZE_BATCH,
    ImapAccount,
    ImapMailbox,
    MailboxError,
    MailboxLoginRefused,
    MessageSummary,
    decode_folder_name,
    encode_folder_name,
    uid_set,
)
from tests.harness.dovecot import DovecotServer, ImapUser
from tests.harness.ports import free_port

SEEN = "\\Seen"


def message(subject: str, body: bytes = b"Please find the invoice attached.") -> bytes:
    """A small RFC 5322 message with CRLF line ends, as a mail server stores it."""
    head = f"From: supplier@example.com\r\nTo: ap@baton.test\r\nSubject: {subject}\r\n"
    return head.encode() + b"MIME-Version: 1.0\r\n\r\n" + body + b"\r\n"


def awkward_body(size: int, seed: int) -> bytes:
    """8-bit bytes in CRLF lines, with text that looks like IMAP.

    No NUL or bare line breaks: Dovecot stores NUL as 0x80 and a bare LF as CRLF.
    """
    rng = random.Random(seed)
    traps = [b"A001 OK done", b"* 1 FETCH (BODY[] {12}", b")))((", b"{0}", b"+ go ahead"]
    lines: list[bytes] = []
    total = 0
    while total < size:
        if rng.random() < 0.1:
            line = rng.choice(traps)
        else:
            line = rng.randbytes(rng.randint(0, 120))
            line = line.replace(b"\r", b"r").replace(b"\n", b"n").replace(b"\0", b"0")
        lines.append(line)
        total += len(line) + 2
    return b"\r\n".join(lines)


@pytest.fixture
def account(dovecot: DovecotServer, imap_user: ImapUser) -> Callable[..., ImapAccount]:
    """Builds the test user's account on the plain port; keywords override fields."""

    def build(**overrides: Any) -> ImapAccount:
        fields: dict[str, Any] = {
            "host": dovecot.host,
            "port": dovecot.port,
            "tls": "none",
            "username": imap_user.name,
            "password": imap_user.password,
            "timeout_seconds": 10.0,
        }
        return ImapAccount(**(fields | overrides))

    return build


@pytest.fixture
def trusting_context(dovecot: DovecotServer) -> ssl.SSLContext:
    """A client TLS context that trusts the test server's self-signed certificate."""
    return ssl.create_default_context(cafile=str(dovecot.ca_file))


@pytest.fixture
async def inbox(account: Callable[..., ImapAccount]) -> AsyncIterator[ImapMailbox]:
    """An open session on the test user's INBOX."""
    async with ImapMailbox(account()) as mailbox:
        yield mailbox


def test_folder_names_use_modified_utf7() -> None:
    assert encode_folder_name("Traités") == "Trait&AOk-s"
    assert encode_folder_name("R&D") == "R&-D"
    assert encode_folder_name("日本語 Rechnungen") == "&ZeVnLIqe- Rechnungen"
    for name in ("Traités", "R&D", "日本語 Rechnungen", "Ünterordner &ü", "INBOX"):
        assert decode_folder_name(encode_folder_name(name)) == name


def test_uid_sets_are_compact() -> None:
    assert uid_set([9, 3, 4, 5, 3, 11, 12]) == "3:5,9,11:12"
    assert uid_set([7]) == "7"


async def test_unseen_lists_unread_messages_oldest_first_with_sizes(
    dovecot: DovecotServer, imap_user: ImapUser, account: Callable[..., ImapAccount]
) -> None:
    user, password = imap_user.name, imap_user.password
    first, second, third = message("one"), message("two", b"x" * 5000), message("three")
    dovecot.append(user, password, "INBOX", first)
    dovecot.append(user, password, "INBOX", message("already read"), seen=True)
    dovecot.append(user, password, "INBOX", second)
    dovecot.append(user, password, "INBOX", third)

    async with ImapMailbox(account()) as mailbox:
        listed = await mailbox.unseen()
        assert listed == [
            MessageSummary(uid=1, size=len(first)),
            MessageSummary(uid=3, size=len(second)),
            MessageSummary(uid=4, size=len(third)),
        ]
        assert await mailbox.unseen(limit=2) == listed[:2]
        assert await mailbox.unseen(limit=0) == []
        assert mailbox.uid_validity > 0


async def test_an_empty_folder_lists_nothing(inbox: ImapMailbox) -> None:
    assert await inbox.unseen() == []


async def test_unseen_lists_more_messages_than_one_fetch_batch(
    dovecot: DovecotServer, imap_user: ImapUser, inbox: ImapMailbox
) -> None:
    count = 4 * SIZE_BATCH + 7
    raws = [message(f"bulk {number}") for number in range(count)]
    dovecot.append_many(imap_user.name, imap_user.password, "INBOX", raws)

    listed = await inbox.unseen()

    assert [item.uid for item in listed] == list(range(1, count + 1))
    assert [item.size for item in listed] == [len(raw) for raw in raws]
    assert [item.uid for item in await inbox.unseen(limit=3)] == [1, 2, 3]


async def test_messages_arriving_during_a_session_are_listed_and_fetched(
    dovecot: DovecotServer, imap_user: ImapUser, inbox: ImapMailbox
) -> None:
    assert await inbox.unseen() == []
    raw = message("arrived later")
    dovecot.append(imap_user.name, imap_user.password, "INBOX", raw)

    assert await inbox.unseen() == [MessageSummary(uid=1, size=len(raw))]
    dovecot.append(imap_user.name, imap_user.password, "INBOX", raw)
    assert await inbox.fetch(2) == raw
    dovecot.append(imap_user.name, imap_user.password, "INBOX", raw)
    assert await inbox.file(3) is True


async def test_fetch_returns_the_exact_bytes_and_leaves_the_message_unread(
    dovecot: DovecotServer, imap_user: ImapUser, inbox: ImapMailbox
) -> None:
    user, password = imap_user.name, imap_user.password
    raw = message("Rechnung Nr. 7 - Grüße", awkward_body(20_000, seed=7))
    dovecot.append(user, password, "INBOX", raw)
    (uid,) = dovecot.uids(user, password, "INBOX")

    assert await inbox.fetch(uid) == raw
    assert await inbox.fetch(uid) == raw

    assert SEEN not in dovecot.flags(user, password, "INBOX", uid)
    assert dovecot.uids(user, password, "INBOX", unseen_only=True) == [uid]
    assert [item.uid for item in await inbox.unseen()] == [uid]


async def test_fetch_of_a_missing_uid_is_none(inbox: ImapMailbox) -> None:
    assert await inbox.fetch(4242) is None


async def test_many_fetches_in_a_row_on_one_connection_are_exact(
    dovecot: DovecotServer, imap_user: ImapUser, inbox: ImapMailbox
) -> None:
    sizes = [0, 1, 2, 63, 64 * 1024 - 3, 64 * 1024, 64 * 1024 + 5, 256 * 1024 + 1, 700_000]
    sizes += [random.Random(size).randint(10, 40_000) for size in range(30)]
    raws = [
        message(f"m{index}", awkward_body(size, seed=index)) for index, size in enumerate(sizes)
    ]
    dovecot.append_many(imap_user.name, imap_user.password, "INBOX", raws)

    listed = await inbox.unseen()
    assert [item.size for item in listed] == [len(raw) for raw in raws]
    for item, raw in zip(listed, raws, strict=True):
        assert await inbox.fetch(item.uid) == raw
    assert await inbox.fetch(listed[3].uid) == raws[3]


async def test_a_five_megabyte_message_round_trips(
    dovecot: DovecotServer, imap_user: ImapUser, inbox: ImapMailbox
) -> None:
    attachment = secrets.token_bytes(3_800_000)
    body = b"\r\n".join(
        attachment[start : start + 57].hex().encode() for start in range(0, len(attachment), 57)
    )
    raw = message("big scan", body[: 5 * 1024 * 1024])
    dovecot.append(imap_user.name, imap_user.password, "INBOX", raw)

    (summary,) = await inbox.unseen()
    assert summary.size == len(raw) > 5_000_000
    assert await inbox.fetch(summary.uid) == raw
    assert await inbox.fetch(summary.uid) == raw


async def test_file_marks_read_and_moves_into_a_processed_folder_made_on_demand(
    dovecot: DovecotServer, imap_user: ImapUser, inbox: ImapMailbox
) -> None:
    user, password = imap_user.name, imap_user.password
    kept, filed = message("stays"), message("filed")
    dovecot.append(user, password, "INBOX", filed)
    dovecot.append(user, password, "INBOX", kept)
    assert dovecot.folders(user, password) == ["INBOX"]

    assert await inbox.file(1) is True

    assert dovecot.folders(user, password) == ["INBOX", "Processed"]
    assert dovecot.uids(user, password, "INBOX") == [2]
    (moved,) = dovecot.uids(user, password, "Processed")
    assert SEEN in dovecot.flags(user, password, "Processed", moved)
    assert [item.uid for item in await inbox.unseen()] == [2]
    assert await inbox.fetch(1) is None

    assert await inbox.file(1) is False
    assert await inbox.file(999) is False
    assert dovecot.uids(user, password, "Processed") == [moved]

    assert await inbox.file(2) is True
    assert len(dovecot.uids(user, password, "Processed")) == 2


async def test_file_into_an_existing_folder_with_a_non_ascii_name(
    dovecot: DovecotServer, imap_user: ImapUser, account: Callable[..., ImapAccount]
) -> None:
    user, password = imap_user.name, imap_user.password
    done = "Erledigt & geprüft"
    dovecot.append(user, password, done, message("filed earlier"), seen=True)
    dovecot.append(user, password, "INBOX", message("to file"))

    async with ImapMailbox(account(processed_folder=done)) as mailbox:
        assert await mailbox.file(1) is True

    assert dovecot.folders(user, password) == [done, "INBOX"]
    assert len(dovecot.uids(user, password, done)) == 2
    assert dovecot.uids(user, password, "INBOX") == []


async def test_file_without_move_copies_flags_and_expunges(
    dovecot: DovecotServer, account: Callable[..., ImapAccount]
) -> None:
    user = ImapUser(name=f"plain{secrets.token_hex(4)}", password=secrets.token_urlsafe(10))
    dovecot.add_user(user.name, user.password, imap_capability="IMAP4rev1")
    dovecot.append(user.name, user.password, "INBOX", message("old server"))
    dovecot.append(user.name, user.password, "INBOX", message("stays"))

    async with ImapMailbox(account(username=user.name, password=user.password)) as mailbox:
        assert await mailbox.file(1) is True
        assert await mailbox.file(1) is False
        assert [item.uid for item in await mailbox.unseen()] == [2]

    (moved,) = dovecot.uids(user.name, user.password, "Processed")
    assert SEEN in dovecot.flags(user.name, user.password, "Processed", moved)
    assert dovecot.uids(user.name, user.password, "INBOX") == [2]


async def test_a_failed_move_leaves_the_message_unread_in_place(
    dovecot: DovecotServer, imap_user: ImapUser, account: Callable[..., ImapAccount]
) -> None:
    user, password = imap_user.name, imap_user.password
    dovecot.append(user, password, "INBOX", message("must not get lost"))

    async with ImapMailbox(account(processed_folder="Bad/Name")) as mailbox:
        with pytest.raises(MailboxError, match="Bad/Name"):
            await mailbox.file(1)
        assert [item.uid for item in await mailbox.unseen()] == [1]

    assert SEEN not in dovecot.flags(user, password, "INBOX", 1)


async def test_a_wrong_password_is_refused_without_revealing_it(
    imap_user: ImapUser, account: Callable[..., ImapAccount]
) -> None:
    wrong = "Not-The-Password-" + secrets.token_hex(4)
    refused = account(password=wrong)
    with pytest.raises(MailboxLoginRefused) as caught:
        async with ImapMailbox(refused):
            pass
    text = str(caught.value)
    assert wrong not in text and wrong not in repr(refused)
    assert refused.host in text and "INBOX" in text and imap_user.name in text


async def test_a_missing_folder_is_a_mailbox_error_naming_it(
    account: Callable[..., ImapAccount],
) -> None:
    with pytest.raises(MailboxError, match="Rechnungseingang") as caught:
        async with ImapMailbox(account(folder="Rechnungseingang")):
            pass
    assert not isinstance(caught.value, MailboxLoginRefused)


async def test_implicit_tls_with_a_trusted_certificate(
    dovecot: DovecotServer,
    imap_user: ImapUser,
    account: Callable[..., ImapAccount],
    trusting_context: ssl.SSLContext,
) -> None:
    assert dovecot.tls_port is not None
    raw = message("over TLS", awkward_body(3000, seed=3))
    dovecot.append(imap_user.name, imap_user.password, "INBOX", raw)

    async with ImapMailbox(account(port=dovecot.tls_port, tls="ssl"), trusting_context) as box:
        assert box.encrypted
        (summary,) = await box.unseen()
        assert await box.fetch(summary.uid) == raw
        assert await box.file(summary.uid) is True


async def test_implicit_tls_refuses_an_untrusted_certificate(
    dovecot: DovecotServer, account: Callable[..., ImapAccount]
) -> None:
    assert dovecot.tls_port is not None
    with pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED") as caught:
        async with ImapMailbox(account(port=dovecot.tls_port, tls="ssl")):
            pass
    assert not isinstance(caught.value, MailboxLoginRefused)


async def test_starttls_upgrades_the_plain_port(
    dovecot: DovecotServer,
    imap_user: ImapUser,
    account: Callable[..., ImapAccount],
    trusting_context: ssl.SSLContext,
) -> None:
    raw = message("after STARTTLS")
    dovecot.append(imap_user.name, imap_user.password, "INBOX", raw)

    async with ImapMailbox(account(tls="starttls"), trusting_context) as mailbox:
        assert mailbox.encrypted
        (summary,) = await mailbox.unseen()
        assert await mailbox.fetch(summary.uid) == raw
        assert await mailbox.file(summary.uid) is True

    async with ImapMailbox(account()) as plain:
        assert not plain.encrypted


async def test_a_closed_port_fails_fast() -> None:
    closed = ImapAccount(host="127.0.0.1", port=free_port(), tls="none", username="u", password="p")
    started = time.monotonic()
    with pytest.raises(MailboxError, match=f"127.0.0.1:{closed.port}"):
        async with ImapMailbox(closed):
            pass
    assert time.monotonic() - started < 2


async def test_a_server_that_never_greets_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    mute = ImapAccount(
        host="127.0.0.1", port=port, tls="none", username="u", password="p", timeout_seconds=0.3
    )
    try:
        started = time.monotonic()
        with pytest.raises(MailboxError, match="timed out"):
            async with ImapMailbox(mute):
                pass
        assert time.monotonic() - started < 2
    finally:
        server.close()
        await server.wait_closed()


async def test_a_dropped_connection_fails_the_next_command_at_once(
    dovecot: DovecotServer, imap_user: ImapUser, account: Callable[..., ImapAccount]
) -> None:
    dovecot.append(imap_user.name, imap_user.password, "INBOX", message("still here"))
    async with ImapMailbox(account(timeout_seconds=20.0)) as mailbox:
        assert len(await mailbox.unseen()) == 1
        dovecot.kick(imap_user.name)
        started = time.monotonic()
        with pytest.raises(MailboxError, match="closed the connection"):
            for _ in range(50):
                await mailbox.unseen()
                await asyncio.sleep(0.02)
        assert time.monotonic() - started < 5
        with pytest.raises(MailboxError, match="no longer usable"):
            await mailbox.fetch(1)
