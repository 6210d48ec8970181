"""The decision in an approval reply mail: APPROVE or REJECT on the first line of the new text,
and the reason after it (pure).

Only what the replier wrote counts: quoted lines (`> ...`) are skipped, and the text ends at the
quoted mail's header ("On ... wrote:", "-----Original Message-----", "Von:", "Le ... a écrit :"),
at a signature ("-- ") or at a "Sent from my ..." line.
"""

from __future__ import annotations

import re

from models.mail import ReplyCommand

MAX_REASON_CHARS = 2000

_COMMAND = re.compile(r"[*_\s]*(approved?|reject(?:ed)?)\b(?![?\w])[*_]*(.*)", re.IGNORECASE)
_SEPARATORS = " \t:-\u2013\u2014*_.,!"
_QUOTE_HEADERS = (
    re.compile(r"on\b.*\bwrote\s*:", re.IGNORECASE),
    re.compile(r"am\b.*\bschrieb\b.*:", re.IGNORECASE),
    re.compile(r"le\b.*\ba\s+écrit\s*:", re.IGNORECASE),
)
_QUOTE_HEADER_LINES = 3
"""A quote header may be wrapped over this many lines ("On Mon, ... <a@b.c>" / "wrote:")."""
_END_LINES = (
    re.compile(
        r"-{2,}\s*(original message|ursprüngliche nachricht|message d'origine)\s*-{2,}",
        re.IGNORECASE,
    ),
    re.compile(r"(from|von|de)\s?:\s.*", re.IGNORECASE),
    re.compile(r"_{10,}"),
    re.compile(r"(sent from my|von meinem)\b.*", re.IGNORECASE),
)


def parse_reply_command(body_text: str) -> ReplyCommand | None:
    """The APPROVE / REJECT command (also APPROVED / REJECTED, any case) that opens the reply's
    new text, with its reason; None when the new text does not open with one."""
    lines = new_text_lines(body_text)
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None
    match = _COMMAND.fullmatch(lines[first])
    if match is None:
        return None
    word, rest = match.groups()
    decision = "approve" if word.casefold().startswith("approve") else "reject"
    reason_lines = [
        rest.lstrip(_SEPARATORS).rstrip(),
        *(line.rstrip() for line in lines[first + 1 :]),
    ]
    reason = "\n".join(reason_lines).strip()
    return ReplyCommand(decision=decision, reason=reason[:MAX_REASON_CHARS].strip())


def new_text_lines(body_text: str) -> list[str]:
    """The lines the replier wrote: up to the quoted mail, without quoted (`>`) lines."""
    lines = body_text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if _ends_new_text(lines, index, stripped):
            break
        if not stripped.startswith(">"):
            kept.append(line)
    return kept


def _ends_new_text(lines: list[str], index: int, stripped: str) -> bool:
    """Whether the line starts the quoted mail, a signature ("-- ") or a mobile footer."""
    if lines[index].rstrip() == "--" or any(end.fullmatch(stripped) for end in _END_LINES):
        return True
    for count in range(1, _QUOTE_HEADER_LINES + 1):
        joined = " ".join(line.strip() for line in lines[index : index + count])
        if any(header.fullmatch(joined) for header in _QUOTE_HEADERS):
            return True
    return False
