"""Step policies: merging system -> process -> step (and org overrides), mapping to Temporal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from activities.process_templates import effective_policies
from config.policies import activity_options, resolve_policies
from config.process_templates import UnknownProcess, shipped_processes

SYSTEM = {"defaults": {"retry": {"count": 5, "interval": "2s"}, "hard_timeout": "1h"}}
SHIPPED = {
    "defaults": {"retry": {"interval": "10s"}, "soft_timeout": "5m"},
    "steps": {
        "post_to_erp": {"retry": {"count": 10, "backoff": "fixed"}, "criticality": "high"},
        "extract": {"hard_timeout": "2m"},
    },
    "settings": {"threshold": 1000},
}


def test_step_overrides_process_which_overrides_system() -> None:
    policies = resolve_policies("ap", SYSTEM, SHIPPED)
    post = policies.policy_for("post_to_erp")
    assert post.retry.count == 10  # step
    assert post.retry.interval == timedelta(seconds=10)  # process
    assert post.hard_timeout == timedelta(hours=1)  # system
    assert post.soft_timeout == timedelta(minutes=5)
    assert post.criticality == "high"
    assert policies.policy_for("extract").hard_timeout == timedelta(minutes=2)
    assert policies.policy_for("unnamed").retry.count == 5
    assert policies.settings == {"threshold": 1000}


def test_org_override_is_laid_over_each_level() -> None:
    override = {
        "defaults": {"retry": {"count": 1}},
        "steps": {"extract": {"enabled": False}, "custom": {"soft_timeout": 3}},
        "settings": {"threshold": 500},
    }
    policies = resolve_policies("ap", SYSTEM, SHIPPED, override)
    assert policies.policy_for("unnamed").retry.count == 1
    assert policies.policy_for("post_to_erp").retry.count == 10  # the step still wins
    assert policies.policy_for("extract").enabled is False
    assert policies.policy_for("custom").soft_timeout == timedelta(seconds=3)
    assert policies.settings["threshold"] == 500


def test_policy_maps_to_temporal_retry_and_timeouts() -> None:
    policies = resolve_policies("ap", SYSTEM, SHIPPED)
    options = activity_options(policies.policy_for("post_to_erp"))
    retry = options["retry_policy"]
    assert retry.maximum_attempts == 11
    assert retry.backoff_coefficient == 1.0
    assert retry.initial_interval == timedelta(seconds=10)
    assert options["schedule_to_close_timeout"] == timedelta(hours=1)
    extract = activity_options(policies.policy_for("extract"))
    assert extract["start_to_close_timeout"] == timedelta(minutes=2)
    assert extract["retry_policy"].backoff_coefficient == 2.0


@pytest.mark.parametrize(
    "bad",
    [
        {"steps": {"x": {"retry": {"count": -1}}}},
        {"steps": {"x": {"retry": {"backoff": "linear"}}}},
        {"steps": {"x": {"soft_timeout": "soon"}}},
        {"steps": {"x": {"unknown_field": 1}}},
    ],
)
def test_invalid_templates_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        resolve_policies("ap", SYSTEM, SHIPPED, bad)


def test_shipped_templates_all_resolve() -> None:
    assert "mail_check" in shipped_processes()
    for process in shipped_processes():
        policies = effective_policies(process, None)
        assert policies.process == process
    with pytest.raises(UnknownProcess):
        effective_policies("../system", None)
