"""Retry notifications: a worker interceptor that mails a step's `on_retry` recipients.

Temporal retries an activity on the server, out of the workflow's sight. The step runner puts
a `RetryNotice` in a header of the activity it schedules; when an attempt after the first
starts, this interceptor sends one email for that attempt (idempotent by attempt) and then
runs the attempt as usual. A notice that cannot be sent is logged and never fails the step.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import activity
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from models.notifications import EmailRequest, EmailResult
from models.steps import RETRY_NOTICE_HEADER, RetryNotice, pending_retry_notice

logger = logging.getLogger(__name__)

SendEmail = Callable[[EmailRequest], Awaitable[EmailResult]]
_converter = pydantic_data_converter.payload_converter


class _NoticeOutbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> Any:
        notice = pending_retry_notice.get()
        if notice is not None and notice.recipients:
            input.headers = {**input.headers, RETRY_NOTICE_HEADER: _converter.to_payload(notice)}
        return super().start_activity(input)


class _NoticeWorkflowInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_NoticeOutbound(outbound))


class _NoticeActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, send: SendEmail) -> None:
        super().__init__(next)
        self._send = send

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        header = input.headers.get(RETRY_NOTICE_HEADER)
        if header is not None and info.attempt > 1:
            await self._announce(header, info)
        return await super().execute_activity(input)

    async def _announce(self, header: Payload, info: activity.Info) -> None:
        try:
            notice = _converter.from_payload(header, RetryNotice)
            max_attempts = info.retry_policy.maximum_attempts if info.retry_policy else 0
            await self._send(
                EmailRequest(
                    idempotency_key=(
                        f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"
                        f"/retry/{info.attempt}"
                    ),
                    event="step_retry",
                    to=notice.recipients,
                    context={
                        "process": notice.run.process,
                        "run_id": notice.run.run_id,
                        "step": notice.step,
                        "url": notice.run.url,
                        "attempt": info.attempt,
                        "max_attempts": max_attempts or "unlimited",
                    },
                )
            )
        except Exception:
            logger.exception("could not send the retry notice of %s", info.activity_id)


class RetryNoticeInterceptor(Interceptor):
    """Adds retry notices to scheduled step activities and sends them when attempts repeat."""

    def __init__(self, send: SendEmail) -> None:
        self._send = send

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _NoticeActivityInbound(next, self._send)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _NoticeWorkflowInbound
