"""One logging format for every Baton process."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr with time, level and logger name; quiet the chattiest libraries."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("botocore", "boto3", "urllib3", "aiosqlite", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
