"""Brings the mailboxes' Temporal Schedules in line with the database (idempotent).

`python -m starter.mail_schedules` reads the configured database and Temporal server, creates or
updates the intake schedule of every mailbox (paused when the mailbox is disabled) and removes
this deployment's schedules of mailboxes that are gone: run it at start-up and after a restore.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence

from api.mail_schedules import sync_all_schedules
from config.logging_setup import configure_logging
from config.settings import Settings, get_settings
from config.temporal_client import connect_temporal
from db.engine import create_engine, session_factory

logger = logging.getLogger(__name__)


async def sync_configured_schedules(settings: Settings) -> int:
    """Sync the schedules of the configured database's mailboxes; the number in step."""
    engine = create_engine(settings.database.url, echo=settings.database.echo)
    try:
        client = await connect_temporal(settings)
        return await sync_all_schedules(client, settings, session_factory(engine))
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    synced = asyncio.run(sync_configured_schedules(settings))
    logger.info(
        "%d mailbox schedules in step with %s (namespace %s)",
        synced,
        settings.temporal.address,
        settings.temporal.namespace,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
