"""An org's ERP settings (`ErpConfig`) and the plugin they build."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from activities.erp.base import ErpPlugin
from activities.erp.export import ExportPlugin, ExportSettings
from activities.erp.rest_webhook import RestWebhookPlugin, RestWebhookSettings
from activities.storage import ObjectStore
from config.secrets import SecretResolver

PluginName = Literal["rest_webhook", "export", "none"]

SETTINGS_MODELS: dict[PluginName, type[BaseModel] | None] = {
    "rest_webhook": RestWebhookSettings,
    "export": ExportSettings,
    "none": None,
}


class ErpConfig(BaseModel):
    """Which ERP plugin an org uses and its settings (secrets only as references).

    `settings` stays a plain dict, as stored, and is checked against the plugin's settings
    model when the config is validated; "none" takes no settings.
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    plugin: PluginName
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("settings")
    @classmethod
    def _settings_fit_the_plugin(cls, settings: dict[str, Any], info: ValidationInfo) -> Any:
        plugin = info.data.get("plugin")
        if plugin is not None:
            _validated(plugin, settings)
        return settings

    def plugin_settings(self) -> BaseModel | None:
        """The settings validated into the plugin's settings model; None for "none"."""
        return _validated(self.plugin, self.settings)


def _validated(plugin: PluginName, settings: dict[str, Any]) -> BaseModel | None:
    model = SETTINGS_MODELS[plugin]
    if model is None:
        if settings:
            raise ValueError('the "none" plugin takes no settings')
        return None
    return model.model_validate(settings)


def plugin_for(
    config: ErpConfig, store: ObjectStore, secrets: SecretResolver | None = None
) -> ErpPlugin | None:
    """The plugin an org's config describes, or None when the org has no ERP ("none")."""
    settings = config.plugin_settings()
    if isinstance(settings, RestWebhookSettings):
        return RestWebhookPlugin(settings, secrets)
    if isinstance(settings, ExportSettings):
        return ExportPlugin(store, settings)
    return None
