"""Mail intake over REST: admins manage mailboxes, and each mailbox's Temporal Schedule on the
session's real server follows (interval, overlap, paused, gone); operators check a mailbox now;
screening rules round-trip; recorded messages are listed per org with their reasons. Passwords
are only ever references and are never repeated in an error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleOverlapPolicy,
    WorkflowExecutionStatus,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from api.mail_schedules import WORKFLOW_TYPE, sync_mailbox_schedule
from api.state import AppState
from config.settings import Settings
from config.temporal_names import ORG, PROCESS
from db.tables import MailboxRow, MailMessageRow
from models.mailboxes import MailIntakeInput, mail_intake_schedule_id, mail_intake_workflow_id
from starter.demo_data import AP_CLERK, EMPLOYEE, GLOBEX_EMPLOYEE, GLOBEX_MANAGER, OPERATOR
from starter.mail_schedules import sync_configured_schedules
from tests.api.conftest import LoginAs
from tests.harness.ports import free_port

Headers = dict[str, str]
VISIBLE_WITHIN_SECONDS = 10.0

MAILBOX = {
    "name": "AP inbox",
    "address": "ap@acme.example",
    "host": "imap.acme.example",
    "username": "ap@acme.example",
    "password_ref": "env:ACME_AP_IMAP_PASSWORD",
    "trusted_authserv_ids": ["mx.acme.example", "MX.acme.example"],
}


async def _json(response: httpx.Response, expected: int) -> Any:
    assert response.status_code == expected, response.text
    return response.json() if response.content else None


async def _describe(temporal: Client, schedule_id: str) -> ScheduleDescription:
    return await temporal.get_schedule_handle(schedule_id).describe()


async def _is_gone(temporal: Client, schedule_id: str) -> bool:
    try:
        await _describe(temporal, schedule_id)
    except RPCError as error:
        return error.status == RPCStatusCode.NOT_FOUND
    return False


async def _terminate(temporal: Client, workflow_id: str) -> None:
    try:
        await temporal.get_workflow_handle(workflow_id).terminate("test cleanup")
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise


async def _remove_schedule(temporal: Client, schedule_id: str) -> None:
    """Delete a schedule and end the intake runs it started (no worker runs them here)."""
    try:
        info = (await _describe(temporal, schedule_id)).info
        await temporal.get_schedule_handle(schedule_id).delete()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return
        raise
    started = {action.action.workflow_id for action in info.recent_actions}  # type: ignore[attr-defined]
    started |= {action.workflow_id for action in info.running_actions}  # type: ignore[attr-defined]
    for workflow_id in started:
        await _terminate(temporal, workflow_id)


@pytest.fixture
async def schedules(
    baton: AppState, temporal_client: Client, api_settings: Settings
) -> AsyncIterator[Client]:
    """The Temporal client; afterwards the test's schedules and the runs they started are
    removed (mailbox ids repeat from test to test, each test having its own database)."""
    yield temporal_client
    async with baton.sessions() as session:
        mailboxes = (await session.exec(select(MailboxRow))).all()
    for mailbox in mailboxes:
        assert mailbox.id is not None
        await _remove_schedule(temporal_client, mail_intake_schedule_id(mailbox.org_id, mailbox.id))
    queue = api_settings.task_queues().workflows
    query = f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"
    async for execution in temporal_client.list_workflows(query=query):
        await _terminate(temporal_client, execution.id)


async def _create(api: httpx.AsyncClient, headers: Headers, **changes: Any) -> dict[str, Any]:
    created: dict[str, Any] = await _json(
        await api.post("/mailboxes", json={**MAILBOX, **changes}, headers=headers), 201
    )
    return created


async def test_an_admin_manages_mailboxes_and_their_schedules_follow(
    client: httpx.AsyncClient, login_as: LoginAs, schedules: Client, api_settings: Settings
) -> None:
    admin = await login_as(OPERATOR.email)
    created = await _create(client, admin)
    assert {key: created[key] for key in ("port", "tls", "folder", "processed_folder")} == {
        "port": 993,
        "tls": "ssl",
        "folder": "INBOX",
        "processed_folder": "Processed",
    }
    assert (created["interval_seconds"], created["batch_size"], created["enabled"]) == (
        60,
        100,
        True,
    )
    assert created["password_ref"] == "env:ACME_AP_IMAP_PASSWORD"
    assert created["trusted_authserv_ids"] == ["mx.acme.example"]
    assert created["require_authentication"] is False
    schedule_id = mail_intake_schedule_id("acme", created["id"])
    assert created["schedule_id"] == schedule_id

    described = await _describe(schedules, schedule_id)
    schedule = described.schedule
    assert [spec.every for spec in schedule.spec.intervals] == [timedelta(seconds=60)]
    assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert schedule.state.paused is False
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == WORKFLOW_TYPE
    assert action.id == mail_intake_workflow_id("acme", created["id"])
    assert action.task_queue == api_settings.task_queues().workflows
    [run_input] = await schedules.data_converter.decode(action.args, [MailIntakeInput])
    assert run_input == MailIntakeInput(org="acme", mailbox_id=created["id"])
    assert action.typed_search_attributes.get(ORG) == "acme"
    assert action.typed_search_attributes.get(PROCESS) == "mail_intake"
    assert "AP inbox" in str(action.static_summary)
    assert described.typed_search_attributes.get(ORG) == "acme"

    path = f"/mailboxes/{created['id']}"
    changed = {**MAILBOX, "interval_seconds": 300, "enabled": False, "tls": "starttls"}
    replaced = await _json(await client.put(path, json=changed, headers=admin), 200)
    assert (replaced["interval_seconds"], replaced["enabled"], replaced["port"]) == (
        300,
        False,
        143,
    )
    schedule = (await _describe(schedules, schedule_id)).schedule
    assert [spec.every for spec in schedule.spec.intervals] == [timedelta(seconds=300)]
    assert schedule.state.paused is True
    assert "disabled" in (schedule.state.note or "")

    enabled = {**changed, "enabled": True, "interval_seconds": 30}
    await _json(await client.put(path, json=enabled, headers=admin), 200)
    schedule = (await _describe(schedules, schedule_id)).schedule
    assert schedule.state.paused is False
    assert [spec.every for spec in schedule.spec.intervals] == [timedelta(seconds=30)]

    await _json(await client.delete(path, headers=admin), 204)
    assert await _is_gone(schedules, schedule_id)
    assert (await client.get(path, headers=admin)).status_code == 404


async def test_ap_roles_read_mailboxes_and_only_admins_change_them(
    client: httpx.AsyncClient, login_as: LoginAs, schedules: Client
) -> None:
    created = await _create(client, await login_as(OPERATOR.email))
    path = f"/mailboxes/{created['id']}"
    clerk = await login_as(AP_CLERK.email)
    assert [
        box["id"] for box in await _json(await client.get("/mailboxes", headers=clerk), 200)
    ] == [created["id"]]
    assert (await _json(await client.get(path, headers=clerk), 200)) == created
    assert (await client.post("/mailboxes", json=MAILBOX, headers=clerk)).status_code == 403
    assert (await client.put(path, json=MAILBOX, headers=clerk)).status_code == 403
    assert (await client.delete(path, headers=clerk)).status_code == 403
    assert (await client.post(f"{path}/check", headers=clerk)).status_code == 403
    employee = await login_as(EMPLOYEE.email)
    assert (await client.get("/mailboxes", headers=employee)).status_code == 403
    assert not (await _describe(schedules, created["schedule_id"])).schedule.state.paused


async def test_another_orgs_mailbox_is_not_found(
    client: httpx.AsyncClient, login_as: LoginAs, schedules: Client
) -> None:
    created = await _create(client, await login_as(OPERATOR.email))
    path = f"/mailboxes/{created['id']}"
    globex = await login_as(GLOBEX_MANAGER.email)
    assert await _json(await client.get("/mailboxes", headers=globex), 200) == []
    assert (await client.get(path, headers=globex)).status_code == 404
    assert (await client.put(path, json=MAILBOX, headers=globex)).status_code == 404
    assert (await client.delete(path, headers=globex)).status_code == 404
    assert (await client.post(f"{path}/check", headers=globex)).status_code == 404
    assert not await _is_gone(schedules, created["schedule_id"])
    assert await _is_gone(schedules, mail_intake_schedule_id("globex", created["id"]))

    own = await _create(client, globex)
    assert own["schedule_id"] == mail_intake_schedule_id("globex", own["id"])
    again = await client.post("/mailboxes", json=MAILBOX, headers=globex)
    assert (await _json(again, 409)) == {"detail": "A mailbox named 'AP inbox' already exists"}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"password_ref": "hunter2"}, id="plain-password"),
        pytest.param({"password": "hunter2"}, id="unknown-field"),
        pytest.param({"password_ref": "env:hunter2 x"}, id="bad-reference"),
        pytest.param({"interval_seconds": 4}, id="interval-too-short"),
        pytest.param({"batch_size": 0}, id="batch-too-small"),
        pytest.param({"batch_size": 1001}, id="batch-too-large"),
        pytest.param({"tls": "tls1.3"}, id="bad-tls"),
        pytest.param({"address": "not an address"}, id="bad-address"),
        pytest.param({"processed_folder": "inbox"}, id="processed-is-inbox"),
        pytest.param(
            {"require_authentication": True, "trusted_authserv_ids": []}, id="nobody-trusted"
        ),
        pytest.param({"name": ""}, id="empty-name"),
    ],
)
async def test_invalid_mailboxes_are_refused_without_repeating_them(
    client: httpx.AsyncClient, login_as: LoginAs, schedules: Client, change: dict[str, Any]
) -> None:
    admin = await login_as(OPERATOR.email)
    created = await _create(client, admin)
    refused = await client.post(
        "/mailboxes", json={**MAILBOX, "name": "Other", **change}, headers=admin
    )
    assert refused.status_code == 422, refused.text
    assert "hunter2" not in refused.text
    path = f"/mailboxes/{created['id']}"
    replaced = await client.put(path, json={**MAILBOX, **change}, headers=admin)
    assert replaced.status_code == 422 and "hunter2" not in replaced.text
    assert await _json(await client.get("/mailboxes", headers=admin), 200) == [created]
    assert [
        spec.every
        for spec in (await _describe(schedules, created["schedule_id"])).schedule.spec.intervals
    ] == [timedelta(seconds=60)]


async def test_a_mailbox_shows_only_references_even_if_written_behind_the_apis_back(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState, schedules: Client
) -> None:
    admin = await login_as(OPERATOR.email)
    created = await _create(client, admin)
    async with baton.sessions() as session:
        row = await session.get(MailboxRow, created["id"])
        assert row is not None
        row.password_ref = "sk-live-123"
        session.add(row)
        await session.commit()
    shown = await client.get(f"/mailboxes/{created['id']}", headers=admin)
    assert shown.status_code == 200 and "sk-live" not in shown.text
    assert shown.json()["password_ref"] == "[hidden]"


async def test_when_temporal_fails_the_mailbox_is_kept_and_put_again_brings_the_schedule_in_line(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState, schedules: Client
) -> None:
    admin = await login_as(OPERATOR.email)
    unreachable = f"127.0.0.1:{free_port()}"
    dead = await Client.connect(unreachable, lazy=True, data_converter=pydantic_data_converter)
    baton.use_client(dead)
    try:
        refused = await client.post("/mailboxes", json=MAILBOX, headers=admin)
    finally:
        baton.use_client(schedules)
    assert refused.status_code == 503, refused.text
    assert "out of step" in refused.json()["detail"]
    [kept] = await _json(await client.get("/mailboxes", headers=admin), 200)
    assert f"PUT /mailboxes/{kept['id']}" in refused.json()["detail"]
    assert refused.headers["location"] == f"/mailboxes/{kept['id']}"
    assert await _is_gone(schedules, kept["schedule_id"])

    await _json(await client.put(f"/mailboxes/{kept['id']}", json=MAILBOX, headers=admin), 200)
    assert not (await _describe(schedules, kept["schedule_id"])).schedule.state.paused


async def test_an_operator_checks_a_mailbox_now(
    client: httpx.AsyncClient, login_as: LoginAs, schedules: Client
) -> None:
    admin = await login_as(OPERATOR.email)
    created = await _create(client, admin, interval_seconds=3600)
    schedule_id = created["schedule_id"]
    before = (await _describe(schedules, schedule_id)).info.num_actions

    accepted = await _json(
        await client.post(f"/mailboxes/{created['id']}/check", headers=admin), 202
    )
    assert accepted["schedule_id"] == schedule_id
    deadline = time.monotonic() + VISIBLE_WITHIN_SECONDS
    while (info := (await _describe(schedules, schedule_id)).info).num_actions <= before:
        assert time.monotonic() < deadline, "the check never started a run"
        await asyncio.sleep(0.2)
    [started] = info.recent_actions[-1:]
    workflow_id = started.action.workflow_id  # type: ignore[attr-defined]
    assert workflow_id.startswith(mail_intake_workflow_id("acme", created["id"]))
    run = await schedules.get_workflow_handle(workflow_id).describe()
    assert run.workflow_type == WORKFLOW_TYPE
    assert run.status == WorkflowExecutionStatus.RUNNING
    assert run.typed_search_attributes.get(PROCESS) == "mail_intake"

    path = f"/mailboxes/{created['id']}"
    await _json(await client.put(path, json={**MAILBOX, "enabled": False}, headers=admin), 200)
    disabled = await client.post(f"{path}/check", headers=admin)
    assert "disabled" in (await _json(disabled, 409))["detail"]


async def test_a_check_recreates_a_schedule_that_went_missing(
    client: httpx.AsyncClient, login_as: LoginAs, schedules: Client
) -> None:
    admin = await login_as(OPERATOR.email)
    created = await _create(client, admin, interval_seconds=3600)
    await schedules.get_schedule_handle(created["schedule_id"]).delete()
    await _json(await client.post(f"/mailboxes/{created['id']}/check", headers=admin), 202)
    described = await _describe(schedules, created["schedule_id"])
    assert described.schedule.spec.intervals[0].every == timedelta(hours=1)


async def test_a_mailbox_with_recorded_messages_is_disabled_not_deleted(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState, schedules: Client
) -> None:
    admin = await login_as(OPERATOR.email)
    created = await _create(client, admin)
    async with baton.sessions() as session:
        session.add(_message("acme", created["id"], "<kept@x>", datetime.now(UTC)))
        await session.commit()
    refused = await client.delete(f"/mailboxes/{created['id']}", headers=admin)
    assert "disable it instead" in (await _json(refused, 409))["detail"]
    assert not await _is_gone(schedules, created["schedule_id"])


async def test_screening_rules_default_and_round_trip(
    client: httpx.AsyncClient, login_as: LoginAs, api_settings: Settings
) -> None:
    admin = await login_as(OPERATOR.email)
    defaults = await _json(await client.get("/mail-screening", headers=admin), 200)
    assert defaults == {
        "rules": [],
        "described": [],
        "max_attachment_bytes": api_settings.storage.max_attachment_bytes,
        "max_attachments": 10,
        "updated_at": None,
    }
    rules = [
        {"variable": "subject", "condition": "contains", "value": "invoice"},
        {"variable": "has_pdf_attachment", "condition": "is", "value": "true"},
    ]
    body = {"rules": rules, "max_attachment_bytes": 2_000_000, "max_attachments": 3}
    stored = await _json(await client.put("/mail-screening", json=body, headers=admin), 200)
    assert (stored["rules"], stored["max_attachment_bytes"], stored["max_attachments"]) == (
        rules,
        2_000_000,
        3,
    )
    assert stored["described"] == ["subject contains 'invoice'", "has a PDF attachment"]
    assert stored["updated_at"] is not None
    clerk = await login_as(AP_CLERK.email)
    assert await _json(await client.get("/mail-screening", headers=clerk), 200) == stored
    assert (await client.put("/mail-screening", json=body, headers=clerk)).status_code == 403
    globex = await login_as(GLOBEX_EMPLOYEE.email)
    assert (await _json(await client.get("/mail-screening", headers=globex), 200))["rules"] == []

    only_rules = await _json(
        await client.put("/mail-screening", json={"rules": rules[:1]}, headers=admin), 200
    )
    assert only_rules["max_attachments"] == 10
    assert only_rules["max_attachment_bytes"] == api_settings.storage.max_attachment_bytes


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {"rules": [{"variable": "subject", "condition": "is", "value": "x"}]}, id="is"
        ),
        pytest.param(
            {"rules": [{"variable": "colour", "condition": "equals", "value": "x"}]}, id="var"
        ),
        pytest.param(
            {"rules": [{"variable": "subject", "condition": "contains", "value": "x", "n": 1}]},
            id="rule-field",
        ),
        pytest.param({"rules": [], "colour": "red"}, id="unknown-field"),
        pytest.param({"max_attachments": 0}, id="no-attachments"),
    ],
)
async def test_invalid_screening_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, login_as: LoginAs, body: dict[str, Any]
) -> None:
    admin = await login_as(OPERATOR.email)
    before = await _json(await client.get("/mail-screening", headers=admin), 200)
    await _json(await client.put("/mail-screening", json=body, headers=admin), 422)
    assert await _json(await client.get("/mail-screening", headers=admin), 200) == before


def _message(
    org: str,
    mailbox_id: int,
    message_id: str,
    created_at: datetime,
    classification: str = "invoice",
    reason_code: str | None = None,
) -> MailMessageRow:
    return MailMessageRow(
        org_id=org,
        mailbox_id=mailbox_id,
        message_key=f"{message_id}|hash",
        message_id=message_id,
        content_hash="hash",
        size=1234,
        sender="billing@supplier.example",
        subject=f"Mail {message_id}",
        classification=classification,
        reason_code=reason_code,
        reason=f"because {reason_code}" if reason_code else None,
        transaction_id="t-1" if classification == "invoice" else None,
        state="handled",
        created_at=created_at,
    )


def _mailbox_row(org: str, name: str) -> MailboxRow:
    return MailboxRow(
        org_id=org,
        name=name,
        address=f"ap@{org}.example",
        host="imap.example",
        port=993,
        tls="ssl",
        username="ap",
        password_ref="env:IMAP_PASSWORD",
        folder="INBOX",
        processed_folder="Processed",
        interval_seconds=60,
        batch_size=100,
    )


@pytest.fixture
async def recorded(baton: AppState) -> dict[str, int]:
    """Mailboxes of both demo orgs and messages intake recorded from them, a minute apart."""
    async with baton.sessions() as session:
        boxes = {
            "acme-ap": _mailbox_row("acme", "AP"),
            "acme-hr": _mailbox_row("acme", "HR"),
            "globex": _mailbox_row("globex", "AP"),
        }
        session.add_all(boxes.values())
        await session.flush()
        ids = {key: box.id for key, box in boxes.items() if box.id is not None}
        start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        rows = [
            ("acme-ap", "<1@x>", "invoice", None),
            ("acme-ap", "<2@x>", "unidentified", "unknown_sender"),
            ("acme-hr", "<3@x>", "unidentified", "no_attachment"),
            ("acme-ap", "<4@x>", "approval_reply", None),
            ("acme-hr", "<5@x>", "unidentified", "unknown_sender"),
            ("globex", "<6@x>", "unidentified", "unknown_sender"),
        ]
        for minute, (box, message_id, classification, reason) in enumerate(rows):
            when = start + timedelta(minutes=minute)
            session.add(_message(_org_of(box), ids[box], message_id, when, classification, reason))
        await session.commit()
    return ids


def _org_of(box: str) -> str:
    return box.split("-")[0]


async def _listed(client: httpx.AsyncClient, headers: Headers, query: str = "") -> list[str]:
    page = await _json(await client.get(f"/mail/messages{query}", headers=headers), 200)
    return [item["message_id"] for item in page["items"]]


async def test_recorded_messages_are_listed_newest_first_and_filtered(
    client: httpx.AsyncClient, login_as: LoginAs, recorded: dict[str, int]
) -> None:
    clerk = await login_as(AP_CLERK.email)
    assert await _listed(client, clerk) == ["<5@x>", "<4@x>", "<3@x>", "<2@x>", "<1@x>"]
    unidentified = "?classification=unidentified"
    assert await _listed(client, clerk, unidentified) == ["<5@x>", "<3@x>", "<2@x>"]
    assert await _listed(client, clerk, f"{unidentified}&reason_code=unknown_sender") == [
        "<5@x>",
        "<2@x>",
    ]
    assert await _listed(client, clerk, f"?mailbox_id={recorded['acme-hr']}") == ["<5@x>", "<3@x>"]

    page = await _json(await client.get("/mail/messages?limit=2", headers=clerk), 200)
    assert [item["message_id"] for item in page["items"]] == ["<5@x>", "<4@x>"]
    assert page["next_offset"] == 2
    last = await _json(await client.get("/mail/messages?limit=2&offset=4", headers=clerk), 200)
    assert ([item["message_id"] for item in last["items"]], last["next_offset"]) == (
        ["<1@x>"],
        None,
    )

    [item] = (
        await _json(
            await client.get("/mail/messages?reason_code=no_attachment", headers=clerk), 200
        )
    )["items"]
    assert item["mailbox_id"] == recorded["acme-hr"]
    assert (item["classification"], item["reason"], item["state"]) == (
        "unidentified",
        "because no_attachment",
        "handled",
    )
    assert item["received"].startswith("2026-01-05T09:02:00")
    assert {"sender", "subject", "transaction_id", "workflow_id", "id"} <= item.keys()


async def test_recorded_messages_stay_in_their_org(
    client: httpx.AsyncClient, login_as: LoginAs, recorded: dict[str, int]
) -> None:
    globex = await login_as(GLOBEX_EMPLOYEE.email)
    assert await _listed(client, globex) == ["<6@x>"]
    assert await _listed(client, globex, f"?mailbox_id={recorded['acme-ap']}") == []
    employee = await login_as(EMPLOYEE.email)
    assert (await client.get("/mail/messages", headers=employee)).status_code == 403
    clerk = await login_as(AP_CLERK.email)
    for query in ("?classification=spam", "?limit=0", "?limit=201", "?colour=red"):
        assert (await client.get(f"/mail/messages{query}", headers=clerk)).status_code == 422


async def test_start_up_sync_matches_the_schedules_to_the_database(
    baton: AppState, schedules: Client, api_settings: Settings, temporal_client: Client
) -> None:
    async with baton.sessions() as session:
        session.add_all([_mailbox_row("acme", "AP"), _mailbox_row("globex", "AP")])
        await session.flush()
        disabled = _mailbox_row("acme", "Old")
        disabled.enabled = False
        session.add(disabled)
        await session.commit()
        rows = (await session.exec(select(MailboxRow))).all()
    stray = _mailbox_row("acme", "Restored away")
    stray.id = 9_000 + free_port() % 1000
    await sync_mailbox_schedule(temporal_client, api_settings, stray)
    other_deployment = api_settings.model_copy(
        update={"temporal": api_settings.temporal.model_copy(update={"task_queue_prefix": "x-"})}
    )
    foreign = _mailbox_row("acme", "Other deployment")
    foreign.id = stray.id + 1
    await sync_mailbox_schedule(temporal_client, other_deployment, foreign)
    stray_id, foreign_id = (
        mail_intake_schedule_id("acme", box.id or 0) for box in (stray, foreign)
    )
    try:
        await _until_listed(temporal_client, {stray_id, foreign_id})
        address = temporal_client.service_client.config.target_host
        settings = api_settings.model_copy(
            update={"temporal": api_settings.temporal.model_copy(update={"address": address})}
        )
        assert await sync_configured_schedules(settings) == 3
        for row in rows:
            assert row.id is not None
            described = await _describe(
                temporal_client, mail_intake_schedule_id(row.org_id, row.id)
            )
            assert described.schedule.state.paused is (not row.enabled)
        assert await _is_gone(temporal_client, stray_id)
        assert not await _is_gone(temporal_client, foreign_id)
    finally:
        await _remove_schedule(temporal_client, stray_id)
        await _remove_schedule(temporal_client, foreign_id)


async def _until_listed(temporal: Client, wanted: set[str]) -> None:
    """Wait until schedule visibility (which trails a moment) lists the schedules."""
    deadline = time.monotonic() + VISIBLE_WITHIN_SECONDS
    while True:
        listed = {item.id async for item in await temporal.list_schedules()}
        if wanted <= listed:
            return
        assert time.monotonic() < deadline, f"never listed: {wanted - listed}"
        await asyncio.sleep(0.2)


async def test_the_openapi_document_describes_the_mailbox_body(client: httpx.AsyncClient) -> None:
    document = await _json(await client.get("/openapi.json"), 200)
    create = document["paths"]["/mailboxes"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert {"name", "host", "password_ref", "interval_seconds"} <= schema["properties"].keys()
    assert schema["additionalProperties"] is False
    assert "503" in create["responses"]
    for path in ("/mailboxes/{mailbox_id}/check", "/mail-screening", "/mail/messages"):
        assert path in document["paths"]


async def test_the_mailbox_owner_must_be_an_active_member_of_the_org(
    client: httpx.AsyncClient, login_as: LoginAs, schedules: Client
) -> None:
    admin = await login_as(OPERATOR.email)
    created = await _create(client, admin, owner_email=AP_CLERK.email.upper())
    assert created["owner_email"] == AP_CLERK.email
    outsider = await client.post(
        "/mailboxes",
        json={**MAILBOX, "name": "Other", "owner_email": GLOBEX_EMPLOYEE.email},
        headers=admin,
    )
    assert outsider.status_code == 422
    assert "not an active member" in outsider.text
    assert (await _create(client, admin, name="Shared"))["owner_email"] is None
