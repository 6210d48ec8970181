"""The human step's config: SLA schedules, assignee and claim rules, notification defaults."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from models.approvals import AssigneeRule, ClaimRule, HumanStepConfig, Person, SlaSpec


def test_the_sla_schedule_orders_reminders_escalations_and_the_deadline() -> None:
    sla = SlaSpec.model_validate(
        {
            "reminders": 2,
            "reminder_interval": "1d",
            "escalate_after": "3d",
            "escalation": ["assignees_manager", "fallback"],
            "deadline": "5d",
        }
    )

    assert sla.schedule() == [
        (timedelta(days=1), "reminder", 1),
        (timedelta(days=2), "reminder", 2),
        (timedelta(days=3), "escalate", 1),
        (timedelta(days=5), "expire", 1),
    ]


def test_durations_read_seconds_for_tests() -> None:
    sla = SlaSpec.model_validate({"reminders": 1, "reminder_interval": 2, "deadline": "3s"})
    assert sla.schedule() == [
        (timedelta(seconds=2), "reminder", 1),
        (timedelta(seconds=3), "expire", 1),
    ]


def test_incomplete_rules_are_refused() -> None:
    with pytest.raises(ValidationError):
        AssigneeRule(rule="users_matching")
    with pytest.raises(ValidationError):
        AssigneeRule(rule="named")
    with pytest.raises(ValidationError):
        SlaSpec(reminders=2)


def test_claim_rules_match_every_named_attribute() -> None:
    hr = Person(id=1, email="h@a.example", name="H", org="a", department="HR", roles=["hr"])
    assert ClaimRule(role="hr").allows(hr)
    assert ClaimRule(role="hr", department="HR").allows(hr)
    assert not ClaimRule(role="hr", department="Finance").allows(hr)
    assert not ClaimRule().allows(hr)


def test_step_notifications_fall_back_to_the_defaults() -> None:
    config = HumanStepConfig.model_validate({"notifications": {"task_reminder": ["initiator"]}})
    assert config.notifications["task_reminder"] == ["initiator"]
    assert config.notifications["task_assigned"] == ["assignees"]
