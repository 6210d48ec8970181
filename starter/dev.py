"""`make dev`: the whole product on one machine, in the foreground; Ctrl-C stops all of it.

Temporal (dev server, runs kept in data/temporal/temporal.db), the database migrations and demo
data, the mail catcher, one worker per task queue group and the API. Every child runs in its own
process group with its output prefixed by its name; if one dies, everything stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from config.settings import Settings, get_settings
from starter.demo_data import DEMO_PASSWORD, demo_login_lines
from starter.dev_ports import PortInUse
from starter.dev_processes import Child, ProcessRunner
from starter.dev_stack import StackPlan, StartupFailed, bring_up

logger = logging.getLogger("starter.dev")

GRACE_SECONDS = 10.0
_QUIET_LOGGERS = ("alembic", "httpx", "httpcore", "asyncio")


class DevLogFormatter(logging.Formatter):
    """`HH:MM:SS [source] message`: the source is a child's name, or `dev` for this process."""

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        """One short line; warnings and errors say their level."""
        source = getattr(record, "source", "dev")
        level = f"{record.levelname} " if record.levelno >= logging.WARNING else ""
        line = f"{self.formatTime(record, self.datefmt)} [{source}] {level}{record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "INFO") -> None:
    """Progress lines and children's output on stdout, one short line each."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(DevLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def announce(plan: StackPlan) -> None:
    """The addresses people open, and the demo logins."""
    settings = plan.settings
    lines = [
        "Baton is running. Press Ctrl-C to stop everything.",
        f"  Temporal Web UI   {plan.temporal_ui_url}",
        f"  API docs          {plan.api_url}/docs",
    ]
    if plan.with_mail_catcher:
        lines.append(f"  Mail inbox        {plan.mail_inbox_url}")
    lines.append(
        f"  Temporal server   {plan.temporal_address} (namespace {settings.temporal.namespace})"
    )
    if settings.dev.load_demo_data:
        lines.append(f'Demo logins (every one with password "{DEMO_PASSWORD}"):')
        lines += [f"  {line}" for line in demo_login_lines()]
    for line in lines:
        logger.info("%s", line)


def _in_stop_order(runner: ProcessRunner) -> list[Child]:
    return sorted(runner.children, key=lambda child: child.shutdown_order)


async def _first(*tasks: asyncio.Task[Any]) -> set[asyncio.Task[Any]]:
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    return done


async def run_stack(settings: Settings) -> int:
    """Runs the stack until a signal (exit code 0) or a failure (non-zero)."""
    plan = StackPlan.from_settings(settings)
    runner = ProcessRunner(plan.child_env(), grace_seconds=GRACE_SECONDS)
    stop_requested = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stop_requested.is_set():
            logger.warning("%s again: killing everything now", sig.name)
            runner.kill_all()
            return
        logger.info("%s received: stopping everything", sig.name)
        stop_requested.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    startup = asyncio.create_task(bring_up(plan, runner))
    stopping = asyncio.create_task(stop_requested.wait())
    death = asyncio.create_task(runner.next_unexpected_exit())
    exit_code = 0
    try:
        done = await _first(startup, stopping, death)
        if startup in done:
            startup.result()
            announce(plan)
            done = await _first(stopping, death)
        if death in done and not stopping.done():
            exited = death.result()
            logger.error(
                "%s exited unexpectedly with code %s: stopping everything",
                exited.name,
                exited.returncode,
            )
            exit_code = 1
    except (StartupFailed, PortInUse) as error:
        logger.error("%s", error)
        exit_code = 1
    except Exception:
        logger.exception("the stack could not start")
        exit_code = 1
    finally:
        for task in (startup, stopping, death):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.gather(startup, stopping, death, return_exceptions=True)
        if runner.children:
            logger.info("stopping %s", ", ".join(child.name for child in _in_stop_order(runner)))
        await runner.stop_all()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    logger.info("stopped" if exit_code == 0 else "stopped after a failure")
    return exit_code


def main() -> None:
    """Command line entry point (`make dev`)."""
    settings = get_settings()
    configure_logging(settings.log_level)
    sys.exit(asyncio.run(run_stack(settings)))


if __name__ == "__main__":
    main()
