"""Each org sees only its own people and templates; each endpoint admits only its roles."""

from __future__ import annotations

import httpx
import pytest

from starter.demo_data import (
    DEMO_USERS,
    EMPLOYEE,
    GLOBEX_EMPLOYEE,
    GLOBEX_MANAGER,
    MANAGER,
    OPERATOR,
)
from tests.api.conftest import LoginAs

RETRY_ONCE = """
steps:
  send_test_email:
    retry: {count: 1}
"""


def _emails(org: str) -> set[str]:
    return {person.email for person in DEMO_USERS if person.org_id == org}


async def _retry_count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.get("/templates/mail_check", headers=headers)
    assert response.status_code == 200, response.text
    count: int = response.json()["effective"]["steps"]["send_test_email"]["retry"]["count"]
    return count


async def test_a_member_lists_only_their_org(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    globex = await client.get("/users", headers=await login_as(GLOBEX_EMPLOYEE.email))
    assert globex.status_code == 200
    assert {user["email"] for user in globex.json()} == _emails("globex")
    acme = await client.get("/users", headers=await login_as(EMPLOYEE.email))
    assert {user["email"] for user in acme.json()} == _emails("acme")


async def test_a_member_sees_a_colleague(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    headers = await login_as(EMPLOYEE.email)
    people = {user["email"]: user for user in (await client.get("/users", headers=headers)).json()}
    response = await client.get(f"/users/{people[MANAGER.email]['id']}", headers=headers)
    assert response.status_code == 200
    manager = response.json()
    assert manager["name"] == MANAGER.name
    assert manager["department"] == "Engineering"
    assert people[EMPLOYEE.email]["manager_id"] == manager["id"]


async def test_another_orgs_user_is_not_found(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    acme_people = (await client.get("/users", headers=await login_as(OPERATOR.email))).json()
    globex = await login_as(GLOBEX_MANAGER.email)
    for person in acme_people:
        response = await client.get(f"/users/{person['id']}", headers=globex)
        assert response.status_code == 404
        assert response.json() == {"detail": "No such user"}
    nobody = await client.get("/users/999999", headers=globex)
    assert nobody.status_code == 404
    assert nobody.json() == {"detail": "No such user"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/templates"),
        ("GET", "/templates/mail_check"),
        ("PUT", "/templates/mail_check"),
        ("DELETE", "/templates/mail_check"),
    ],
)
async def test_an_employee_may_not_touch_templates(
    client: httpx.AsyncClient, login_as: LoginAs, method: str, path: str
) -> None:
    body = {"yaml": RETRY_ONCE} if method == "PUT" else None
    response = await client.request(method, path, json=body, headers=await login_as(EMPLOYEE.email))
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]
    if method == "GET":
        assert response.json() == {"detail": "This needs one of the roles: admin, operator"}


async def test_an_admin_lists_the_processes(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    response = await client.get("/templates", headers=await login_as(OPERATOR.email))
    assert response.status_code == 200
    assert "mail_check" in response.json()
    assert "system" not in response.json()


async def test_an_admin_sees_the_shipped_policies(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    response = await client.get("/templates/mail_check", headers=await login_as(OPERATOR.email))
    assert response.status_code == 200
    view = response.json()
    assert view["process"] == "mail_check"
    assert view["override_yaml"] is None
    step = view["effective"]["steps"]["send_test_email"]
    assert step["retry"]["count"] == 5
    assert step["criticality"] == "low"


async def test_an_override_changes_only_that_orgs_policies(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    acme, globex = await login_as(OPERATOR.email), await login_as(GLOBEX_MANAGER.email)
    response = await client.put("/templates/mail_check", json={"yaml": RETRY_ONCE}, headers=acme)
    assert response.status_code == 200, response.text
    assert response.json()["effective"]["steps"]["send_test_email"]["retry"]["count"] == 1
    assert await _retry_count(client, acme) == 1
    view = (await client.get("/templates/mail_check", headers=acme)).json()
    assert view["override_yaml"] == RETRY_ONCE
    step = view["effective"]["steps"]["send_test_email"]
    assert step["retry"]["interval"] == "PT2S", "the rest of the shipped step stands"
    assert await _retry_count(client, globex) == 5
    assert (await client.get("/templates/mail_check", headers=globex)).json()[
        "override_yaml"
    ] is None


async def test_an_override_can_be_replaced_and_dropped(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    acme = await login_as(OPERATOR.email)
    await client.put("/templates/mail_check", json={"yaml": RETRY_ONCE}, headers=acme)
    twice = RETRY_ONCE.replace("count: 1", "count: 2")
    assert (
        await client.put("/templates/mail_check", json={"yaml": twice}, headers=acme)
    ).status_code == 200
    assert await _retry_count(client, acme) == 2
    dropped = await client.delete("/templates/mail_check", headers=acme)
    assert dropped.status_code == 204
    assert await _retry_count(client, acme) == 5


async def test_an_operator_without_admin_may_read_but_not_write(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    # Tomas (globex) is an ap_clerk, neither admin nor operator; Nora is admin only.
    nora = await login_as(GLOBEX_MANAGER.email)
    assert (await client.get("/templates/mail_check", headers=nora)).status_code == 200
    tomas = await login_as(GLOBEX_EMPLOYEE.email)
    response = await client.put("/templates/mail_check", json={"yaml": RETRY_ONCE}, headers=tomas)
    assert response.status_code == 403
    assert response.json() == {"detail": "This needs one of the roles: admin"}


@pytest.mark.parametrize(
    "bad_yaml",
    [
        pytest.param("steps: [unclosed", id="yaml-syntax"),
        pytest.param("steps:\n  send_test_email:\n    retyr: {count: 1}\n", id="unknown-field"),
        pytest.param("steps:\n  send_test_email:\n    retry: {count: -1}\n", id="out-of-range"),
        pytest.param("steps:\n  send_test_email:\n    soft_timeout: soon\n", id="bad-duration"),
        pytest.param("steps:\n  send_test_email:\n    soft_timeout: 2024-01-01\n", id="a-date"),
        pytest.param("- just\n- a list\n", id="not-a-mapping"),
        pytest.param("steps: 5\n", id="steps-not-a-mapping"),
        pytest.param("defaults: [1]\n", id="defaults-a-list"),
        pytest.param("settings: 5\n", id="settings-not-a-mapping"),
        pytest.param("steps:\n  send_test_email: [1]\n", id="step-not-a-mapping"),
        pytest.param("defaults:\n  retry: 5\n", id="retry-not-a-mapping"),
        pytest.param(
            "stepz:\n  send_test_email:\n    retry: {count: 1}\n", id="unknown-top-level-key"
        ),
    ],
)
async def test_an_invalid_override_is_refused_and_the_old_one_stands(
    client: httpx.AsyncClient, login_as: LoginAs, bad_yaml: str
) -> None:
    acme = await login_as(OPERATOR.email)
    await client.put("/templates/mail_check", json={"yaml": RETRY_ONCE}, headers=acme)
    response = await client.put("/templates/mail_check", json={"yaml": bad_yaml}, headers=acme)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    view = (await client.get("/templates/mail_check", headers=acme)).json()
    assert view["override_yaml"] == RETRY_ONCE
    assert view["effective"]["steps"]["send_test_email"]["retry"]["count"] == 1


async def test_a_refused_override_says_what_is_wrong(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    bad = "steps:\n  send_test_email:\n    retyr: {count: 1}\n"
    response = await client.put(
        "/templates/mail_check", json={"yaml": bad}, headers=await login_as(OPERATOR.email)
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == "extra_forbidden"
    assert error["loc"] == ["retyr"]


@pytest.mark.parametrize("process", ["payroll", "system"])
async def test_an_unknown_process_is_not_found(
    client: httpx.AsyncClient, login_as: LoginAs, process: str
) -> None:
    acme = await login_as(OPERATOR.email)
    for method, body in (("GET", None), ("PUT", {"yaml": RETRY_ONCE}), ("DELETE", None)):
        response = await client.request(method, f"/templates/{process}", json=body, headers=acme)
        assert response.status_code == 404, f"{method} {process}: {response.text}"
        assert response.json() == {"detail": f"No process {process!r}"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/templates/mail_check", {"yaml": RETRY_ONCE, "org_id": "globex"}),
        ("POST", "/files/links", {"key": "acme/x.pdf", "bucket": "other"}),
        ("POST", "/operations/mail-check", {"to": [], "cc": ["a@acme.example"]}),
        ("POST", "/auth/refresh", {"refresh_token": "x", "user_id": 1}),
    ],
)
async def test_unknown_fields_in_a_body_are_refused(
    client: httpx.AsyncClient, login_as: LoginAs, method: str, path: str, body: dict[str, object]
) -> None:
    response = await client.request(method, path, json=body, headers=await login_as(OPERATOR.email))
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(error["type"] == "extra_forbidden" for error in errors), errors
