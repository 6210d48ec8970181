"""`python -m api`: serve the API with uvicorn on the configured host and port."""

from __future__ import annotations

import uvicorn

from config.logging_setup import configure_logging
from config.settings import get_settings


def run() -> None:
    """Serve the API until interrupted."""
    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.api.host,
        port=settings.api.port,
        log_config=None,
        proxy_headers=True,
    )


if __name__ == "__main__":
    run()
