"""The ERP plugin the caller's org posts approved invoices to, and its settings. Secrets are
never stored or shown: settings hold references (`env:NAME`, `file:/path`, `aws-sm:id`)
that the worker resolves when it posts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from activities.erp.registry import ErpConfig, PluginName
from api.deps import Admin, Operator, SessionDep
from api.routes.reference.access import unprocessable
from api.routes.reference.secret_settings import plain_secrets, redact_secrets
from db.tables import ErpConnection, utcnow

router = APIRouter(prefix="/erp-connection", tags=["reference data"])


class ErpConnectionIn(BaseModel):
    """The org's ERP plugin and its settings, with secrets given as references only."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    plugin: PluginName
    settings: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="the plugin's settings; secrets as `env:NAME`, `file:/path` or `aws-sm:id`",
    )


class ErpConnectionOut(BaseModel):
    """The org's ERP connection; secret settings appear only as their references."""

    plugin: str
    settings: dict[str, JsonValue]
    updated_at: datetime


def _out(row: ErpConnection) -> ErpConnectionOut:
    return ErpConnectionOut(
        plugin=row.plugin, settings=redact_secrets(row.settings), updated_at=row.updated_at
    )


def _validated(body: ErpConnectionIn) -> ErpConfig:
    """The config, checked against the plugin's settings; 422 that never repeats a value."""
    plain = plain_secrets(body.settings)
    if plain:
        raise unprocessable(
            f"Settings {', '.join(plain)} must be secret references (env:NAME, file:/path or "
            "aws-sm:id), never the secret itself"
        )
    try:
        return ErpConfig.model_validate(body.model_dump())
    except ValidationError as error:
        detail: Any = error.errors(include_url=False, include_context=False, include_input=False)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from error


@router.get("", response_model=ErpConnectionOut)
async def get_erp_connection(principal: Operator, session: SessionDep) -> ErpConnectionOut:
    """The org's ERP plugin and settings; 404 when none is set up."""
    row = await session.get(ErpConnection, principal.org_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No ERP connection is set up")
    return _out(row)


@router.put("", response_model=ErpConnectionOut)
async def put_erp_connection(
    body: ErpConnectionIn, principal: Admin, session: SessionDep
) -> ErpConnectionOut:
    """Set the org's ERP plugin and settings; 422 when they do not fit the plugin or a secret
    is given as a value."""
    config = _validated(body)
    row = await session.get(ErpConnection, principal.org_id)
    if row is None:
        row = ErpConnection(org_id=principal.org_id, plugin=config.plugin)
    row.plugin, row.settings, row.updated_at = config.plugin, config.settings, utcnow()
    session.add(row)
    await session.commit()
    return _out(row)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def delete_erp_connection(principal: Admin, session: SessionDep) -> None:
    """Remove the org's ERP connection (invoices are then exported, not posted)."""
    row = await session.get(ErpConnection, principal.org_id)
    if row is not None:
        await session.delete(row)
        await session.commit()
