"""An approver answers by mail: APPROVE or REJECT first, the reason after, the quote ignored."""

from __future__ import annotations

import pytest

from activities.mail_intake.reply_commands import MAX_REASON_CHARS, parse_reply_command
from models.mail import ReplyCommand

QUOTE = "> Invoice 2024-7 from Lieferant GmbH needs your approval.\n> Reply APPROVE or REJECT."


@pytest.mark.parametrize(
    ("body", "decision", "reason"),
    [
        ("APPROVE", "approve", ""),
        ("approve\r\n", "approve", ""),
        ("Approved.", "approve", ""),
        ("approved: prices as agreed", "approve", "prices as agreed"),
        ("REJECT - wrong amount.", "reject", "wrong amount."),
        ("Approve, thanks!", "approve", "thanks!"),
        ("Rejected \u2014 duplicate of 2024-6", "reject", "duplicate of 2024-6"),
        ("  *REJECT*: not ordered", "reject", "not ordered"),
        ("\n\n   \nREJECT", "reject", ""),
        (
            "Reject\nThe total should be 1,200.\n\nCall me.",
            "reject",
            "The total should be 1,200.\n\nCall me.",
        ),
    ],
)
def test_commands_and_reasons(body: str, decision: str, reason: str) -> None:
    assert parse_reply_command(body) == ReplyCommand(decision=decision, reason=reason)


@pytest.mark.parametrize(
    "separator",
    [
        "On Mon, 4 Mar 2024 at 10:15, Baton <ap@acme.example> wrote:",
        "On Mon, 4 Mar 2024 at 10:15, Baton Approvals <\nap@acme.example> wrote:",
        "-----Original Message-----",
        "----- Ursprüngliche Nachricht -----",
        "Von: Baton <ap@acme.example>\nGesendet: Montag, 4. März 2024 10:15",
        "From: Baton <ap@acme.example>\nSent: Monday, March 4, 2024 10:15 AM",
        "Le lun. 4 mars 2024 à 10:15, Baton <ap@acme.example> a écrit :",
        "Am Mo., 4. März 2024 um 10:15 Uhr schrieb Baton <ap@acme.example>:",
        "________________________________",
        "-- \nAnna Schmidt\nHead of Purchasing",
        "Sent from my iPhone",
    ],
)
def test_the_quoted_mail_is_not_part_of_the_reason(separator: str) -> None:
    body = f"REJECT: not ordered by us\nPlease check.\n\n{separator}\nAPPROVE\n{QUOTE}"
    assert parse_reply_command(body) == ReplyCommand(
        decision="reject", reason="not ordered by us\nPlease check."
    )


def test_quoted_lines_are_skipped() -> None:
    body = f"{QUOTE}\n\nREJECT wrong cost centre\n> APPROVE\nuse 4400"
    assert parse_reply_command(body) == ReplyCommand(
        decision="reject", reason="wrong cost centre\nuse 4400"
    )


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   \n\n",
        QUOTE,
        "Can you approve? I am not sure.\nAPPROVE",
        "Approve?",
        "Rejection is not an option",
        "Approvers: please look at this",
        "I approve",
        "On Mon, 4 Mar 2024, Baton wrote:\nAPPROVE",
    ],
)
def test_no_command(body: str) -> None:
    assert parse_reply_command(body) is None


def test_long_reasons_are_capped() -> None:
    command = parse_reply_command("REJECT " + "x" * (MAX_REASON_CHARS + 100))
    assert command is not None and len(command.reason) == MAX_REASON_CHARS
