"""Step policies on a real Temporal server: retries, soft and hard timeouts, notifications."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.notify import NotifyActivities
from activities.retry_notices import RetryNoticeInterceptor
from config.policies import resolve_policies
from config.settings import Settings
from config.temporal_names import TaskQueues
from db.engine import session_factory
from tests.harness.smtp import SmtpInbox
from tests.workflows.policy_probe import PolicyProbeWorkflow, ProbeInput, ProbeOutcome

OWNER = "owner@acme.example"
WATCHER = "ops@acme.example"


@dataclass
class Attempts:
    """When each attempt of each stand-in activity started (monotonic seconds)."""

    started: dict[str, list[float]] = field(default_factory=dict)

    def record(self, name: str) -> int:
        self.started.setdefault(name, []).append(time.monotonic())
        return activity.info().attempt


attempts = Attempts()


@activity.defn(name="flaky")
async def flaky(step: str) -> str:
    """Fails with a retryable error on its first two attempts."""
    attempt = attempts.record(step)
    if attempt <= 2:
        raise ApplicationError(f"upstream busy (attempt {attempt})", type="UpstreamBusy")
    return f"done on attempt {attempt}"


@activity.defn(name="rejecting")
async def rejecting(step: str) -> str:
    """Fails with an error the policy calls non-retryable."""
    attempts.record(step)
    raise ApplicationError("the supplier is unknown", type="UnknownSupplier")


@activity.defn(name="slow")
async def slow(step: str) -> str:
    """Takes longer than the soft timeout, then succeeds."""
    attempts.record(step)
    await asyncio.sleep(2.5)
    return "slow but done"


@activity.defn(name="hanging")
async def hanging(step: str) -> str:
    """Never answers within the hard timeout."""
    attempts.record(step)
    await asyncio.sleep(30)
    return "too late"


SYSTEM = {"defaults": {"retry": {"count": 0}, "hard_timeout": "1m"}}
TEMPLATE: dict[str, Any] = {
    "steps": {
        "fetch_rates": {
            "retry": {"count": 3, "interval": "1s", "backoff": "fixed"},
            "notifications": {
                "on_retry": {"recipients": [WATCHER]},
                "on_completion": {"recipients": ["owner"]},
            },
        },
        "fetch_rates_briefly": {"retry": {"count": 1, "interval": "1s", "backoff": "fixed"}},
        "match_supplier": {
            "retry": {"count": 5, "interval": "1s", "non_retryable": ["UnknownSupplier"]},
            "criticality": "high",
            "notifications": {"on_failure": {"recipients": ["owner", WATCHER]}},
        },
        "render_report": {
            "soft_timeout": "1s",
            "notifications": {"on_timeout": {"recipients": ["owner"]}},
        },
        "post_to_erp": {
            "hard_timeout": "2s",
            "criticality": "critical",
            "notifications": {"on_timeout": {"recipients": ["owner"]}},
        },
    }
}
POLICIES = resolve_policies("probe", SYSTEM, TEMPLATE)


@pytest.fixture
async def probe_queue(
    temporal_client: Client, mail_settings: Settings, sqlite_engine: AsyncEngine
) -> AsyncIterator[str]:
    queues = TaskQueues(prefix=f"probe-{uuid.uuid4().hex[:8]}-")
    notify = NotifyActivities(mail_settings, session_factory(sqlite_engine))
    interceptors = [RetryNoticeInterceptor(notify.send_email)]
    async with (
        Worker(
            temporal_client,
            task_queue=queues.workflows,
            workflows=[PolicyProbeWorkflow],
            interceptors=interceptors,
        ),
        Worker(
            temporal_client,
            task_queue=queues.io,
            activities=[flaky, rejecting, slow, hanging, notify.send_email],
            interceptors=interceptors,
        ),
    ):
        yield queues.workflows


async def run_probe(client: Client, queue: str, step: str, activity_name: str) -> ProbeOutcome:
    attempts.started.pop(step, None)
    return await client.execute_workflow(
        PolicyProbeWorkflow.run,
        ProbeInput(policies=POLICIES, step=step, activity=activity_name, owner_email=OWNER),
        id=f"acme:probe:{uuid.uuid4()}",
        task_queue=queue,
        execution_timeout=timedelta(seconds=60),
    )


async def test_flaky_step_is_retried_as_its_policy_says(
    temporal_client: Client, probe_queue: str, smtp_inbox: SmtpInbox
) -> None:
    outcome = await run_probe(temporal_client, probe_queue, "fetch_rates", "flaky")

    assert outcome.result == "done on attempt 3"
    starts = attempts.started["fetch_rates"]
    assert len(starts) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(0.9 <= gap < 3.0 for gap in gaps), gaps  # fixed 1 s interval
    messages = await smtp_inbox.wait_for(3)
    await asyncio.sleep(0.5)
    retry_mails = [m for m in smtp_inbox.messages if m.rcpt_tos == [WATCHER]]
    completion_mails = [m for m in smtp_inbox.messages if m.rcpt_tos == [OWNER]]
    assert len(smtp_inbox.messages) == 3, [m.subject for m in messages]
    assert sorted("attempt 2" in m.text() or "attempt 3" in m.text() for m in retry_mails) == [
        True,
        True,
    ]
    assert len(completion_mails) == 1
    assert "fetch_rates" in completion_mails[0].subject


async def test_retries_stop_at_the_count_and_leave_a_failure_record(
    temporal_client: Client, probe_queue: str, smtp_inbox: SmtpInbox
) -> None:
    outcome = await run_probe(temporal_client, probe_queue, "fetch_rates_briefly", "flaky")

    assert outcome.result is None
    assert outcome.failure is not None
    assert outcome.failure.reason == "UpstreamBusy"
    assert "attempt 2" in outcome.failure.details
    assert len(attempts.started["fetch_rates_briefly"]) == 2


async def test_non_retryable_error_fails_at_once_and_notifies(
    temporal_client: Client, probe_queue: str, smtp_inbox: SmtpInbox
) -> None:
    outcome = await run_probe(temporal_client, probe_queue, "match_supplier", "rejecting")

    assert outcome.failure is not None
    assert (outcome.failure.reason, outcome.failure.criticality) == ("UnknownSupplier", "high")
    assert len(attempts.started["match_supplier"]) == 1
    [mail] = await smtp_inbox.wait_for(1)
    assert sorted(mail.rcpt_tos) == sorted([OWNER, WATCHER])
    assert "the supplier is unknown" in mail.text()


async def test_soft_timeout_sends_one_warning_and_the_step_goes_on(
    temporal_client: Client, probe_queue: str, smtp_inbox: SmtpInbox
) -> None:
    outcome = await run_probe(temporal_client, probe_queue, "render_report", "slow")

    assert outcome.result == "slow but done"
    [warning] = await smtp_inbox.wait_for(1)
    await asyncio.sleep(0.5)
    assert len(smtp_inbox.messages) == 1
    assert warning.rcpt_tos == [OWNER]
    assert "render_report" in warning.subject
    assert len(attempts.started["render_report"]) == 1


async def test_hard_timeout_fails_the_step_with_a_failure_record(
    temporal_client: Client, probe_queue: str, smtp_inbox: SmtpInbox
) -> None:
    started = time.monotonic()
    outcome = await run_probe(temporal_client, probe_queue, "post_to_erp", "hanging")

    assert time.monotonic() - started < 15
    assert outcome.failure is not None
    assert outcome.failure.reason == "hard_timeout"
    assert outcome.failure.criticality == "critical"
    assert outcome.failure.step == "post_to_erp"
    [notice] = await smtp_inbox.wait_for(1)
    assert notice.rcpt_tos == [OWNER]
    assert "post_to_erp" in notice.subject
