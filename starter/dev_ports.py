"""The ports the local stack listens on, and a clear refusal when one is taken."""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import dataclass

from config.settings import Settings

LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", ""})
ALL_INTERFACES = frozenset({"0.0.0.0", "::"})


@dataclass(frozen=True)
class StackPort:
    """A port a server of the local stack needs, and the setting that chooses it."""

    purpose: str
    host: str
    port: int
    setting: str


class PortInUse(RuntimeError):
    """A port the stack needs is taken, or two servers were given the same port."""


def probe_host(host: str) -> str:
    """The address to reach a server listening on `host` from this machine."""
    return LOOPBACK if host in ALL_INTERFACES or host in LOOPBACK_NAMES else host


def is_loopback(host: str) -> bool:
    """Whether the host name or address means this machine."""
    return host in LOOPBACK_NAMES


def _bind_address(host: str) -> str:
    if host in LOOPBACK_NAMES:
        return LOOPBACK
    if host in ALL_INTERFACES:
        return "0.0.0.0"
    return host


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port right now (as servers do, with SO_REUSEADDR)."""
    address = _bind_address(host)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def temporal_port(settings: Settings) -> StackPort:
    """The dev server's gRPC port."""
    return StackPort(
        "Temporal server", LOOPBACK, settings.dev.temporal_port, "BATON_DEV__TEMPORAL_PORT"
    )


def service_ports(
    settings: Settings, *, with_temporal_ui: bool, with_mail: bool
) -> list[StackPort]:
    """The ports of the servers the stack starts besides Temporal's gRPC port."""
    ports: list[StackPort] = []
    if with_temporal_ui:
        ports.append(
            StackPort(
                "Temporal Web UI",
                LOOPBACK,
                settings.dev.temporal_ui_port,
                "BATON_DEV__TEMPORAL_UI_PORT",
            )
        )
    if with_mail:
        ports += [
            StackPort(
                "mail catcher (SMTP)",
                settings.mail.smtp_host,
                settings.mail.smtp_port,
                "BATON_MAIL__SMTP_PORT",
            ),
            StackPort(
                "mail catcher (web inbox)",
                LOOPBACK,
                settings.dev.mail_catcher_port,
                "BATON_DEV__MAIL_CATCHER_PORT",
            ),
        ]
    ports.append(StackPort("API", settings.api.host, settings.api.port, "BATON_API__PORT"))
    return ports


def in_use_message(taken: StackPort) -> str:
    """What to tell a person whose port is taken: which port, by what setting, how to fix it."""
    return (
        f"port {taken.port} for the {taken.purpose} is already in use by another program "
        f"(is another `make dev` running?). Stop that program, or choose another port with "
        f"{taken.setting}=... in the environment or in .env"
    )


def check_ports_free(ports: list[StackPort]) -> None:
    """Raises `PortInUse` naming the first port that clashes with another or is taken."""
    counts = Counter(port.port for port in ports)
    for port in ports:
        if counts[port.port] > 1:
            clashing = [other.setting for other in ports if other.port == port.port]
            raise PortInUse(
                f"port {port.port} is configured for more than one server "
                f"({', '.join(clashing)}): give each its own port"
            )
    for port in ports:
        if not port_is_free(port.host, port.port):
            raise PortInUse(in_use_message(port))
