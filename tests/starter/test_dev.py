"""`make dev` without starting everything: port checks, the process runner, the children's env."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from starter.dev import DevLogFormatter
from starter.dev_ports import PortInUse, check_ports_free, service_ports
from starter.dev_processes import ProcessRunner
from starter.dev_stack import StackPlan, check_ports
from tests.harness.ports import free_port


@pytest.fixture(autouse=True)
def _no_baton_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings under test come from the test alone, not from the caller's environment."""
    for name in list(os.environ):
        if name.startswith("BATON_"):
            monkeypatch.delenv(name)


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A port on 127.0.0.1 held by a program that is not part of the stack."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder


def _settings(**dev: object) -> Settings:
    ports = {
        "temporal_port": free_port(),
        "temporal_ui_port": free_port(),
        "mail_catcher_port": free_port(),
    }
    return Settings(
        _env_file=None,
        dev={**ports, **dev},
        api={"port": free_port()},
        mail={"smtp_port": free_port()},
    )


def _port(holder: socket.socket) -> int:
    return int(holder.getsockname()[1])


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in {"Z", "X"}


async def test_a_taken_api_port_names_the_port_and_its_setting(listening) -> None:
    settings = _settings()
    settings.api.port = _port(listening)
    ports = service_ports(settings, with_temporal_ui=True, with_mail=True)

    with pytest.raises(PortInUse) as raised:
        check_ports_free(ports)

    message = str(raised.value)
    assert f"port {_port(listening)} for the API" in message
    assert "BATON_API__PORT" in message


async def test_two_servers_on_one_port_are_refused() -> None:
    settings = _settings()
    settings.dev.mail_catcher_port = settings.api.port

    with pytest.raises(PortInUse, match="BATON_DEV__MAIL_CATCHER_PORT, BATON_API__PORT"):
        check_ports_free(service_ports(settings, with_temporal_ui=True, with_mail=True))


async def test_a_temporal_port_held_by_something_else_is_refused(listening) -> None:
    plan = StackPlan.from_settings(_settings(temporal_port=_port(listening)))

    with pytest.raises(PortInUse) as raised:
        await check_ports(plan)

    assert "not a Temporal server" in str(raised.value)
    assert "BATON_DEV__TEMPORAL_PORT" in str(raised.value)


async def test_a_running_temporal_server_is_reused(temporal_env: WorkflowEnvironment) -> None:
    target = temporal_env.client.service_client.config.target_host
    port = int(target.rsplit(":", 1)[1])
    plan = StackPlan.from_settings(_settings(temporal_port=port))

    assert await check_ports(plan) is True


async def test_free_ports_pass() -> None:
    assert await check_ports(StackPlan.from_settings(_settings())) is False


def test_children_get_the_environment_and_the_stack_temporal_address() -> None:
    settings = _settings(temporal_port=7301)
    plan = StackPlan.from_settings(settings)

    env = plan.child_env({"BATON_LOG_LEVEL": "DEBUG", "PATH": "/bin"})

    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["BATON_LOG_LEVEL"] == "DEBUG"
    assert env["PATH"] == "/bin"
    assert env["BATON_TEMPORAL__ADDRESS"] == "localhost:7301"
    assert plan.stack_settings.temporal.address == "localhost:7301"


def test_default_settings_need_no_overrides() -> None:
    plan = StackPlan.from_settings(Settings(_env_file=None))

    assert plan.env_overrides == {
        "PYTHONUNBUFFERED": "1",
        "BATON_DATABASE__MIGRATE_ON_START": "false",
    }
    assert plan.api_url == "http://localhost:8000"


def test_children_lines_are_prefixed_with_their_name() -> None:
    record = logging.LogRecord("starter.dev.output", logging.INFO, __file__, 1, "%s", ("hi",), None)
    record.source = "worker:io"
    own = logging.LogRecord("starter.dev", logging.ERROR, __file__, 1, "boom", None, None)

    assert DevLogFormatter().format(record).endswith(" [worker:io] hi")
    assert DevLogFormatter().format(own).endswith(" [dev] ERROR boom")


SPAWNS_A_GRANDCHILD = """
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
sys.stdout.write(f"grandchild {grandchild.pid}\\n")
sys.stdout.flush()
time.sleep(60)
"""

IGNORES_POLITE_SIGNALS = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sys.stdout.write("ready\\n")
sys.stdout.flush()
time.sleep(60)
"""


async def _wait_for_line(lines: list[tuple[str, str]], prefix: str) -> str:
    for _ in range(200):
        for _, line in lines:
            if line.startswith(prefix):
                return line
        await asyncio.sleep(0.05)
    raise AssertionError(f"no line starting with {prefix!r} in {lines}")


async def test_stopping_ends_the_whole_process_group() -> None:
    lines: list[tuple[str, str]] = []
    runner = ProcessRunner(grace_seconds=5, on_line=lambda name, line: lines.append((name, line)))
    child = await runner.start("sleeper", [sys.executable, "-c", SPAWNS_A_GRANDCHILD])
    grandchild = int((await _wait_for_line(lines, "grandchild")).split()[1])
    assert os.getpgid(grandchild) == child.pid
    assert os.getpgid(child.pid) != os.getpgid(0)

    await runner.stop_all()

    assert child.process.returncode == -signal.SIGINT
    for _ in range(50):
        if not _alive(grandchild):
            break
        await asyncio.sleep(0.05)
    assert not _alive(child.pid)
    assert not _alive(grandchild)
    assert ("sleeper", f"grandchild {grandchild}") in lines


async def test_a_child_that_ignores_interrupts_is_killed_after_the_grace_period() -> None:
    lines: list[tuple[str, str]] = []
    runner = ProcessRunner(grace_seconds=1.0, on_line=lambda name, line: lines.append((name, line)))
    child = await runner.start("stubborn", [sys.executable, "-c", IGNORES_POLITE_SIGNALS])
    await _wait_for_line(lines, "ready")

    started = time.monotonic()
    await runner.stop_all()

    assert child.process.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5
    assert not _alive(child.pid)


async def test_a_child_that_dies_is_reported_with_its_exit_code() -> None:
    runner = ProcessRunner(grace_seconds=1.0, on_line=lambda name, line: None)
    await runner.start("steady", [sys.executable, "-c", "import time; time.sleep(60)"])
    await runner.start("fragile", [sys.executable, "-c", "raise SystemExit(3)"])

    exited = await asyncio.wait_for(runner.next_unexpected_exit(), 10)
    await runner.stop_all()

    assert (exited.name, exited.returncode) == ("fragile", 3)
    assert all(child.process.returncode is not None for child in runner.children)
