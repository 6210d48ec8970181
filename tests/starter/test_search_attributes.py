"""Registering Baton's search attributes adds what is missing and is safe to repeat."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from config.temporal_names import SEARCH_ATTRIBUTES
from starter.search_attributes import SearchAttributeClash, register_search_attributes


async def test_registered_attributes_are_left_alone(temporal_client: Client) -> None:
    added = await register_search_attributes(temporal_client, temporal_client.namespace)

    assert added == []


async def test_a_missing_attribute_is_added_once(temporal_client: Client) -> None:
    extra = SearchAttributeKey.for_int(f"BatonTest{uuid.uuid4().hex[:8]}")
    keys = (*SEARCH_ATTRIBUTES, extra)

    first = await register_search_attributes(temporal_client, temporal_client.namespace, keys)
    second = await register_search_attributes(temporal_client, temporal_client.namespace, keys)

    assert first == [extra.name]
    assert second == []


async def test_a_type_clash_is_refused(temporal_client: Client) -> None:
    clashing = SearchAttributeKey.for_int(SEARCH_ATTRIBUTES[0].name)

    with pytest.raises(SearchAttributeClash, match=f"{clashing.name} exists .* as KEYWORD"):
        await register_search_attributes(temporal_client, temporal_client.namespace, [clashing])
