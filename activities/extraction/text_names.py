"""Names of companies and people in invoice text: what is a name (not an address, a number, a
country or a salutation), where a name on a line ends, and company names with a legal form.
"""

from __future__ import annotations

import re

from activities.extraction.text_amounts import currency_code
from activities.extraction.text_document import Line
from activities.extraction.text_labels import normalise_word

MAX_NAME = 80
MAX_LEGAL_NAME_WORDS = 6

LEGAL_FORM = re.compile(
    r"(?<![\w.])(?:"
    r"(?i:gmbh(?:\s*&\s*co\.?\s*kg)?|mbh|ltd\.?|limited|inc\.?|corp\.?|llc|llp|plc"
    r"|pvt\.?\s*ltd\.?|private\s+limited|s\.?a\.?r\.?l\.?|sasu?|bvba|b\.v\.?|n\.v\.?"
    r"|s\.p\.a\.|s\.r\.l\.|e\.\s?k\.|a\.\s?g\.|e\.\s?v\.)"
    r"|AG|KG|OHG|UG|SE|SA|BV|NV|S\.A\.|Co\.\s*KG"
    r")(?![\w])"
)
"""A legal form (GmbH, AG, Ltd, Inc, B.V., SARL, SAS, ...) as a word of its own."""

SEPARATORS = re.compile(r"\s+[-\u2013\u2014•●|·+]\s+|\s*[•●|·]\s*")
"""What separates the parts of a one-line address ("Name - Street 1 - 12345 City")."""

POSTCODE = re.compile(
    r"(?<![\w-])(?:[A-Z]{1,2}[- ])?\d{4,5}(?![\w-])|\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b"
)
_STREET_END = re.compile(r"^\D+\s\d+[a-zA-Z]?(?:\s*[-/]\s*\d+[a-zA-Z]?)?$")
_CUT = re.compile(
    r"\s(?:https?://|www\.)\S*|\S+@\S+|\s(?:\+|\(\d)[\d ()/-]{6,}|[✉☎✆]|\s\|\s|\t|\s{3,}",
    re.IGNORECASE,
)
_PREFIXES = re.compile(r"^(?:attn|z\.\s?hd\.?|t\.a\.v\.?|c/o|name|nom|naam)\s*[:.]?\s+", re.I)
_SALUTATIONS = frozenset(
    {
        "herrn", "herr", "frau", "firma", "mr", "mrs", "ms", "m", "mme", "monsieur", "madame",
        "attn", "z hd", "zhd", "t a v", "tav", "dhr", "mevr", "mevrouw", "de heer", "familie",
    }
)  # fmt: skip
_COUNTRIES = frozenset(
    {
        "deutschland", "germany", "france", "nederland", "netherlands", "belgium", "belgique",
        "osterreich", "austria", "schweiz", "switzerland", "united states", "usa",
        "united kingdom", "uk", "spain", "espana", "italy", "italia", "india", "hong kong",
        "luxembourg", "ireland", "deutschland / germany",
    }
)  # fmt: skip
_CAMEL = re.compile(r"(?<=[a-zäöüß])(?=[A-ZÄÖÜ])|(?<=[A-ZÄÖÜ])(?=[A-ZÄÖÜ][a-zäöüß])")
_CONNECTORS = frozenset({"&", "und", "and", "de", "du", "van", "von", "of", "+"})
_WORD = re.compile(r"[^\W\d_]{3}")
_EDGES = " :,;-\u2013\u2014•●|·\t"


def name_key(name: str) -> str:
    """A name as compared: lower case letters and digits, single-spaced, no legal form."""
    bare = LEGAL_FORM.sub(" ", name)
    words = ("".join(c for c in normalise_word(word) if c.isalnum()) for word in bare.split())
    return " ".join(word for word in words if word)


def contains(left: str, right: str) -> bool:
    """Whether one name key's words contain the other's."""
    return f" {left} " in f" {right} " or f" {right} " in f" {left} "


def _unglue(name: str) -> str:
    """A name printed without spaces ("KundenAGMitte") with its words apart again."""
    if " " in name or len(name) < 8:
        return name
    return _CAMEL.sub(" ", name)


def is_name(text: str) -> bool:
    """Whether a text can be a company's or a person's name."""
    letters = sum(character.isalpha() for character in text)
    if letters < 2 or len(text) > MAX_NAME or text[0].isdigit() or not _WORD.search(text):
        return False
    key = " ".join(normalise_word(word).strip(".") for word in text.split())
    if key in _SALUTATIONS or key in _COUNTRIES or currency_code(text) is not None:
        return False
    if _STREET_END.match(text) or POSTCODE.search(text):
        return False
    return sum(character.isdigit() for character in text) <= letters


def clean_name(text: str, line: Line | None = None, offset: int = 0) -> str | None:
    """The name a piece of a line gives, cut where the next column starts (a label, a link, a
    mail address, a phone number); None if it is no name. `offset` is where `text` starts in
    `line`."""
    end = len(text)
    if line is not None:
        for hit in line.hits:
            if hit.start > offset and line.text[hit.start - 1].isspace():
                end = min(end, hit.start - offset)
                break
    text = text[:end]
    if text.rstrip().endswith(":"):
        return None
    cut = _CUT.search(text)
    if cut is not None:
        text = text[: cut.start()]
    text = _PREFIXES.sub("", text.strip(_EDGES)).strip(_EDGES)
    words = text.split(" ")
    half = len(words) // 2
    if len(words) % 2 == 0 and words[:half] == words[half:]:
        text = " ".join(words[:half])
    return _unglue(text) if is_name(text) else None


def legal_names(text: str) -> list[str]:
    """The company names in a text that end in a legal form ("Amazon Web Services, Inc.")."""
    names: list[str] = []
    for match in LEGAL_FORM.finditer(text):
        before = SEPARATORS.split(text[: match.start()])[-1].split(":")[-1]
        taken: list[str] = []
        for word in reversed(before.split()[-MAX_LEGAL_NAME_WORDS:]):
            bare = word.strip(",")
            if bare.casefold() in _CONNECTORS or (bare[:1].isupper() and not bare.isdigit()):
                taken.insert(0, word)
                continue
            break
        while taken and taken[0].casefold() in _CONNECTORS:
            taken.pop(0)
        if taken:
            names.append(f"{' '.join(taken)} {match.group()}".replace(" ,", ","))
    return names
