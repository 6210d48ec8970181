"""`/health` tells an operator whether every part is up and a worker polls every queue."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from config.settings import Settings
from config.temporal_names import QUEUE_ROLES

POLLERS_SEEN_WITHIN_SECONDS = 10.0


def _queues(settings: Settings) -> set[str]:
    return {settings.task_queues().name(role) for role in QUEUE_ROLES}


async def _healthy(client: httpx.AsyncClient) -> httpx.Response:
    """`/health` once it says ok; workers that just started may not have polled yet."""
    deadline = time.monotonic() + POLLERS_SEEN_WITHIN_SECONDS
    while True:
        response = await client.get("/health")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.1)


@pytest.mark.usefixtures("workers")
async def test_healthy_with_workers_on_every_queue(
    client: httpx.AsyncClient, api_settings: Settings
) -> None:
    response = await _healthy(client)
    assert response.status_code == 200, response.text
    health: dict[str, Any] = response.json()
    assert health["ok"] is True
    for part in ("temporal", "database", "storage"):
        assert health[part]["ok"] is True, health[part]
    assert health["database"]["detail"] == "sqlite"
    assert health["storage"]["detail"] == "local"
    assert set(health["workers"]) == _queues(api_settings)
    for queue, check in health["workers"].items():
        assert check["ok"] is True, queue
        assert check["pollers"] > 0, queue


async def test_unhealthy_without_workers(client: httpx.AsyncClient, api_settings: Settings) -> None:
    response = await client.get("/health")
    assert response.status_code == 503
    health: dict[str, Any] = response.json()
    assert health["ok"] is False
    for part in ("temporal", "database", "storage"):
        assert health[part]["ok"] is True, health[part]
    assert set(health["workers"]) == _queues(api_settings)
    for queue, check in health["workers"].items():
        assert check == {"ok": False, "detail": "no worker polls", "pollers": 0}, queue


async def test_health_names_a_broken_store(
    client: httpx.AsyncClient, api_settings: Settings
) -> None:
    api_settings.storage.local_root.parent.mkdir(parents=True, exist_ok=True)
    api_settings.storage.local_root.write_text("a file where the storage folder should be")
    response = await client.get("/health")
    assert response.status_code == 503
    storage = response.json()["storage"]
    assert storage["ok"] is False
    assert "StorageUnavailable" in storage["detail"]
