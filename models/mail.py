"""Payloads of mail intake: screening rules, what a mail's attachments and sender checks showed,
how a mail was classified, approval-reply commands and the reply token (sandbox-safe: no I/O).

Screening rules match without case; a mail is screened in as an invoice only when every rule of
its org holds, and the first rule that fails is named in the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ScreeningVariable = Literal[
    "subject", "sender_address", "sender_domain", "body", "attachment_name", "has_pdf_attachment"
]
ScreeningCondition = Literal["contains", "not_contains", "equals", "not_equals", "ends_with", "is"]
AttachmentKind = Literal["invoice", "po", "grn"]
MailClassification = Literal["invoice", "approval_reply", "unidentified"]
UnidentifiedReason = Literal[
    "no_attachment",
    "unknown_sender",
    "spoofed_sender",
    "attachment_too_large",
    "too_many_attachments",
    "not_a_pdf",
    "screening_rule",
    "unreadable_message",
    "no_matching_approval",
    "not_the_assignee",
    "no_decision",
]
AuthResult = Literal[
    "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy", "unknown"
]
"""An authentication method's result; `unknown` when the header did not give one."""
ReplyDecision = Literal["approve", "reject"]

_CONDITION_WORDS: dict[str, str] = {
    "contains": "contains",
    "not_contains": "does not contain",
    "equals": "equals",
    "not_equals": "does not equal",
    "ends_with": "ends with",
}
_NEGATED = frozenset({"not_contains", "not_equals"})
_NEEDS_TEXT = frozenset({"contains", "not_contains", "ends_with"})


class ScreeningRule(BaseModel):
    """One condition an org's incoming mail must meet to be taken as an invoice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variable: ScreeningVariable
    condition: ScreeningCondition
    value: str = Field(max_length=500)

    @model_validator(mode="after")
    def _check_combination(self) -> ScreeningRule:
        if self.variable == "has_pdf_attachment":
            if self.condition != "is" or self.value.strip().casefold() not in ("true", "false"):
                raise ValueError(
                    "has_pdf_attachment takes the condition 'is' and 'true' or 'false'"
                )
        elif self.condition == "is":
            raise ValueError("the condition 'is' is only for has_pdf_attachment")
        elif self.condition in _NEEDS_TEXT and not self.value.strip():
            raise ValueError(f"the condition '{self.condition}' needs a value")
        return self

    def describe(self) -> str:
        """The rule in words, e.g. "subject contains 'invoice'"."""
        if self.variable == "has_pdf_attachment":
            wanted = self.value.strip().casefold() == "true"
            return "has a PDF attachment" if wanted else "has no PDF attachment"
        subject = self.variable.replace("_", " ")
        return f"{subject} {_CONDITION_WORDS[self.condition]} '{self.value}'"

    def holds(self, values: Sequence[str]) -> bool:
        """Whether the rule holds for a mail's values of its variable (several for attachment
        names): a positive condition holds when any value meets it, a negated one when none
        does. `has_pdf_attachment` takes ["true"] or ["false"]."""
        wanted = self.value.strip().casefold()
        met = any(self._meets(value.strip().casefold(), wanted) for value in values)
        return not met if self.condition in _NEGATED else met

    def _meets(self, value: str, wanted: str) -> bool:
        if self.condition in ("contains", "not_contains"):
            return wanted in value
        if self.condition == "ends_with":
            return value.endswith(wanted)
        return value == wanted


class MailAttachment(BaseModel):
    """One attachment of a mail as read; its bytes travel separately (or via storage)."""

    filename: str = Field(description="sanitised: no path, no control characters")
    content_type: str = Field(description="as the mail declares it")
    size: int = Field(ge=0, description="decoded size in bytes")
    sha256: str
    is_pdf: bool = Field(description="judged by the content's magic bytes")
    oversized: bool = Field(default=False, description="over the limit: the bytes were dropped")


class AuthVerdict(BaseModel):
    """What the trusted receiving server's Authentication-Results header said of a mail."""

    authserv_id: str | None = None
    dmarc: AuthResult = "unknown"
    spf: AuthResult = "unknown"
    dkim: AuthResult = "unknown"
    trusted: bool = Field(default=False, description="a header of a trusted authserv-id was found")
    header_from: str | None = Field(default=None, description="the domain DMARC judged")
    smtp_mailfrom: str | None = Field(default=None, description="the envelope sender SPF judged")
    dkim_domain: str | None = Field(default=None, description="the signing domain DKIM judged")


class ReplyCommand(BaseModel):
    """A decision read from an approval reply mail."""

    decision: ReplyDecision
    reason: str = Field(default="", max_length=2000)


class ReplyReference(BaseModel):
    """What ties a reply mail to an approval: the subject's token and the ids it answers."""

    token: str | None = Field(
        default=None, description="three groups of four, upper case, e.g. 7K2M-9QXD-4RTB"
    )
    referenced_ids: list[str] = Field(
        default_factory=list, description="In-Reply-To first, then References newest first"
    )


class ClassifiedDocument(BaseModel):
    """A PDF attachment of a mail and what it is."""

    index: int = Field(ge=0, description="position among the mail's attachments")
    filename: str
    kind: AttachmentKind


class Screening(BaseModel):
    """How a mail was classified and, when it was not taken, why (in words for people)."""

    classification: MailClassification
    reason: UnidentifiedReason | None = None
    reason_text: str = ""
    documents: list[ClassifiedDocument] = Field(default_factory=list)


REPLY_TOKEN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32 alphabet (no I, L, O or U), which reply tokens are written in."""

_GROUP = "[0-9A-HJKMNP-TV-Z]{4}"
REPLY_TOKEN_PATTERN = re.compile(rf"\[Baton #({_GROUP}-{_GROUP}-{_GROUP})\]", re.IGNORECASE)
"""A reply token in a subject, `[Baton #7K2M-9QXD-4RTB]`; group 1 is the token."""


def format_reply_token(raw: str) -> str:
    """The subject tag `[Baton #7K2M-9QXD-4RTB]` for 12 Crockford base32 characters (hyphens
    and case are ignored); ValueError for anything else."""
    text = raw.replace("-", "").strip().upper()
    if len(text) != 12 or any(char not in REPLY_TOKEN_ALPHABET for char in text):
        raise ValueError("a reply token is 12 characters of Crockford's base32 alphabet")
    return f"[Baton #{text[:4]}-{text[4:8]}-{text[8:]}]"
