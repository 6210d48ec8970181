"""Operator checks that the product's parts work end to end."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from temporalio.client import WorkflowFailureError

from api.deps import Operator, SettingsDep, TemporalDep
from models.operations import MailCheckInput, MailCheckResult
from workflows.mail_check import PROCESS_NAME, MailCheckWorkflow

router = APIRouter(prefix="/operations", tags=["operations"])

MAIL_CHECK_WAIT = timedelta(seconds=60)


class MailCheckRequest(BaseModel):
    """Where to send the test email (the caller's own address when empty)."""

    model_config = ConfigDict(extra="forbid")

    to: list[EmailStr] = Field(default_factory=list, max_length=20)


class MailCheckRun(BaseModel):
    """The run that sent the test email, and what came of it."""

    workflow_id: str
    outcome: MailCheckResult


@router.post("/mail-check", response_model=MailCheckRun)
async def mail_check(
    body: MailCheckRequest, principal: Operator, client: TemporalDep, settings: SettingsDep
) -> MailCheckRun:
    """Send a test email through the workers and wait for the outcome."""
    workflow_id = f"{principal.org_id}:{PROCESS_NAME}:{uuid.uuid4()}"
    handle = await client.start_workflow(
        MailCheckWorkflow.run,
        MailCheckInput(
            org=principal.org_id,
            to=[str(address) for address in body.to] or [principal.email],
            requested_by=principal.email,
        ),
        id=workflow_id,
        task_queue=settings.task_queues().workflows,
        execution_timeout=timedelta(hours=1),
    )
    try:
        outcome = await asyncio.wait_for(handle.result(), MAIL_CHECK_WAIT.total_seconds())
    except WorkflowFailureError as error:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"The check {workflow_id} failed: {error.cause}"
        ) from error
    except TimeoutError as error:
        raise HTTPException(
            status.HTTP_504_GATEWAY_TIMEOUT,
            f"The check is still running as {workflow_id}; are the workers up?",
        ) from error
    return MailCheckRun(workflow_id=workflow_id, outcome=outcome)
