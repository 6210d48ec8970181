"""Names, item codes and mail domains in the form the invoice checks compare them (pure)."""

from __future__ import annotations

import re
import unicodedata
from email.utils import parseaddr

LEGAL_FORMS: frozenset[str] = frozenset(
    {
        "ab", "ag", "bv", "co", "corp", "corporation", "cv", "ek", "ev", "gbr", "gmbh",
        "haftungsbeschraenkt", "inc", "incorporated", "kg", "kgaa", "limited", "llc", "llp",
        "ltd", "mbh", "nv", "ohg", "oy", "plc", "pty", "sa", "sarl", "sas", "se", "spa",
        "sro", "srl", "ug",
    }
)  # fmt: skip
"""Words of a company's legal form (as `normalise_text` spells them), dropped from names."""

_CONNECTORS = frozenset({"and", "und", "et", "the"})
_TRANSLITERATIONS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_JOINED = re.compile(r"(?<=\w)[.'`\u2019](?=\w)")
_SEPARATORS = re.compile(r"[\W_]+")
_DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def normalise_text(text: str) -> str:
    """Text as loose comparisons see it: no case, accents or punctuation; single spaces.

    German umlauts become their two-letter spelling (Müller -> mueller), other accents are
    dropped (Société -> societe), and dots or apostrophes inside a word join it (G.m.b.H -> gmbh).
    """
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_TRANSLITERATIONS)
    decomposed = unicodedata.normalize("NFKD", folded)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(part for part in _SEPARATORS.split(_JOINED.sub("", plain)) if part)


def normalise_name(name: str) -> str:
    """A company name without case, punctuation, legal-form words (GmbH, Ltd, ...) or 'and'."""
    words = normalise_text(name).split()
    kept = [word for word in words if word not in LEGAL_FORMS and word not in _CONNECTORS]
    return " ".join(kept or words)


def same_party(a: str, b: str) -> bool:
    """Whether two names denote the same company: equal, or one contained in the other,
    once normalised (containment is by whole words: 'Acme' is in 'Acme Foods', not 'Acmes')."""
    first, second = normalise_name(a), normalise_name(b)
    if not first or not second:
        return False
    shorter, longer = sorted((first, second), key=len)
    return f" {shorter} " in f" {longer} "


def normalise_code(code: str) -> str:
    """An item or document number as compared: letters and digits only, no case."""
    return normalise_text(code).replace(" ", "")


def email_domain(address: str) -> str | None:
    """The ASCII (IDNA) domain of a mail address, also in `Name <local@domain>` form; None
    when it is not one address with a valid domain."""
    _, parsed = parseaddr(address)
    local, at, domain = parsed.rpartition("@")
    if not at or not local:
        return None
    return _ascii_domain(domain)


def normalise_domain(domain: str) -> str | None:
    """A domain as listed for a supplier (`Lieferant.DE`, `@lieferant.de`, `*.lieferant.de`,
    `müller.de`) in ASCII (IDNA) form; None when it is not a valid domain."""
    text = domain.strip().removeprefix("@").removeprefix("*.")
    return _ascii_domain(text)


def within_domain(domain: str, parent: str) -> bool:
    """Whether an ASCII domain is the parent domain or one of its subdomains."""
    return domain == parent or domain.endswith(f".{parent}")


def _ascii_domain(domain: str) -> str | None:
    """Lower-case ASCII form of a domain (Unicode labels as punycode), if it is valid."""
    text = unicodedata.normalize("NFKC", domain).strip().casefold().rstrip(".")
    if not text:
        return None
    try:
        ascii_domain = text.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_domain.split(".")
    if not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        return None
    return ascii_domain
