"""Secret references: env and file for real, aws-sm through boto3 against a loopback server.

The Secrets Manager stand-in speaks the service's JSON protocol over HTTP on 127.0.0.1, so
boto3 really builds, signs and sends the request and parses the answer or the error.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from config.secrets import (
    InvalidSecretRef,
    ParsedSecretRef,
    SecretRef,
    SecretResolver,
    SecretsSettings,
    SecretUnavailable,
    parse_secret_ref,
    resolve_secret,
)
from tests.harness.ports import free_port

ACCESS_KEY = "AKIABATONTEST0001"
SECRET_VALUE = "s3cr3t-value-that-must-not-leak"
SHAPES = "env:NAME, file:/absolute/path or aws-sm:<secret id or ARN>[#key]"
ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:erp/acme-AbCdEf"


@dataclass
class FakeSecretsManager:
    """Secrets by id or ARN, the requests seen, and a queue of errors to answer with."""

    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    url: str = ""

    def answer(self, target: str, auth: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        scope = re.search(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request", auth)
        self.requests.append(
            {
                "target": target,
                "payload": payload,
                "access_key": scope.group(1) if scope else None,
                "region": scope.group(2) if scope else None,
                "service": scope.group(3) if scope else None,
            }
        )
        if self.errors:
            status, code = self.errors.pop(0)
            return status, {"__type": code, "message": f"stand-in {code}"}
        if target != "secretsmanager.GetSecretValue":
            return 400, {"__type": "InvalidRequestException", "message": target}
        secret = self.secrets.get(payload.get("SecretId", ""))
        if secret is None:
            return 400, {
                "__type": "ResourceNotFoundException",
                "message": "Secrets Manager can't find the specified secret.",
            }
        return 200, {
            "ARN": ARN,
            "Name": payload["SecretId"],
            "VersionId": "v1",
            "VersionStages": ["AWSCURRENT"],
            "CreatedDate": 1_700_000_000.0,
            **secret,
        }


def _handler(fake: FakeSecretsManager) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length) or b"{}")
            status, body = fake.answer(
                self.headers.get("X-Amz-Target", ""),
                self.headers.get("Authorization", ""),
                payload,
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def secrets_manager(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[FakeSecretsManager]:
    """A Secrets Manager stand-in on loopback, and AWS credentials for boto3 to sign with."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-access-key")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    fake = FakeSecretsManager()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def aws_resolver(fake: FakeSecretsManager, **overrides: Any) -> SecretResolver:
    settings = {"aws_endpoint_url": fake.url, "aws_max_attempts": 1, **overrides}
    return SecretResolver(SecretsSettings(**settings))


class Holder(BaseModel):
    """A model holding a reference, as plugin settings do."""

    model_config = ConfigDict(hide_input_in_errors=True)

    ref: SecretRef


# --- references -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("env:ERP_TOKEN", ParsedSecretRef("env", "ERP_TOKEN")),
        ("env:_x1", ParsedSecretRef("env", "_x1")),
        ("file:/run/secrets/erp token", ParsedSecretRef("file", "/run/secrets/erp token")),
        ("aws-sm:erp/acme", ParsedSecretRef("aws-sm", "erp/acme")),
        ("aws-sm:erp/acme#password", ParsedSecretRef("aws-sm", "erp/acme", "password")),
        (f"aws-sm:{ARN}#api.key", ParsedSecretRef("aws-sm", ARN, "api.key")),
    ],
)
def test_references_parse_into_their_parts(ref: str, parsed: ParsedSecretRef) -> None:
    assert parse_secret_ref(ref) == parsed
    assert Holder(ref=ref).ref == ref


@pytest.mark.parametrize(
    "ref",
    [
        SECRET_VALUE,
        "",
        "env:",
        "env:1ABC",
        "env:ERP-TOKEN",
        "ENV:ERP_TOKEN",
        "file:relative/path",
        "file:",
        "file:/etc/x\nenv:Y",
        "aws-sm:",
        "aws-sm:#key",
        "aws-sm:name#",
        "aws-sm:has space",
        "vault:secret/erp",
        "https://example.com/token",
        "file:/" + "x" * 2100,
    ],
)
def test_anything_else_is_refused_without_repeating_it(ref: str) -> None:
    with pytest.raises(InvalidSecretRef) as parse_error:
        parse_secret_ref(ref)
    with pytest.raises(ValidationError) as model_error:
        Holder(ref=ref)
    with pytest.raises(SecretUnavailable) as resolve_error:
        resolve_secret(ref)

    expected = "not a secret reference: expected " + SHAPES
    assert str(parse_error.value) == expected
    assert str(resolve_error.value) == f"a secret is unavailable: {expected}"
    [detail] = model_error.value.errors()
    assert detail["msg"] == f"Value error, {expected}" or detail["type"] == "string_too_long"
    if ref not in SHAPES:
        assert ref not in str(model_error.value)
    assert resolve_error.value.ref is None
    assert not resolve_error.value.retryable


# --- env: and file: ---------------------------------------------------------------------


def test_env_reference_reads_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_ERP_TOKEN", SECRET_VALUE)

    secret = resolve_secret("env:ACME_ERP_TOKEN")

    assert secret.get_secret_value() == SECRET_VALUE
    assert SECRET_VALUE not in repr(secret)
    assert SECRET_VALUE not in str(secret)


@pytest.mark.parametrize(("value", "reason"), [(None, "is not set"), ("", "is empty")])
def test_missing_or_empty_env_variable_names_the_reference(
    monkeypatch: pytest.MonkeyPatch, value: str | None, reason: str
) -> None:
    monkeypatch.delenv("ACME_MISSING", raising=False)
    if value is not None:
        monkeypatch.setenv("ACME_MISSING", value)

    with pytest.raises(SecretUnavailable) as failure:
        resolve_secret("env:ACME_MISSING")

    assert "'env:ACME_MISSING'" in str(failure.value)
    assert reason in str(failure.value)
    assert failure.value.ref == "env:ACME_MISSING"
    assert not failure.value.retryable


def test_env_prefixes_limit_the_variables_references_may_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATON_SECURITY__SECRET_KEY", "baton-own-key")
    monkeypatch.setenv("ERP_SECRET_ACME", SECRET_VALUE)
    resolver = SecretResolver(SecretsSettings(env_prefixes=("ERP_SECRET_",)))

    assert resolver.resolve("env:ERP_SECRET_ACME").get_secret_value() == SECRET_VALUE
    with pytest.raises(SecretUnavailable) as failure:
        resolver.resolve("env:BATON_SECURITY__SECRET_KEY")
    assert "baton-own-key" not in str(failure.value)
    assert "not one secrets may name" in str(failure.value)


def test_file_reference_reads_the_stripped_contents(tmp_path: Path) -> None:
    path = tmp_path / "erp token"
    path.write_text(f"\n  {SECRET_VALUE}\n\n", encoding="utf-8")

    assert resolve_secret(f"file:{path}").get_secret_value() == SECRET_VALUE


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "does not exist"),
        (b" \n\t\n", "is empty"),
        (b"\xff\xfe\x00secret", "not UTF-8"),
        (b"x" * (64 * 1024 + 1), "larger than"),
    ],
    ids=["missing", "blank", "binary", "too-large"],
)
def test_unreadable_files_name_the_reference_only(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "secret"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(SecretUnavailable) as failure:
        resolve_secret(f"file:{path}")

    assert str(failure.value).startswith(f"secret 'file:{path}' is unavailable: ")
    assert reason in str(failure.value)


def test_a_directory_is_not_a_secret_file(tmp_path: Path) -> None:
    with pytest.raises(SecretUnavailable, match="cannot be read"):
        resolve_secret(f"file:{tmp_path}")


def test_file_roots_limit_where_references_may_read(tmp_path: Path) -> None:
    allowed, elsewhere = tmp_path / "secrets", tmp_path / "elsewhere"
    allowed.mkdir()
    elsewhere.mkdir()
    (allowed / "erp").write_text(SECRET_VALUE)
    (elsewhere / "key").write_text("not for orgs")
    (allowed / "sneaky").symlink_to(elsewhere / "key")
    resolver = SecretResolver(SecretsSettings(file_roots=(allowed,)))

    assert resolver.resolve(f"file:{allowed / 'erp'}").get_secret_value() == SECRET_VALUE
    for path in (elsewhere / "key", allowed / "sneaky", allowed / ".." / "elsewhere" / "key"):
        with pytest.raises(SecretUnavailable, match="not in a folder secrets may be read from"):
            resolver.resolve(f"file:{path}")


async def test_resolve_async_reads_on_a_thread(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(SECRET_VALUE)

    secret = await SecretResolver().resolve_async(f"file:{path}")

    assert secret.get_secret_value() == SECRET_VALUE


# --- aws-sm: ----------------------------------------------------------------------------


def test_aws_reference_reads_the_secret_string(secrets_manager: FakeSecretsManager) -> None:
    secrets_manager.secrets["erp/acme"] = {"SecretString": SECRET_VALUE}
    resolver = aws_resolver(secrets_manager, aws_region="eu-west-1")

    secret = resolver.resolve("aws-sm:erp/acme")

    assert secret.get_secret_value() == SECRET_VALUE
    [request] = secrets_manager.requests
    assert request == {
        "target": "secretsmanager.GetSecretValue",
        "payload": {"SecretId": "erp/acme"},
        "access_key": ACCESS_KEY,
        "region": "eu-west-1",
        "service": "secretsmanager",
    }


def test_aws_json_key_picks_one_value(secrets_manager: FakeSecretsManager) -> None:
    document = {"username": "baton", "password": SECRET_VALUE, "port": 8443}
    secrets_manager.secrets["erp/acme"] = {"SecretString": json.dumps(document)}
    resolver = aws_resolver(secrets_manager, aws_region="eu-west-1")

    assert resolver.resolve("aws-sm:erp/acme#password").get_secret_value() == SECRET_VALUE
    assert resolver.resolve("aws-sm:erp/acme#port").get_secret_value() == "8443"


def test_aws_binary_secret_is_read_as_text(secrets_manager: FakeSecretsManager) -> None:
    blob = base64.b64encode(json.dumps({"token": SECRET_VALUE}).encode()).decode()
    secrets_manager.secrets["erp/binary"] = {"SecretBinary": blob}
    resolver = aws_resolver(secrets_manager, aws_region="eu-west-1")

    assert resolver.resolve("aws-sm:erp/binary#token").get_secret_value() == SECRET_VALUE


def test_aws_region_comes_from_the_arn_then_settings_then_boto3(
    secrets_manager: FakeSecretsManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets_manager.secrets[ARN] = {"SecretString": "from-arn"}
    secrets_manager.secrets["plain"] = {"SecretString": "from-name"}
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")

    aws_resolver(secrets_manager, aws_region="us-west-2").resolve(f"aws-sm:{ARN}")
    aws_resolver(secrets_manager, aws_region="us-west-2").resolve("aws-sm:plain")
    aws_resolver(secrets_manager).resolve("aws-sm:plain")

    regions = [request["region"] for request in secrets_manager.requests]
    assert regions == ["eu-central-1", "us-west-2", "ap-southeast-2"]


def test_no_aws_region_anywhere_is_a_clear_final_error(
    secrets_manager: FakeSecretsManager,
) -> None:
    with pytest.raises(SecretUnavailable) as failure:
        aws_resolver(secrets_manager).resolve("aws-sm:erp/acme")

    assert "'aws-sm:erp/acme'" in str(failure.value)
    assert "region" in str(failure.value)
    assert not failure.value.retryable
    assert secrets_manager.requests == []


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        ((400, "ResourceNotFoundException"), False),
        ((400, "AccessDeniedException"), False),
        ((400, "DecryptionFailure"), False),
        ((400, "ThrottlingException"), True),
        ((500, "InternalServiceError"), True),
    ],
)
def test_aws_errors_say_whether_a_retry_can_help(
    secrets_manager: FakeSecretsManager, error: tuple[int, str], retryable: bool
) -> None:
    secrets_manager.errors.append(error)

    with pytest.raises(SecretUnavailable) as failure:
        aws_resolver(secrets_manager, aws_region="eu-west-1").resolve("aws-sm:erp/acme")

    assert str(failure.value) == (
        f"secret 'aws-sm:erp/acme' is unavailable: AWS Secrets Manager answered {error[1]}"
    )
    assert failure.value.retryable is retryable


def test_unknown_aws_secret_is_not_found(secrets_manager: FakeSecretsManager) -> None:
    with pytest.raises(SecretUnavailable, match="ResourceNotFoundException"):
        aws_resolver(secrets_manager, aws_region="eu-west-1").resolve("aws-sm:erp/nobody")


def test_unreachable_aws_endpoint_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-access-key")
    url = f"http://127.0.0.1:{free_port()}"
    resolver = SecretResolver(
        SecretsSettings(aws_endpoint_url=url, aws_region="eu-west-1", aws_max_attempts=1)
    )

    with pytest.raises(SecretUnavailable) as failure:
        resolver.resolve("aws-sm:erp/acme")

    assert "unreachable" in str(failure.value)
    assert failure.value.retryable


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (SECRET_VALUE, "not a JSON object"),
        (json.dumps([SECRET_VALUE]), "not a JSON object"),
        (json.dumps({"other": SECRET_VALUE}), "has no key 'password'"),
        (json.dumps({"password": {"nested": SECRET_VALUE}}), "not text or a number"),
        (json.dumps({"password": ""}), "is empty"),
    ],
)
def test_aws_json_key_problems_never_show_the_secret(
    secrets_manager: FakeSecretsManager, caplog: pytest.LogCaptureFixture, stored: str, reason: str
) -> None:
    secrets_manager.secrets["erp/acme"] = {"SecretString": stored}
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SecretUnavailable) as failure:
        aws_resolver(secrets_manager, aws_region="eu-west-1").resolve("aws-sm:erp/acme#password")

    assert reason in str(failure.value)
    assert SECRET_VALUE not in str(failure.value)
    assert SECRET_VALUE not in repr(failure.value.__cause__)
    ours = [record for record in caplog.records if not record.name.startswith("botocore")]
    assert all(SECRET_VALUE not in record.getMessage() for record in ours)
