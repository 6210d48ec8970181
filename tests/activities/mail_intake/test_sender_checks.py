"""Only the trusted server's Authentication-Results count; look-alike domains are refused."""

from __future__ import annotations

import pytest

from activities.mail_intake.sender_checks import (
    read_authentication_results,
    sender_domain_known,
    sender_spoofed,
)
from models.mail import AuthVerdict
from tests.harness.mime_messages import authentication_results

TRUSTED = ["mx.example.org"]


def verdict_of(*values: str, trusted: list[str] = TRUSTED) -> AuthVerdict:
    return read_authentication_results(list(values), trusted)


def test_the_trusted_header_is_read() -> None:
    verdict = verdict_of(authentication_results("mx.example.org", domain="lieferant.de"))
    assert verdict == AuthVerdict(
        authserv_id="mx.example.org",
        dmarc="pass",
        spf="pass",
        dkim="pass",
        trusted=True,
        header_from="lieferant.de",
        smtp_mailfrom="bounce@lieferant.de",
        dkim_domain="lieferant.de",
    )


def test_a_forged_pass_below_the_trusted_header_is_ignored() -> None:
    genuine = authentication_results("mx.example.org", domain="lieferant.de", dmarc="fail")
    forged = "mx.example.org; dmarc=pass header.from=lieferant.de"
    verdict = verdict_of(genuine, forged)
    assert verdict.dmarc == "fail"
    assert (
        sender_spoofed(verdict, require_authentication=False)
        == "DMARC failed for lieferant.de (authserv-id mx.example.org)"
    )


def test_a_header_of_another_server_is_ignored() -> None:
    verdict = verdict_of("mx.spammer.example; dmarc=pass; spf=pass; dkim=pass")
    assert not verdict.trusted
    assert verdict.dmarc == "unknown"
    assert sender_spoofed(verdict, require_authentication=False) is None
    assert (
        sender_spoofed(verdict, require_authentication=True)
        == "the mail carries no Authentication-Results of a trusted server"
    )


def test_authserv_ids_match_without_case_and_may_carry_a_version() -> None:
    verdict = verdict_of("MX.Example.ORG 1; dmarc=pass header.from=lieferant.de")
    assert verdict.trusted and verdict.dmarc == "pass"


def test_comments_and_quoted_values_do_not_split_clauses() -> None:
    value = (
        "mx.example.org; spf=pass (sender IP is 192.0.2.1; (nested) ok) "
        'smtp.mailfrom="a;b@lieferant.de"; dkim=fail reason="bad; signature" header.d=x.de; '
        "dmarc=pass header.from=lieferant.de"
    )
    verdict = verdict_of(value)
    assert (verdict.spf, verdict.dkim, verdict.dmarc) == ("pass", "fail", "pass")
    assert verdict.smtp_mailfrom == "a;b@lieferant.de"
    assert verdict.dkim_domain == "x.de"


def test_odd_results_are_read_safely() -> None:
    verdict = verdict_of(
        "mx.example.org; spf=hardfail; dkim=fail header.d=a.de; dkim=pass header.i=@lieferant.de;"
        " dmarc=bestguesspass; garbage without equals; =pass"
    )
    assert (verdict.spf, verdict.dkim, verdict.dmarc) == ("fail", "pass", "unknown")
    assert verdict.dkim_domain == "lieferant.de"
    assert verdict_of("mx.example.org; none").trusted
    assert not verdict_of("", "   ", ";;;").trusted


def test_spf_failure_without_dmarc_or_dkim_is_spoofing() -> None:
    verdict = verdict_of("mx.example.org; spf=softfail smtp.mailfrom=evil.example; dkim=none")
    assert (
        sender_spoofed(verdict, require_authentication=False)
        == "SPF softfail for evil.example, DKIM none and no DMARC result "
        "(authserv-id mx.example.org)"
    )
    signed = verdict_of("mx.example.org; spf=fail smtp.mailfrom=x.de; dkim=pass header.d=x.de")
    assert sender_spoofed(signed, require_authentication=False) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("mx.example.org; dmarc=pass header.from=lieferant.de", None),
        ("mx.example.org; spf=pass smtp.mailfrom=bounce@mail.lieferant.de", None),
        ("mx.example.org; dkim=pass header.d=lieferant.de", None),
        (
            "mx.example.org; spf=pass smtp.mailfrom=bounce@evil.example",
            "no DMARC, SPF or DKIM pass for lieferant.de "
            "(dmarc=unknown, spf=pass, dkim=unknown; authserv-id mx.example.org)",
        ),
        (
            "mx.example.org; spf=neutral; dkim=none; dmarc=none",
            "no DMARC, SPF or DKIM pass for lieferant.de "
            "(dmarc=none, spf=neutral, dkim=none; authserv-id mx.example.org)",
        ),
    ],
    ids=["dmarc", "spf-subdomain", "dkim", "spf-other-domain", "nothing"],
)
def test_required_authentication_needs_a_pass_for_the_sender(
    value: str, reason: str | None
) -> None:
    verdict = verdict_of(value)
    assert sender_spoofed(verdict, require_authentication=True, from_domain="lieferant.de") == (
        reason
    )


@pytest.mark.parametrize(
    "domain",
    ["lieferant.de", "LIEFERANT.DE", "mail.lieferant.de", "a.b.lieferant.de", "müller.de"],
)
def test_supplier_domains_and_their_subdomains_are_known(domain: str) -> None:
    assert sender_domain_known(domain, ["@Lieferant.de", "*.xn--mller-kva.de"])


@pytest.mark.parametrize(
    "domain",
    [
        "lieferant.de.evil.com",
        "evil-lieferant.de",
        "lieferant.de-invoices.com",
        "lieferant.com",
        "xn--lieferant-abc.de",
        "",
        "not a domain",
    ],
)
def test_look_alike_domains_are_not_known(domain: str) -> None:
    assert not sender_domain_known(domain, ["lieferant.de", "müller.de"])
