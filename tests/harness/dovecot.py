"""A throwaway Dovecot IMAP server on loopback for the test session.

The server runs unprivileged: every Dovecot service runs as one account (the current user, or
the `dovecot` system account when the tests run as root), each user lives in a passwd-file of
its own with a plain password, and mail is stored as maildirs under a temporary folder. The
plain port offers STARTTLS and a second port speaks implicit TLS, both with a self-signed
certificate for 127.0.0.1 whose PEM file is `DovecotServer.ca_file`.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from activities.mail_intake.imap_mailbox import decode_folder_name, encode_folder_name
from tests.harness.ports import free_port

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
_START_ATTEMPTS = 3
_START_TIMEOUT_SECONDS = 20.0
_STOP_TIMEOUT_SECONDS = 10.0
_CLIENT_TIMEOUT_SECONDS = 10.0
_ROOT_RUNS_AS = ("dovecot", "nobody")
_SHARED_MEMORY = "/dev/shm"
_SHARED_MEMORY_NEEDED = 512 * 1024 * 1024
_UID = re.compile(rb"UID (\d+)")
_LIST_LINE = re.compile(r'^\([^)]*\) (?:NIL|"(?:[^"\\]|\\.)*") (?P<name>.+)$')

_CONFIG = """\
base_dir = {work}/run
state_dir = {work}/state
instance_name = baton-test-{port}
log_path = {work}/dovecot.log
protocols = imap
listen = {host}
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
ssl = yes
ssl_cert = <{work}/cert.pem
ssl_key = <{work}/key.pem
# Dovecot 2.3 spelling; 2.4 calls it auth_allow_cleartext = yes.
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{work}/mail/%u
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {work}/users/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {work}/users/%u
  default_fields = uid={user} gid={group} home={work}/home/%u
}}
# Reused login and imap processes: a login takes a millisecond instead of tens.
service imap {{
  service_count = 0
  process_min_avail = 1
  process_limit = 100
}}
# An unprivileged server cannot chroot. A closed anvil-auth-penalty socket turns off the
# growing delay after repeated failed logins from one IP.
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service aggregator {{
  chroot =
}}
service imap-login {{
  chroot =
  service_count = 0
  process_min_avail = 1
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
    ssl = yes
  }}
}}
"""


@dataclass(frozen=True)
class ImapUser:
    """A mailbox account on the session's Dovecot server."""

    name: str
    password: str


def dovecot_binary() -> Path:
    """The `dovecot` master program (on PATH, else /usr/sbin)."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if found:
        return Path(found)
    pytest.fail(
        "Dovecot's `dovecot` program was not found on PATH or in /usr/sbin; install it "
        "(Debian: apt-get install dovecot-imapd) to run the IMAP tests",
        pytrace=False,
    )


def _run_as() -> pwd.struct_passwd:
    """The account Dovecot's services run as: never root, which Dovecot refuses."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    for name in _ROOT_RUNS_AS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    pytest.fail("running as root and neither a 'dovecot' nor a 'nobody' account exists")


def _fast_temp_root() -> str | None:
    """/dev/shm when it has room: maildir writes on a disk cost milliseconds per message."""
    try:
        roomy = shutil.disk_usage(_SHARED_MEMORY).free >= _SHARED_MEMORY_NEEDED
    except OSError:
        return None
    return _SHARED_MEMORY if roomy and os.access(_SHARED_MEMORY, os.W_OK) else None


def _make_certificate(work_dir: Path) -> None:
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        f"subjectAltName=DNS:localhost,IP:{HOST}",
        "-keyout",
        str(work_dir / "key.pem"),
        "-out",
        str(work_dir / "cert.pem"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"openssl could not make the test certificate:\n{result.stderr}", pytrace=False)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as probe:
            return probe.recv(64).startswith(b"* OK")
    except OSError:
        return False


class DovecotServer:
    """A Dovecot master process with its config, users and maildirs in one temporary folder."""

    def __init__(self) -> None:
        self.host = HOST
        self.port = 0
        self.tls_port: int | None = None
        self.work_dir = Path(tempfile.mkdtemp(prefix="baton-dovecot-", dir=_fast_temp_root()))
        self.ca_file = self.work_dir / "cert.pem"
        self._account = _run_as()
        self._users = self.work_dir / "users"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Write the config, start Dovecot and return once the plain port greets."""
        started = time.monotonic()
        _make_certificate(self.work_dir)
        for folder in ("run", "state", "mail", "home", "users"):
            (self.work_dir / folder).mkdir()
        for _ in range(_START_ATTEMPTS):
            self.port, self.tls_port = free_port(), free_port()
            if self.port != self.tls_port and self._launch():
                logger.info(
                    "Dovecot on %s:%s (TLS %s) ready in %.1fs",
                    self.host,
                    self.port,
                    self.tls_port,
                    time.monotonic() - started,
                )
                return
        pytest.fail(f"Dovecot did not start:\n{self.log()}", pytrace=False)

    def _launch(self) -> bool:
        conf = self.work_dir / "dovecot.conf"
        group = grp.getgrgid(self._account.pw_gid).gr_name
        conf.write_text(
            _CONFIG.format(
                work=self.work_dir,
                host=self.host,
                port=self.port,
                tls_port=self.tls_port,
                user=self._account.pw_name,
                group=group,
            )
        )
        as_root = os.geteuid() == 0
        if as_root:
            for path in [self.work_dir, *self.work_dir.rglob("*")]:
                os.chown(path, self._account.pw_uid, self._account.pw_gid)
        with (self.work_dir / "master.out").open("ab") as output:
            self._process = subprocess.Popen(
                [str(dovecot_binary()), "-F", "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=self._account.pw_uid if as_root else None,
                group=self._account.pw_gid if as_root else None,
                extra_groups=[] if as_root else None,
            )
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if _answers(self.port):
                return True
            time.sleep(0.05)
        self.stop()
        return False

    def stop(self) -> None:
        """Kill Dovecot's process group and wait for the master to exit."""
        process, self._process = self._process, None
        if process is None:
            return
        # The server is thrown away, and a graceful stop takes Dovecot about a second.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        try:
            process.wait(timeout=_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning(
                "Dovecot (pid %s) did not exit in %ss", process.pid, _STOP_TIMEOUT_SECONDS
            )

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def log(self, lines: int = 60) -> str:
        """The last lines Dovecot logged, for failure messages."""
        text = ""
        for name in ("master.out", "dovecot.log"):
            path = self.work_dir / name
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def add_user(self, name: str, password: str, *, imap_capability: str | None = None) -> None:
        """Add an account, usable at once.

        Each user has a passwd-file of its own: Dovecot re-reads a changed passwd-file at most
        once a second, so users appended to a shared file could not log in right away.

        `imap_capability` replaces the capabilities the server announces to this user after
        login (one word, e.g. "IMAP4rev1"), to exercise clients on a server without extensions.
        """
        for value in (name, password, imap_capability or ""):
            if re.search(r"[:/\s]", value):
                raise ValueError(
                    "user names, passwords and capabilities take no ':', '/' or spaces"
                )
        extra = f"userdb_imap_capability={imap_capability}" if imap_capability else ""
        staged = self._users / f".{name}.new"
        staged.write_text(f"{name}:{{PLAIN}}{password}::::::{extra}\n")
        staged.chmod(0o600)
        if os.geteuid() == 0:
            os.chown(staged, self._account.pw_uid, self._account.pw_gid)
        staged.replace(self._users / name)

    def kick(self, user: str) -> None:
        """Disconnect every IMAP session of `user` at once (`doveadm kick`)."""
        doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        command = [doveadm, "-c", str(self.work_dir / "dovecot.conf"), "kick", user]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise AssertionError(f"doveadm kick {user} failed: {result.stderr}")

    @contextlib.contextmanager
    def _session(self, user: str, password: str) -> Iterator[imaplib.IMAP4]:
        client = imaplib.IMAP4(self.host, self.port, timeout=_CLIENT_TIMEOUT_SECONDS)
        try:
            client.login(user, password)
            yield client
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()

    def append(
        self, user: str, password: str, folder: str, raw: bytes, *, seen: bool = False
    ) -> None:
        """Store a message in `folder` (created if missing), unread unless `seen`."""
        self.append_many(user, password, folder, [raw], seen=seen)

    def append_many(
        self,
        user: str,
        password: str,
        folder: str,
        messages: Iterable[bytes],
        *,
        seen: bool = False,
    ) -> None:
        """Store messages in `folder` (created if missing) in order, in one MULTIAPPEND."""
        flags = b" (\\Seen)" if seen else b""
        command = [b"MA1 APPEND " + _quoted(folder).encode()]
        command += [flags + b" {%d+}\r\n" % len(raw) + raw for raw in messages]
        with self._session(user, password) as client:
            client.create(_quoted(folder))
            client.send(b"".join(command) + b"\r\n")
            while not (line := client.readline()).startswith(b"MA1 "):
                if not line:
                    raise AssertionError(f"the server hung up during APPEND to {folder!r}")
            if not line.startswith(b"MA1 OK"):
                raise AssertionError(f"APPEND to {folder!r} failed: {line!r}")

    def uids(
        self, user: str, password: str, folder: str, *, unseen_only: bool = False
    ) -> list[int]:
        """The UIDs in `folder` (only the unread ones if `unseen_only`), ascending."""
        with self._session(user, password) as client:
            self._examine(client, folder)
            _, data = client.uid("SEARCH", "UNSEEN" if unseen_only else "ALL")
            return sorted(int(uid) for uid in (data[0] or b"").split())

    def folders(self, user: str, password: str) -> list[str]:
        """The names of the user's folders, sorted."""
        with self._session(user, password) as client:
            _, data = client.list()
        names = [_folder_name(line) for line in data if isinstance(line, bytes)]
        return sorted(names)

    def flags(self, user: str, password: str, folder: str, uid: int) -> set[str]:
        """The flags of one message (e.g. {"\\Seen"}); AssertionError if it is not there."""
        with self._session(user, password) as client:
            self._examine(client, folder)
            _, data = client.uid("FETCH", str(uid), "(FLAGS)")
        for item in data:
            found = _UID.search(item) if isinstance(item, bytes) else None
            if found is not None and int(found[1]) == uid:
                return {flag.decode() for flag in imaplib.ParseFlags(item)}
        raise AssertionError(f"no message with UID {uid} in {folder!r}")

    @staticmethod
    def _examine(client: imaplib.IMAP4, folder: str) -> None:
        result, data = client.select(_quoted(folder), readonly=True)
        if result != "OK":
            raise AssertionError(f"cannot open {folder!r}: {data!r}")


def _quoted(folder: str) -> str:
    wire = encode_folder_name(folder)
    return '"' + wire.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _folder_name(list_line: bytes) -> str:
    found = _LIST_LINE.match(list_line.decode())
    if found is None:
        raise AssertionError(f"unexpected LIST response: {list_line!r}")
    name = found["name"]
    if name.startswith('"'):
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    return decode_folder_name(name)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot IMAP server (plain + STARTTLS, and implicit TLS) for the whole session."""
    server = DovecotServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def imap_user(dovecot: DovecotServer) -> ImapUser:
    """A fresh account with an empty mailbox on the session's Dovecot server."""
    user = ImapUser(name=f"user{secrets.token_hex(6)}", password=secrets.token_urlsafe(12))
    dovecot.add_user(user.name, user.password)
    return user
