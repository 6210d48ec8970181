"""A throwaway PostgreSQL cluster for the test session, and a fresh database per test."""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.harness.ports import free_port

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"
_START_ATTEMPTS = 3


@dataclass(frozen=True)
class PostgresServer:
    """A running cluster on 127.0.0.1 that trusts the `postgres` superuser."""

    host: str
    port: int
    user: str
    data_dir: Path

    def url(self, database: str) -> str:
        """The SQLAlchemy (asyncpg) URL of a database of this cluster."""
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{database}"

    async def connect_admin(self) -> asyncpg.Connection:
        """A connection to the cluster's `postgres` database."""
        return await asyncpg.connect(
            host=self.host, port=self.port, user=self.user, database="postgres"
        )


def _version(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name)) or (0,)


def postgres_bin_dir() -> Path:
    """The folder of PostgreSQL's server programs (newest Debian version, else PATH)."""
    candidates = [
        path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb") if path.is_file()
    ]
    if candidates:
        return max(candidates, key=_version)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    pytest.fail(
        "PostgreSQL's server programs (initdb, pg_ctl) were not found in /usr/lib/postgresql/*/bin "
        "or on PATH; install them (Debian: apt-get install postgresql) to run the database tests",
        pytrace=False,
    )


def _as_cluster_owner() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError:
        pytest.fail(
            "running as root, and PostgreSQL refuses root: create the 'postgres' user "
            "(Debian's postgresql package does) so the test cluster can run as it",
            pytrace=False,
        )
    return ["runuser", "-u", SUPERUSER, "--"]


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}):\n{result.stderr}", pytrace=False)


def _configure(data_dir: Path, socket_dir: Path, port: int) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{socket_dir}'",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
    }
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\n# throwaway test cluster\n")
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())


def _start(owner: list[str], bin_dir: Path, work_dir: Path) -> int:
    data_dir, log_file = work_dir / "data", work_dir / "postgres.log"
    for _ in range(_START_ATTEMPTS):
        port = free_port()
        _configure(data_dir, work_dir, port)
        command = [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file)]
        result = subprocess.run(
            [*owner, *command, "-w", "-t", "60", "start"], capture_output=True, check=False
        )
        if result.returncode == 0:
            return port
        log = log_file.read_text(errors="replace") if log_file.exists() else ""
        if "already in use" not in log:
            pytest.fail(f"PostgreSQL did not start:\n{log[-4000:]}", pytrace=False)
    pytest.fail("PostgreSQL found no free port to listen on", pytrace=False)


def _wait_ready(bin_dir: Path, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    command = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
    while subprocess.run(command, check=False).returncode != 0:
        if time.monotonic() > deadline:
            pytest.fail(f"PostgreSQL on port {port} did not accept connections", pytrace=False)
        time.sleep(0.05)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster on 127.0.0.1 (trust auth, fsync off), removed after the session."""
    started = time.monotonic()
    bin_dir = postgres_bin_dir()
    owner = _as_cluster_owner()
    work_dir = Path(tempfile.mkdtemp(prefix="baton-pg-"))
    if owner:
        account = pwd.getpwnam(SUPERUSER)
        os.chown(work_dir, account.pw_uid, account.pw_gid)
    data_dir = work_dir / "data"
    try:
        _run(
            [
                *owner,
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            "initdb",
        )
        port = _start(owner, bin_dir, work_dir)
        _wait_ready(bin_dir, port)
        logger.info(
            "PostgreSQL %s on 127.0.0.1:%s ready in %.1fs",
            bin_dir.parent.name,
            port,
            time.monotonic() - started,
        )
        yield PostgresServer(host="127.0.0.1", port=port, user=SUPERUSER, data_dir=data_dir)
    finally:
        if (data_dir / "postmaster.pid").exists():
            stop = [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"]
            subprocess.run([*owner, *stop], capture_output=True, check=False)
        shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """The URL of a new, empty database of the session's cluster, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await postgres_server.connect_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield postgres_server.url(name)
    admin = await postgres_server.connect_admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
