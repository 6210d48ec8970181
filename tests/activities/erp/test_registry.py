"""An org's `ErpConfig`: checked against the plugin's settings, and the plugin it builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from activities.erp import ErpConfig, ExportPlugin, RestWebhookPlugin, plugin_for
from activities.storage import LocalObjectStore

REST = {"base_url": "https://erp.acme.example/api", "auth": "bearer", "token_ref": "env:ACME_ERP"}


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(
        tmp_path, public_url="http://baton.test", secret_key="k" * 32, link_ttl_seconds=60
    )


def test_each_plugin_name_builds_its_plugin(store: LocalObjectStore) -> None:
    rest = plugin_for(ErpConfig(plugin="rest_webhook", settings=REST), store)
    export = plugin_for(ErpConfig(plugin="export"), store)

    assert isinstance(rest, RestWebhookPlugin)
    assert rest.name == "rest_webhook"
    assert isinstance(export, ExportPlugin)
    assert export.name == "export"
    assert plugin_for(ErpConfig(plugin="none"), store) is None


def test_the_config_round_trips_as_stored() -> None:
    config = ErpConfig.model_validate({"plugin": "rest_webhook", "settings": REST})

    assert config.model_dump(mode="json") == {"plugin": "rest_webhook", "settings": REST}
    assert ErpConfig.model_validate_json(config.model_dump_json()) == config


@pytest.mark.parametrize(
    ("config", "location"),
    [
        ({"plugin": "rest_webhook", "settings": {}}, ("settings", "base_url")),
        (
            {"plugin": "rest_webhook", "settings": {**REST, "csv_delimiter": ";"}},
            ("settings", "csv_delimiter"),
        ),
        (
            {"plugin": "export", "settings": {"base_url": "https://erp.example"}},
            ("settings", "base_url"),
        ),
        ({"plugin": "none", "settings": {"anything": 1}}, ("settings",)),
        ({"plugin": "sap", "settings": {}}, ("plugin",)),
        ({"plugin": "export", "extra": 1}, ("extra",)),
    ],
)
def test_settings_that_do_not_fit_the_plugin_are_refused(
    config: dict[str, Any], location: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as failure:
        ErpConfig.model_validate(config)

    assert location in [error["loc"] for error in failure.value.errors()]
