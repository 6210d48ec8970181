"""What the API holds for its lifetime: settings, database, storage and the Temporal client."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.storage import ObjectStore
from config.settings import Settings
from config.temporal_client import connect_temporal

logger = logging.getLogger(__name__)


@dataclass
class AppState:
    """Shared resources of the API process; the Temporal client connects on first use."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore
    _client: Client | None = None
    _connecting: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def temporal(self) -> Client:
        """The Temporal client, connecting (again) if there is none yet."""
        if self._client is not None:
            return self._client
        async with self._connecting:
            if self._client is None:
                self._client = await connect_temporal(self.settings)
                logger.info("connected to Temporal at %s", self.settings.temporal.address)
        return self._client

    def use_client(self, client: Client) -> None:
        """Use an already connected client (tests, embedded use)."""
        self._client = client
