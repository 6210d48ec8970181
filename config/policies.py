"""Step policies as data: retries, timeouts and notifications, merged system -> process -> step.

A process template (YAML) looks like::

    process: leave_request
    defaults:               # applies to every step of the process
      retry: {count: 3, interval: 2s, backoff: exponential, max_interval: 1m}
      hard_timeout: 10m
    steps:
      deduct_balance:
        retry: {count: 10, non_retryable: [InsufficientBalance]}
        soft_timeout: 30s
        notifications:
          on_failure: {recipients: [owner, hr@acme.example]}
    settings: {}            # process-specific configuration

Step overrides process, process overrides the system defaults (``system.yaml``), and an org's
override of a template is merged over the shipped one at each level.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from temporalio.common import RetryPolicy

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, None: 1}


def parse_duration(value: object) -> object:
    """Reads `90`, `"90s"`, `"5m"`, `"2h"`, `"3d"` or `"1w"` as a timedelta; others pass through."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            amount, unit = match.groups()
            return timedelta(seconds=float(amount) * _UNIT_SECONDS[unit])
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Criticality = Literal["low", "medium", "high", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrySpec(_Strict):
    """How a failed step is tried again: `count` retries after the first attempt."""

    count: int = Field(default=3, ge=0, le=1000)
    interval: Duration = timedelta(seconds=1)
    backoff: Literal["fixed", "exponential"] = "exponential"
    backoff_coefficient: float = Field(default=2.0, ge=1.0, le=10.0)
    max_interval: Duration | None = timedelta(minutes=5)
    non_retryable: list[str] = Field(default_factory=list)


class NotificationSpec(_Strict):
    """Who hears of an event: email addresses, or `owner` for the run's owner (the default)."""

    recipients: list[str] = Field(default_factory=lambda: ["owner"])


class StepNotifications(_Strict):
    """Which step events send mail; an unset event sends nothing."""

    on_completion: NotificationSpec | None = None
    on_retry: NotificationSpec | None = None
    on_timeout: NotificationSpec | None = None
    on_failure: NotificationSpec | None = None


class StepPolicy(_Strict):
    """Everything that governs one step's execution."""

    enabled: bool = True
    retry: RetrySpec = RetrySpec()
    soft_timeout: Duration | None = None
    hard_timeout: Duration | None = None
    attempt_timeout: Duration | None = None
    heartbeat_timeout: Duration | None = None
    criticality: Criticality = "medium"
    notifications: StepNotifications = StepNotifications()


class ProcessPolicies(_Strict):
    """A process template resolved for one org: the policy of every step, and its settings."""

    process: str
    default: StepPolicy
    steps: dict[str, StepPolicy] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)

    def policy_for(self, step: str) -> StepPolicy:
        """The step's policy, or the process default for a step the template does not name."""
        return self.steps.get(step, self.default)


DEFAULT_ATTEMPT_TIMEOUT = timedelta(minutes=5)


def retry_policy(spec: RetrySpec) -> RetryPolicy:
    """Temporal's RetryPolicy for a retry spec."""
    return RetryPolicy(
        initial_interval=spec.interval,
        backoff_coefficient=1.0 if spec.backoff == "fixed" else spec.backoff_coefficient,
        maximum_interval=spec.max_interval if spec.max_interval is not None else None,
        maximum_attempts=spec.count + 1,
        non_retryable_error_types=list(spec.non_retryable) or None,
    )


def activity_options(policy: StepPolicy) -> dict[str, Any]:
    """Keyword arguments for `workflow.start_activity` that enforce the step's policy.

    The hard timeout bounds the whole step, retries included (schedule-to-close); each attempt
    is bounded by `attempt_timeout`, else by the hard timeout, else by five minutes.
    """
    attempt = policy.attempt_timeout or policy.hard_timeout or DEFAULT_ATTEMPT_TIMEOUT
    if policy.hard_timeout is not None:
        attempt = min(attempt, policy.hard_timeout)
    return {
        "retry_policy": retry_policy(policy.retry),
        "start_to_close_timeout": attempt,
        "schedule_to_close_timeout": policy.hard_timeout,
        "heartbeat_timeout": policy.heartbeat_timeout,
    }


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`, recursing into nested mappings; lists are replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class TemplateDocument(_Strict):
    """The shape of a template document; step contents are checked as `StepPolicy` later."""

    process: str | None = None
    defaults: dict[str, Any] | None = None
    steps: dict[str, dict[str, Any] | None] | None = None
    settings: dict[str, Any] | None = None


def resolve_policies(
    process: str,
    system: dict[str, Any],
    shipped: dict[str, Any],
    org_override: dict[str, Any] | None = None,
) -> ProcessPolicies:
    """Merge the system defaults, the shipped process template and an org's override of it."""
    for document in (system, shipped, org_override or {}):
        TemplateDocument.model_validate(document)
    org = org_override or {}
    process_defaults = deep_merge(
        deep_merge(system.get("defaults") or {}, shipped.get("defaults") or {}),
        org.get("defaults") or {},
    )
    step_names = list(shipped.get("steps") or {}) + [
        name for name in (org.get("steps") or {}) if name not in (shipped.get("steps") or {})
    ]
    steps = {
        name: StepPolicy.model_validate(
            deep_merge(
                deep_merge(process_defaults, (shipped.get("steps") or {}).get(name) or {}),
                (org.get("steps") or {}).get(name) or {},
            )
        )
        for name in step_names
    }
    settings = deep_merge(shipped.get("settings") or {}, org.get("settings") or {})
    return ProcessPolicies(
        process=process,
        default=StepPolicy.model_validate(process_defaults),
        steps=steps,
        settings=settings,
    )
