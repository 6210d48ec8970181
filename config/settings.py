"""Baton's settings: one object with nested groups, read from the environment and `.env`.

Every variable starts with ``BATON_`` and groups nest with ``__``, e.g.
``BATON_DATABASE__URL=postgresql+asyncpg://...`` or ``BATON_STORAGE__BACKEND=s3``.
Nothing else in the project reads the environment.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.secrets import SecretsSettings
from config.temporal_names import QueueRole, TaskQueues


class TemporalSettings(BaseModel):
    """Where the Temporal server is and how to reach it."""

    address: str = "localhost:7233"
    namespace: str = "default"
    tls: bool = False
    tls_client_cert_path: Path | None = None
    tls_client_key_path: Path | None = None
    tls_server_ca_path: Path | None = None
    api_key: SecretStr | None = None
    task_queue_prefix: str = Field(default="", max_length=100, pattern=r"^[A-Za-z0-9_.-]*$")
    ui_url: str = "http://localhost:8233"


class DatabaseSettings(BaseModel):
    """The application database (SQLite by default, PostgreSQL through asyncpg)."""

    url: str = "sqlite+aiosqlite:///data/baton.db"
    echo: bool = False
    migrate_on_start: bool = True


class StorageSettings(BaseModel):
    """Object storage for documents: a local folder, or any S3-compatible endpoint."""

    backend: Literal["local", "s3"] = "local"
    local_root: Path = Path("data/files")
    s3_bucket: str = "baton"
    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    link_ttl_seconds: int = Field(default=300, ge=10, le=86_400)
    max_attachment_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, le=1024 * 1024 * 1024, description="largest upload to a run"
    )


class MailSettings(BaseModel):
    """Outgoing mail (SMTP). The default points at the local mail catcher."""

    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout_seconds: float = 30.0
    sender: str = "Baton <baton@localhost>"
    reply_address: str | None = Field(
        default=None,
        description="an intake mailbox's address: approval emails then carry a reply token and "
        "approvers may answer APPROVE or REJECT by reply",
    )


class SecuritySettings(BaseModel):
    """Keys and lifetimes for API tokens and signed links."""

    secret_key: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_ttl_seconds: int = Field(default=900, ge=30)
    refresh_token_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)


class ApiSettings(BaseModel):
    """The HTTP API: where it listens and the address people reach it at."""

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://localhost:8000"


class WorkerSettings(BaseModel):
    """Which task queues this worker process polls, and how much it runs at once."""

    queues: list[QueueRole] = ["workflows", "documents", "io"]
    max_concurrent_activities: int = Field(default=20, ge=1)
    max_concurrent_workflow_tasks: int = Field(default=50, ge=1)
    sticky_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        description="how long a run's next workflow task waits for the worker that has it "
        "cached before any worker takes it (a dead worker's runs move on after this)",
    )


class DevSettings(BaseModel):
    """The embedded stack that `make dev` runs on one machine."""

    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    mail_catcher_port: int = 8025
    load_demo_data: bool = True


class Settings(BaseSettings):
    """All of Baton's settings."""

    model_config = SettingsConfigDict(
        env_prefix="BATON_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("data")
    log_level: str = "INFO"
    temporal: TemporalSettings = TemporalSettings()
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    mail: MailSettings = MailSettings()
    security: SecuritySettings = SecuritySettings()
    api: ApiSettings = ApiSettings()
    worker: WorkerSettings = WorkerSettings()
    dev: DevSettings = DevSettings()
    secrets: SecretsSettings = SecretsSettings()

    def task_queues(self) -> TaskQueues:
        """The task queue names of this deployment."""
        return TaskQueues(prefix=self.temporal.task_queue_prefix)

    def secret_key(self) -> str:
        """The signing key for tokens and links.

        Production must set ``BATON_SECURITY__SECRET_KEY``. In development a random key is
        created once under the data folder and shared by every process of the local stack.
        """
        if self.security.secret_key is not None:
            return self.security.secret_key.get_secret_value()
        if self.environment == "production":
            raise RuntimeError("BATON_SECURITY__SECRET_KEY must be set in production")
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            candidate = key_file.with_suffix(".tmp")
            candidate.write_text(secrets.token_urlsafe(48))
            candidate.chmod(0o600)
            candidate.replace(key_file)
        return key_file.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
