"""Who sent a mail: the receiving server's Authentication-Results (RFC 8601) and whether the
sender's domain is a supplier's (pure).

Only headers written by a trusted server (its authserv-id) count: anyone can add an
Authentication-Results header to a mail before sending it. The receiving server prepends its
own, so of several trusted ones the topmost wins.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast, get_args

from activities.text_normalise import normalise_domain, within_domain
from models.mail import AuthResult, AuthVerdict

logger = logging.getLogger(__name__)

_RESULTS = frozenset(get_args(AuthResult))
_ALIASES = {"hardfail": "fail"}
_CLAUSE = re.compile(r"\s*([A-Za-z0-9_-]+)(?:\s*/\s*\d+)?\s*=\s*([A-Za-z]+)(.*)", re.DOTALL)
_PROPERTY = re.compile(r'([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\s*=\s*("[^"]*"|[^\s;]+)')
_NO_RESULT = frozenset({"none", "unknown", "neutral", "temperror", "permerror", "policy"})


@dataclass(frozen=True)
class MethodResult:
    """One `method=result` clause of an Authentication-Results header and its properties."""

    method: str
    result: AuthResult
    properties: dict[str, str] = field(default_factory=dict)


def read_authentication_results(values: list[str], trusted_authserv_ids: list[str]) -> AuthVerdict:
    """The verdict of the topmost Authentication-Results header (values in header order)
    whose authserv-id is trusted (case-insensitive); an untrusted, empty verdict if none is."""
    trusted = {server.strip().casefold() for server in trusted_authserv_ids if server.strip()}
    for value in values:
        authserv_id, results = parse_authentication_results(value)
        if authserv_id is None or authserv_id.casefold() not in trusted:
            if authserv_id is not None:
                logger.debug("Authentication-Results of untrusted %s ignored", authserv_id)
            continue
        return _verdict(authserv_id, results)
    return AuthVerdict()


def parse_authentication_results(value: str) -> tuple[str | None, list[MethodResult]]:
    """The authserv-id of one header value and its `method=result` clauses."""
    clauses = _split_clauses(_strip_comments(value))
    head = clauses[0].split() if clauses else []
    if not head:
        return None, []
    results: list[MethodResult] = []
    for clause in clauses[1:]:
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            continue
        method, result, rest = match.groups()
        properties = {
            f"{ptype.lower()}.{name.lower()}": raw.strip('"')
            for ptype, name, raw in _PROPERTY.findall(rest)
        }
        results.append(MethodResult(method.lower(), _result(result), properties))
    return head[0], results


def sender_spoofed(
    verdict: AuthVerdict, *, require_authentication: bool, from_domain: str | None = None
) -> str | None:
    """Why the mail's sender looks forged, in words; None when nothing says so.

    Forged: the trusted server's DMARC failed; or without a DMARC result, SPF failed and DKIM
    did not pass. With `require_authentication`, also: no trusted header, or none of DMARC, SPF
    and DKIM passed (given `from_domain`, an SPF or DKIM pass counts only for that domain).
    """
    server = f"(authserv-id {verdict.authserv_id})"
    if verdict.trusted and verdict.dmarc == "fail":
        return f"DMARC failed for {verdict.header_from or 'the sender domain'} {server}"
    if (
        verdict.trusted
        and verdict.dmarc in _NO_RESULT
        and verdict.spf in ("fail", "softfail")
        and verdict.dkim != "pass"
    ):
        envelope = verdict.smtp_mailfrom or "the envelope sender"
        return f"SPF {verdict.spf} for {envelope}, DKIM {verdict.dkim} and no DMARC result {server}"
    if not require_authentication:
        return None
    if not verdict.trusted:
        return "the mail carries no Authentication-Results of a trusted server"
    if verdict.dmarc == "pass":
        return None
    if _aligned_passes(verdict, from_domain):
        return None
    results = f"dmarc={verdict.dmarc}, spf={verdict.spf}, dkim={verdict.dkim}"
    sender = f" for {from_domain}" if from_domain else ""
    return f"no DMARC, SPF or DKIM pass{sender} ({results}; authserv-id {verdict.authserv_id})"


def sender_domain_known(domain: str, supplier_domains: Iterable[str]) -> bool:
    """Whether the domain is one of the suppliers' domains or a subdomain of one (look-alikes
    such as `lieferant.de.evil.com` or `evil-lieferant.de` are not)."""
    candidate = normalise_domain(domain)
    if candidate is None:
        return False
    known = (normalise_domain(supplier) for supplier in supplier_domains)
    return any(parent is not None and within_domain(candidate, parent) for parent in known)


def _aligned_passes(verdict: AuthVerdict, from_domain: str | None) -> list[str]:
    """The SPF and DKIM passes that speak for the sender's domain."""
    passed: list[str] = []
    for method, result, domain in (
        ("SPF", verdict.spf, _address_domain(verdict.smtp_mailfrom)),
        ("DKIM", verdict.dkim, verdict.dkim_domain),
    ):
        if result == "pass" and _aligned(domain, from_domain):
            passed.append(method)
    return passed


def _aligned(domain: str | None, from_domain: str | None) -> bool:
    """Relaxed alignment: one domain is the other or a subdomain of it (unknown ones pass)."""
    first = normalise_domain(domain) if domain else None
    second = normalise_domain(from_domain) if from_domain else None
    if first is None or second is None:
        return True
    return within_domain(first, second) or within_domain(second, first)


def _address_domain(value: str | None) -> str | None:
    if not value:
        return None
    return value.rpartition("@")[2] or None


def _verdict(authserv_id: str, results: list[MethodResult]) -> AuthVerdict:
    dmarc = _pick(results, "dmarc")
    spf = _pick(results, "spf")
    dkim = _pick(results, "dkim")
    return AuthVerdict(
        authserv_id=authserv_id,
        trusted=True,
        dmarc=dmarc.result if dmarc else "unknown",
        spf=spf.result if spf else "unknown",
        dkim=dkim.result if dkim else "unknown",
        header_from=dmarc.properties.get("header.from") if dmarc else None,
        smtp_mailfrom=_first(spf, "smtp.mailfrom", "smtp.helo"),
        dkim_domain=_address_domain(_first(dkim, "header.d", "header.i")),
    )


def _pick(results: list[MethodResult], method: str) -> MethodResult | None:
    """A method's result: its first pass (one of several DKIM signatures), else its first."""
    found = [result for result in results if result.method == method]
    return next(
        (result for result in found if result.result == "pass"), found[0] if found else None
    )


def _first(result: MethodResult | None, *names: str) -> str | None:
    if result is None:
        return None
    return next((result.properties[name] for name in names if result.properties.get(name)), None)


def _result(text: str) -> AuthResult:
    word = text.lower()
    word = _ALIASES.get(word, word)
    return cast(AuthResult, word) if word in _RESULTS else "unknown"


def _strip_comments(text: str) -> str:
    """The value without (comments), which may nest; quoted strings are kept as they are."""
    kept: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            escaped = False
            if depth == 0:
                kept.append(char)
            continue
        if char == "\\":
            escaped = True
        elif char == '"' and depth == 0:
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
            continue
        elif not quoted and char == ")" and depth:
            depth -= 1
            continue
        if depth == 0:
            kept.append(char)
    return "".join(kept)


def _split_clauses(text: str) -> list[str]:
    """The `;`-separated clauses, with `;` inside quoted strings left alone."""
    clauses: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            clauses.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    clauses.append("".join(current).strip())
    return clauses
