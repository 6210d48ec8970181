"""Settings: environment and .env nesting, production switches, and secrets kept out of logs."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from config.settings import Settings


def test_nested_environment_variables_switch_every_part_to_production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "BATON_ENVIRONMENT": "production",
        "BATON_DATABASE__URL": "postgresql+asyncpg://baton:pw@db/baton",
        "BATON_STORAGE__BACKEND": "s3",
        "BATON_STORAGE__S3_ENDPOINT_URL": "https://s3.example.com",
        "BATON_MAIL__SMTP_HOST": "smtp.example.com",
        "BATON_MAIL__SMTP_SECURITY": "starttls",
        "BATON_TEMPORAL__ADDRESS": "acme.tmprl.cloud:7233",
        "BATON_TEMPORAL__TLS": "true",
        "BATON_TEMPORAL__API_KEY": "temporal-api-key-value",
        "BATON_SECURITY__SECRET_KEY": "a-production-secret-key-value",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.database.url.startswith("postgresql+asyncpg://")
    assert settings.storage.backend == "s3"
    assert settings.mail.smtp_security == "starttls"
    assert settings.temporal.tls
    assert settings.secret_key() == "a-production-secret-key-value"


def test_dot_env_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text('BATON_API__PORT=9100\nBATON_WORKER__QUEUES=["io"]\n')
    settings = Settings()
    assert settings.api.port == 9100
    assert settings.worker.queues == ["io"]


def test_secrets_never_show_in_logs_or_dumps(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATON_MAIL__SMTP_PASSWORD", "smtp-password-value")
    monkeypatch.setenv("BATON_SECURITY__SECRET_KEY", "secret-key-value")
    monkeypatch.setenv("BATON_STORAGE__S3_SECRET_ACCESS_KEY", "s3-secret-value")
    settings = Settings()
    with caplog.at_level(logging.INFO):
        logging.getLogger("baton.test").info("settings: %s", settings)
    shown = caplog.text + repr(settings) + settings.model_dump_json()
    for secret in ("smtp-password-value", "secret-key-value", "s3-secret-value"):
        assert secret not in shown


def test_production_refuses_to_run_without_a_secret_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATON_ENVIRONMENT", "production")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        Settings().secret_key()


def test_development_key_is_made_once_and_kept_private(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    first = Settings(data_dir=tmp_path / "data").secret_key()
    second = Settings(data_dir=tmp_path / "data").secret_key()
    assert first == second and len(first) >= 32
    mode = os.stat(tmp_path / "data" / "secret_key").st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_unknown_values_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATON_STORAGE__BACKEND", "ftp")
    with pytest.raises(ValueError, match="backend"):
        Settings()
