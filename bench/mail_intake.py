"""Mail intake throughput: messages per second through a real mailbox, cost split by phase.

Run `python -m bench.mail_intake [--messages 200 --invoices 50 --chunk 10] [--json]`.

A throwaway Dovecot server holds a mixed inbox (invoices from the demo supplier, and notes,
unknown senders and spoofed mail that intake records as unidentified). The product's real
workers (temp SQLite database with the demo data, local files, a capturing SMTP server) run on an
embedded dev server; one `MailIntakeWorkflow` check takes everything in and the invoices start
their AP runs. Printed next to it, measured in the same run on the same messages: the IMAP floor,
the same messages only fetched and filed by `ImapMailbox`, with nothing recorded or started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from dataclasses import asdict, dataclass

from temporalio.client import Client

from activities.mail_intake.imap_mailbox import ImapAccount, ImapMailbox
from bench.baseline import MachineFacts, machine_facts
from bench.floor import embedded_dev_server
from bench.product_stack import product_stack
from config.settings import Settings
from models.mailboxes import MailIntakeResult, PhaseTimes
from tests.harness.dovecot import DovecotServer
from tests.harness.mime_messages import plain_mail
from tests.workflows.mail_scenarios import (
    INBOX_ADDRESS,
    SUPPLIER,
    add_mailbox,
    invoice_message,
    run_intake,
    supplier_results,
)

log = logging.getLogger("bench.mail_intake")

PASSWORD = "bench-password"


@dataclass(frozen=True)
class IntakeFigures:
    """One intake check of the whole inbox."""

    messages: int
    invoices_started: int
    elapsed_s: float
    messages_per_second: float
    ms_per_message: dict[str, float]


@dataclass(frozen=True)
class FloorFigures:
    """The same messages fetched and filed by the IMAP client alone."""

    messages: int
    elapsed_s: float
    messages_per_second: float


@dataclass(frozen=True)
class MailBenchFigures:
    """Intake and its IMAP floor, measured in the same run."""

    machine: MachineFacts
    intake: IntakeFigures
    imap_floor: FloorFigures


def mixed_inbox(messages: int, invoices: int) -> list[bytes]:
    """`invoices` invoice mails among `messages`, the rest unidentified in three ways."""
    token = uuid.uuid4().hex[:6]
    spoofed = supplier_results(dmarc="fail", spf="fail", dkim="fail")
    spread = messages / max(1, invoices)
    invoice_positions = {int(index * spread) for index in range(min(invoices, messages))}
    out: list[bytes] = []
    for number in range(messages):
        if number in invoice_positions:
            out.append(invoice_message(f"-b{token}-{number}"))
        elif number % 3 == 0:
            out.append(plain_mail(SUPPLIER, INBOX_ADDRESS, f"Statement {number}"))
        elif number % 3 == 1:
            out.append(invoice_message(f"-u{token}-{number}", sender=f"a{number}@unknown.example"))
        else:
            out.append(invoice_message(f"-s{token}-{number}", authentication_results=spoofed))
    return out


def per_message(phases: PhaseTimes, messages: int) -> dict[str, float]:
    """Milliseconds per message in each phase."""
    return {name: getattr(phases, name) * 1000 / messages for name in type(phases).model_fields}


async def measure_intake(
    client: Client, settings: Settings, mailbox_id: int, messages: int, chunk: int
) -> IntakeFigures:
    """One check of the inbox, timed from start to result."""
    started = time.perf_counter()
    result: MailIntakeResult = await run_intake(
        client, settings, mailbox_id, batch_size=messages, chunk_size=chunk
    )
    elapsed = time.perf_counter() - started
    return IntakeFigures(
        messages=result.seen,
        invoices_started=result.handled.get("started", 0),
        elapsed_s=elapsed,
        messages_per_second=result.seen / elapsed,
        ms_per_message=per_message(result.phases, max(1, result.seen)),
    )


async def measure_floor(account: ImapAccount) -> FloorFigures:
    """Fetch and file every unseen message, one connection, nothing else."""
    started = time.perf_counter()
    async with ImapMailbox(account) as mailbox:
        found = await mailbox.unseen()
        for summary in found:
            await mailbox.fetch(summary.uid)
            await mailbox.file(summary.uid)
    elapsed = time.perf_counter() - started
    return FloorFigures(len(found), elapsed, len(found) / elapsed)


async def run_bench(options: argparse.Namespace) -> MailBenchFigures:
    """Fill two mailboxes with the same mail; take one in, fetch and file the other."""
    inbox = mixed_inbox(options.messages, options.invoices)
    server = DovecotServer()
    server.start()
    try:
        async with embedded_dev_server() as client, product_stack(client) as product:
            settings, sessions, scratch = product.settings, product.sessions, product.scratch
            for user in ("intake", "floor"):
                server.add_user(user, PASSWORD)
                server.append_many(user, PASSWORD, "INBOX", inbox)
            mailbox = await add_mailbox(
                sessions, server.host, server.port, "intake", PASSWORD, scratch / "secrets"
            )
            assert mailbox.id is not None
            floor = await measure_floor(
                ImapAccount(server.host, server.port, "none", "floor", PASSWORD)
            )
            intake = await measure_intake(
                client, settings, mailbox.id, options.messages, options.chunk
            )
            return MailBenchFigures(machine=machine_facts(), intake=intake, imap_floor=floor)
    finally:
        server.remove()


def format_table(figures: MailBenchFigures) -> str:
    """The figures as a few lines of text."""
    intake, floor = figures.intake, figures.imap_floor
    phases = ", ".join(f"{name} {ms:.1f}" for name, ms in intake.ms_per_message.items())
    return "\n".join(
        [
            f"machine: {figures.machine.cores} cores, {figures.machine.temporal_server}",
            f"intake: {intake.messages} messages ({intake.invoices_started} invoices started) in "
            f"{intake.elapsed_s:.1f} s = {intake.messages_per_second:.1f} messages/s",
            f"  ms per message by phase: {phases}",
            f"IMAP floor (fetch + file only, same messages): {floor.messages_per_second:.1f} "
            f"messages/s",
            f"intake = {intake.messages_per_second / floor.messages_per_second:.2f} x IMAP floor",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--invoices", type=int, default=50)
    parser.add_argument("--chunk", type=int, default=10, help="messages per activity")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    options = parse_args(argv)
    figures = asyncio.run(run_bench(options))
    if options.json:
        sys.stdout.write(json.dumps(asdict(figures), indent=2) + "\n")
    else:
        sys.stdout.write(format_table(figures) + "\n")
    return 0 if figures.intake.messages == options.messages else 1


if __name__ == "__main__":
    sys.exit(main())
