"""Registers Baton's search attributes on a Temporal cluster; running it again changes nothing.

`python -m starter.search_attributes` waits for the configured server and namespace, then adds
the attributes of `config.temporal_names` that the namespace lacks.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Sequence

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from config.settings import Settings, get_settings
from config.temporal_client import connect_temporal
from config.temporal_names import SEARCH_ATTRIBUTES

logger = logging.getLogger(__name__)


class SearchAttributeClash(RuntimeError):
    """The namespace already has an attribute of this name with another type."""


def _type_name(value: int) -> str:
    return IndexedValueType.Name(value).removeprefix("INDEXED_VALUE_TYPE_")  # type: ignore[arg-type]


async def register_search_attributes(
    client: Client,
    namespace: str,
    keys: Sequence[SearchAttributeKey] = SEARCH_ATTRIBUTES,  # type: ignore[type-arg]
) -> list[str]:
    """Adds the attributes the namespace lacks and returns their names; a type clash is an error."""
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    known: dict[str, int] = {**listed.system_attributes, **listed.custom_attributes}
    missing: dict[str, int] = {}
    for key in keys:
        wanted = int(key.indexed_value_type)
        if key.name not in known:
            missing[key.name] = wanted
        elif known[key.name] != wanted:
            raise SearchAttributeClash(
                f"search attribute {key.name} exists in namespace {namespace} as "
                f"{_type_name(known[key.name])}, but Baton needs {_type_name(wanted)}"
            )
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes=missing,  # type: ignore[arg-type]
            )
        )
    return sorted(missing)


async def register_when_ready(settings: Settings, *, wait_seconds: float) -> list[str]:
    """Retries until the server and namespace answer (or the wait is over), then registers."""
    deadline = time.monotonic() + wait_seconds
    address, namespace = settings.temporal.address, settings.temporal.namespace
    while True:
        try:
            client = await asyncio.wait_for(connect_temporal(settings), 10)
            return await register_search_attributes(client, namespace)
        except SearchAttributeClash:
            raise
        except Exception as error:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"Temporal at {address} (namespace {namespace}) did not answer "
                    f"within {wait_seconds:.0f} s: {error}"
                ) from error
            logger.info("waiting for Temporal at %s (namespace %s): %s", address, namespace, error)
            await asyncio.sleep(2)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--wait",
        type=float,
        default=180.0,
        help="seconds to wait for the server and namespace (default 180)",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(message)s")
    added = asyncio.run(register_when_ready(settings, wait_seconds=args.wait))
    namespace = settings.temporal.namespace
    if added:
        logger.info("registered search attributes in %s: %s", namespace, ", ".join(added))
    else:
        logger.info("search attributes in %s were already registered", namespace)


if __name__ == "__main__":
    main()
