"""Child processes of the local stack: each in its own process group, its output relayed by line."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby

logger = logging.getLogger("starter.dev")
output_logger = logging.getLogger("starter.dev.output")

OutputSink = Callable[[str, str], None]
_READ_CHUNK = 64 * 1024


def log_child_line(name: str, line: str) -> None:
    """Relays one line a child printed, tagged with the child's name."""
    output_logger.info("%s", line, extra={"source": name})


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to stop the child if the supervisor itself is killed (no orphaned servers)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class ChildExit:
    """A child that ended while nobody asked it to."""

    name: str
    returncode: int


@dataclass
class Child:
    """One running child: its name, its process (leader of its own group) and its helper tasks."""

    name: str
    process: asyncio.subprocess.Process
    shutdown_order: int
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        """The child's pid, which is also its process group id."""
        return self.process.pid


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Sends the signal to every process of the group; False when the group is gone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class ProcessRunner:
    """Starts named children in their own process groups, relays their output and stops them."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        grace_seconds: float = 10.0,
        on_line: OutputSink = log_child_line,
    ) -> None:
        self._env = dict(os.environ if env is None else env)
        self._grace = grace_seconds
        self._on_line = on_line
        self._children: list[Child] = []
        self._exits: asyncio.Queue[ChildExit] = asyncio.Queue()
        self._stopping = False

    @property
    def children(self) -> tuple[Child, ...]:
        """The children started so far, in start order."""
        return tuple(self._children)

    async def start(self, name: str, command: Sequence[str], *, shutdown_order: int = 0) -> Child:
        """Starts a child; children with a higher `shutdown_order` are stopped after the others."""
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self._env,
            process_group=0,
            preexec_fn=_die_with_parent,
        )
        child = Child(name=name, process=process, shutdown_order=shutdown_order)
        relay = asyncio.create_task(self._relay(child), name=f"relay {name}")
        child.tasks += [relay, asyncio.create_task(self._watch(child, relay), name=f"watch {name}")]
        self._children.append(child)
        logger.debug("started %s (pid %s): %s", name, process.pid, " ".join(command))
        return child

    async def next_unexpected_exit(self) -> ChildExit:
        """Waits until a child ends while the runner is not stopping, and says which."""
        return await self._exits.get()

    async def stop_all(self) -> None:
        """Stops every child: interrupt, then terminate, then kill after the grace period."""
        self._stopping = True
        running = sorted(self._children, key=lambda child: child.shutdown_order)
        for _, batch in groupby(running, key=lambda child: child.shutdown_order):
            await asyncio.gather(*(self._stop(child) for child in batch))
        for child in self._children:
            for task in child.tasks:
                task.cancel()
            await asyncio.gather(*child.tasks, return_exceptions=True)

    def kill_all(self) -> None:
        """Kills every child's process group at once, without waiting."""
        self._stopping = True
        for child in self._children:
            signal_group(child.pid, signal.SIGKILL)

    async def _stop(self, child: Child) -> None:
        process = child.process
        steps = ((signal.SIGINT, self._grace * 2 / 3), (signal.SIGTERM, self._grace / 3))
        for sig, seconds in steps:
            if process.returncode is not None:
                break
            signal_group(child.pid, sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), seconds)
        if process.returncode is None:
            logger.warning("%s did not stop within %.0f s: killing it", child.name, self._grace)
            signal_group(child.pid, signal.SIGKILL)
            await process.wait()
        signal_group(child.pid, signal.SIGKILL)
        await self._drain(child)
        logger.info("stopped %s (exit code %s)", child.name, process.returncode)

    async def _drain(self, child: Child) -> None:
        relay = child.tasks[0]
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(relay), 2.0)

    async def _relay(self, child: Child) -> None:
        stream = child.process.stdout
        if stream is None:
            return
        while True:
            try:
                raw = await stream.readline()
            except ValueError:
                raw = await stream.read(_READ_CHUNK)
            if not raw:
                return
            self._on_line(child.name, raw.decode(errors="replace").rstrip("\r\n"))

    async def _watch(self, child: Child, relay: asyncio.Task[None]) -> None:
        returncode = await child.process.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(relay), 1.0)
        if not self._stopping:
            self._exits.put_nowait(ChildExit(child.name, returncode))
