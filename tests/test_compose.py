"""The container setup, checked without a Docker engine: compose file, Dockerfile, .env.example."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from config.settings import Settings
from config.temporal_names import QUEUE_ROLES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    return dict(_compose()["services"])


def _built_services() -> dict[str, dict[str, Any]]:
    """The services whose image is built from the project's Dockerfile."""
    return {name: spec for name, spec in _services().items() if "build" in spec}


def _command(spec: dict[str, Any]) -> list[str]:
    command = spec.get("command")
    if command is None:
        return _dockerfile_cmd()
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _dockerfile_cmd() -> list[str]:
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("CMD "):
            return [str(part) for part in yaml.safe_load(line.removeprefix("CMD "))]
    raise AssertionError("the Dockerfile has no CMD")


def _environment(spec: dict[str, Any]) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(name): "" if value is None else str(value) for name, value in env.items()}


def _interpolate(value: str) -> str:
    """Compose's `${VAR:-default}` with the defaults; `${VAR:?message}` gets a stand-in."""

    def replace(match: re.Match[str]) -> str:
        op, arg = match["op"], match["arg"]
        if op in (":-", "-"):
            return str(arg)
        if op in (":?", "?"):
            return f"stand-in-for-{match['name'].lower()}"
        return ""

    return _INTERPOLATION.sub(replace, value)


def _setting_names(model: type[BaseModel] = Settings, prefix: str = "BATON_") -> set[str]:
    """Every environment variable the settings read, nested groups joined with `__`."""
    names: set[str] = set()
    for field_name, field in model.model_fields.items():
        name = f"{prefix}{field_name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _setting_names(annotation, f"{name}__")
        else:
            names.add(name)
    return names


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [name for name in os.environ if name.startswith("BATON_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def _module_of(command: list[str]) -> str:
    assert "-m" in command, f"{command} does not run a module with `python -m`"
    assert Path(command[0]).name.startswith("python"), command
    return command[command.index("-m") + 1]


def test_the_compose_file_parses_and_has_the_whole_stack() -> None:
    services = _services()

    expected = {
        "temporal-db",
        "temporal",
        "temporal-ui",
        "search-attributes",
        "app-db",
        "s3",
        "mail",
        "api",
        *(f"worker-{role}" for role in QUEUE_ROLES),
    }
    assert expected <= set(services)
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert _environment(services["temporal"])["DB"] == "postgres12"


def test_every_built_service_runs_a_real_entry_point() -> None:
    built = _built_services()
    assert {"api", "search-attributes", *(f"worker-{role}" for role in QUEUE_ROLES)} <= set(built)

    for name, spec in built.items():
        module = _module_of(_command(spec))
        found = importlib.util.find_spec(module)
        assert found is not None, f"{name} runs `python -m {module}`, which does not exist"
        if found.submodule_search_locations is not None:
            module = f"{module}.__main__"
            assert importlib.util.find_spec(module) is not None, f"{name}: no {module}"
        importlib.import_module(module)
    assert importlib.util.find_spec(_module_of(_dockerfile_cmd())) is not None


def test_each_queue_group_has_its_own_scalable_worker_service() -> None:
    services = _services()

    for role in QUEUE_ROLES:
        spec = services[f"worker-{role}"]
        command = _command(spec)
        assert command[command.index("--queues") + 1] == role
        assert "container_name" not in spec, "a fixed name would stop --scale"
        assert "ports" not in spec, "a host port would stop --scale"


def test_every_baton_variable_in_the_compose_file_is_a_setting() -> None:
    valid = _setting_names()
    compose = _compose()
    sources = dict(_services())
    sources.update(
        {
            key: {"environment": value}
            for key, value in compose.items()
            if key == "x-baton-environment"
        }
    )

    used: set[str] = set()
    for spec in sources.values():
        used |= {name for name in _environment(spec) if name.startswith("BATON_")}

    assert used, "the compose file configures no BATON_ variable"
    assert used <= valid, f"not settings: {sorted(used - valid)}"


@pytest.mark.parametrize("service", ["api", "worker-io", "worker-documents", "search-attributes"])
def test_the_compose_environment_parses_into_production_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        name: _interpolate(value)
        for name, value in _environment(_services()[service]).items()
        if name.startswith("BATON_")
    }

    settings = _settings_from(env, monkeypatch)

    assert settings.environment == "production"
    assert settings.secret_key().startswith("stand-in")
    assert settings.database.url.startswith("postgresql+asyncpg://")
    assert settings.storage.backend == "s3"
    assert settings.storage.s3_endpoint_url
    assert settings.mail.smtp_host == "mail"
    assert settings.temporal.address == "temporal:7233"
    assert settings.api.host == "0.0.0.0"


def test_the_secret_key_has_no_default_in_the_compose_file() -> None:
    value = _environment(_services()["api"])["BATON_SECURITY__SECRET_KEY"]

    assert re.fullmatch(r"\$\{BATON_SECURITY__SECRET_KEY:\?[^}]+\}", value), value


def test_the_image_is_python_3_11_with_ocr_and_pdf_tools() -> None:
    text = DOCKERFILE.read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)

    assert bases, "no FROM line"
    assert all(re.fullmatch(r"python:3\.11(\.\d+)?(-slim)?(-\w+)?", base) for base in bases), bases
    for package in ("tesseract-ocr", "tesseract-ocr-deu", "tesseract-ocr-fra", "poppler-utils"):
        assert re.search(rf"\b{re.escape(package)}\b", text), package
    assert "pip install ." in text


def _env_example_lines() -> tuple[dict[str, str], dict[str, str]]:
    """The active assignments, and the commented `# prod:` examples."""
    active: dict[str, str] = {}
    examples: dict[str, str] = {}
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        if line.startswith("# prod:"):
            name, _, value = line.removeprefix("# prod:").strip().partition("=")
            examples[name] = value
        elif line and not line.startswith("#"):
            name, _, value = line.partition("=")
            active[name] = value
    return active, examples


def test_the_env_example_covers_every_group_with_real_names() -> None:
    active, examples = _env_example_lines()
    valid = _setting_names()
    groups = {
        name for name, field in Settings.model_fields.items() if isinstance(field.annotation, type)
    }

    assert set(active) <= valid, sorted(set(active) - valid)
    assert set(examples) <= valid, sorted(set(examples) - valid)
    for group in groups:
        assert any(name.startswith(f"BATON_{group.upper()}") for name in active), group
    assert "BATON_SECURITY__SECRET_KEY" in examples
    assert "BATON_SECURITY__SECRET_KEY" not in active


def test_the_env_example_values_are_the_development_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    active, _ = _env_example_lines()

    from_example = _settings_from(active, monkeypatch).model_dump()
    defaults = _settings_from({}, monkeypatch).model_dump()

    assert from_example == defaults


def test_the_env_example_production_lines_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    active, examples = _env_example_lines()
    examples = {name: re.sub(r"<[^>]+>", "placeholder", value) for name, value in examples.items()}

    settings = _settings_from({**active, **examples}, monkeypatch)

    assert settings.environment == "production"
    assert settings.storage.backend == "s3"
    assert settings.database.url.startswith("postgresql+asyncpg://")
    assert settings.temporal.tls
    assert settings.secret_key() == "placeholder"
