"""Connecting to the configured Temporal server with Baton's data converter."""

from __future__ import annotations

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter

from config.settings import Settings, TemporalSettings


def _tls_config(settings: TemporalSettings) -> TLSConfig | bool:
    """TLS options for a cluster; plain TCP for the dev server."""
    if not settings.tls:
        return False

    def read(path: object) -> bytes | None:
        return path.read_bytes() if path is not None else None  # type: ignore[attr-defined]

    return TLSConfig(
        client_cert=read(settings.tls_client_cert_path),
        client_private_key=read(settings.tls_client_key_path),
        server_root_ca_cert=read(settings.tls_server_ca_path),
    )


async def connect_temporal(settings: Settings) -> Client:
    """A Temporal client for the configured address, namespace, TLS and API key."""
    temporal = settings.temporal
    api_key = temporal.api_key.get_secret_value() if temporal.api_key else None
    return await Client.connect(
        temporal.address,
        namespace=temporal.namespace,
        tls=_tls_config(temporal) if api_key is None else (_tls_config(temporal) or True),
        api_key=api_key,
        data_converter=pydantic_data_converter,
    )
