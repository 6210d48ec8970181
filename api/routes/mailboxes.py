"""Mail intake of the caller's org: its IMAP mailboxes (each polled by a Temporal Schedule),
the screening rules mail must meet to be taken as an invoice, and the messages intake recorded.

Admins change mailboxes and rules; operators also check a mailbox now; AP and finance roles
read. Passwords are never stored or shown: a mailbox holds a reference (`env:NAME`,
`file:/path`, `aws-sm:id`) that the worker resolves when it logs in.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.service import RPCError, RPCStatusCode

from api.deps import Admin, Operator, SessionDep, SettingsDep, StateDep, TemporalDep
from api.mail_schedules import delete_mailbox_schedule, sync_mailbox_schedule
from api.routes.reference.access import ApReader, commit_or_conflict, conflict, owned
from api.routes.reference.secret_settings import HIDDEN, is_reference
from api.state import AppState
from config.secrets import SecretRef
from db.tables import MailboxRow, MailMessageRow, MailScreening, User, utcnow
from models.mail import MailClassification, ScreeningRule
from models.mailboxes import TlsMode, mail_intake_schedule_id

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/mailboxes", tags=["mail intake"])
screening_router = APIRouter(prefix="/mail-screening", tags=["mail intake"])
messages_router = APIRouter(prefix="/mail/messages", tags=["mail intake"])

IMPLICIT_TLS_PORT = 993
PLAIN_PORT = 143
MESSAGES_LIMIT = 200
Folder = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f]+$")]


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
"""A stored time as UTC (SQLite hands times back without their zone)."""
AuthservId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=r"^\S+$")
]


class MailboxIn(BaseModel):
    """An IMAP mailbox as an admin enters it; the password only as a secret reference."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=120)
    address: EmailStr = Field(description="the mailbox's own email address")
    host: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._:\[\]-]+$")
    port: int | None = Field(default=None, ge=1, le=65535, description="None: 993 (ssl) or 143")
    tls: TlsMode = "ssl"
    username: str = Field(min_length=1, max_length=320)
    password_ref: SecretRef
    folder: Folder = "INBOX"
    processed_folder: Folder = Field(default="Processed", description="where handled mail goes")
    interval_seconds: int = Field(default=60, ge=5, le=86_400, description="how often to check")
    batch_size: int = Field(default=100, ge=1, le=1000, description="messages per check")
    trusted_authserv_ids: list[AuthservId] = Field(
        default_factory=list,
        max_length=20,
        description="receiving servers whose Authentication-Results headers are believed",
    )
    require_authentication: bool = Field(
        default=False, description="refuse mail a trusted server did not authenticate"
    )
    owner_email: EmailStr | None = Field(
        default=None,
        description="the org member mailed invoices are started for: they get the run's "
        "notices and may fix its exceptions (None: the mailbox itself)",
    )
    enabled: bool = True

    @field_validator("trusted_authserv_ids")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        kept: dict[str, str] = {}
        for value in values:
            kept.setdefault(value.casefold(), value)
        return list(kept.values())

    @model_validator(mode="after")
    def _consistent(self) -> MailboxIn:
        if self.processed_folder.casefold() == self.folder.casefold():
            raise ValueError("processed_folder must differ from folder")
        if self.require_authentication and not self.trusted_authserv_ids:
            raise ValueError("require_authentication needs at least one trusted_authserv_id")
        return self


class MailboxOut(BaseModel):
    """A mailbox of the caller's org, with the id of the schedule that polls it."""

    id: int
    name: str
    address: str
    host: str
    port: int
    tls: str
    username: str
    password_ref: str = Field(description="the secret reference, never the password")
    folder: str
    processed_folder: str
    interval_seconds: int
    batch_size: int
    trusted_authserv_ids: list[str]
    require_authentication: bool
    owner_email: str | None
    enabled: bool
    schedule_id: str
    created_at: UtcDatetime
    updated_at: UtcDatetime


class MailCheckStarted(BaseModel):
    """A check of a mailbox was asked of its schedule."""

    schedule_id: str
    detail: str


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that validates its JSON body itself."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def mailbox_body(request: Request) -> MailboxIn:
    """The request's mailbox; a 422 that never repeats what was sent (it may hold a password)."""
    try:
        data = await request.json()
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Send a JSON body") from error
    try:
        return MailboxIn.model_validate(data)
    except ValidationError as error:
        detail = [
            {"type": item["type"], "loc": ["body", *item["loc"]], "msg": item["msg"]}
            for item in error.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from error


MailboxBody = Annotated[MailboxIn, Depends(mailbox_body)]
"""A validated mailbox body; name it after the caller's role, so 401/403 come before 422."""
BODY_DOCS = _json_body(MailboxIn)
OUT_OF_STEP: dict[int | str, dict[str, Any]] = {
    503: {"description": "Saved, but the Temporal Schedule is out of step: PUT again fixes it"}
}
TEMPORAL_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"description": "Temporal cannot be reached; nothing changed"}
}


async def _out(session: AsyncSession, row: MailboxRow) -> MailboxOut:
    assert row.id is not None
    shown = row.password_ref if is_reference(row.password_ref) else HIDDEN
    owner = await session.get(User, row.owner_id) if row.owner_id is not None else None
    return MailboxOut.model_validate(
        {
            **row.model_dump(),
            "password_ref": shown,
            "owner_email": owner.email if owner else None,
            "schedule_id": mail_intake_schedule_id(row.org_id, row.id),
        }
    )


async def _columns(session: AsyncSession, org: str, body: MailboxIn) -> dict[str, object]:
    port = body.port or (IMPLICIT_TLS_PORT if body.tls == "ssl" else PLAIN_PORT)
    owner_id: int | None = None
    if body.owner_email is not None:
        query = select(User.id).where(
            User.org_id == org,
            func.lower(User.email) == body.owner_email.lower(),
            col(User.active).is_(True),
        )
        owner_id = (await session.exec(query)).first()
        if owner_id is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"owner_email {body.owner_email} is not an active member of the org",
            )
    return {**body.model_dump(exclude={"owner_email"}), "port": port, "owner_id": owner_id}


def _taken(name: str) -> str:
    return f"A mailbox named {name!r} already exists"


async def _sync_or_503(state: AppState, row: MailboxRow) -> None:
    """Bring the mailbox's schedule in line; a 503 naming the fix when Temporal fails."""
    try:
        await sync_mailbox_schedule(await state.temporal(), state.settings, row)
    except Exception as error:
        logger.warning("schedule of mailbox %s is out of step: %s", row.id, error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"Mailbox {row.id} is saved, but its Temporal Schedule is out of step (Temporal "
            f"could not be reached or refused the change): PUT /mailboxes/{row.id} with the "
            "same settings again to bring it in line",
            headers={"Location": f"/mailboxes/{row.id}"},
        ) from error


@router.get("", response_model=list[MailboxOut])
async def list_mailboxes(principal: ApReader, session: SessionDep) -> list[MailboxOut]:
    """The org's mailboxes by name."""
    query = select(MailboxRow).where(MailboxRow.org_id == principal.org_id)
    rows = await session.exec(query.order_by(col(MailboxRow.name)))
    return [await _out(session, row) for row in rows.all()]


@router.post(
    "",
    response_model=MailboxOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=BODY_DOCS,
    responses=OUT_OF_STEP,
)
async def create_mailbox(
    principal: Admin, body: MailboxBody, session: SessionDep, state: StateDep
) -> MailboxOut:
    """Add a mailbox and its schedule (paused while `enabled` is false); 409 when the org has
    one of that name."""
    columns = await _columns(session, principal.org_id, body)
    row = MailboxRow.model_validate({**columns, "org_id": principal.org_id})
    session.add(row)
    await commit_or_conflict(session, _taken(body.name))
    await _sync_or_503(state, row)
    return await _out(session, row)


@router.get("/{mailbox_id}", response_model=MailboxOut)
async def get_mailbox(mailbox_id: int, principal: ApReader, session: SessionDep) -> MailboxOut:
    """One mailbox of the org; 404 for another org's."""
    return await _out(session, await owned(session, MailboxRow, mailbox_id, principal, "mailbox"))


@router.put(
    "/{mailbox_id}", response_model=MailboxOut, openapi_extra=BODY_DOCS, responses=OUT_OF_STEP
)
async def replace_mailbox(
    mailbox_id: int, principal: Admin, body: MailboxBody, session: SessionDep, state: StateDep
) -> MailboxOut:
    """Replace a mailbox's settings and bring its schedule in line (interval, paused)."""
    row = await owned(session, MailboxRow, mailbox_id, principal, "mailbox")
    columns = await _columns(session, principal.org_id, body)
    row.sqlmodel_update({**columns, "updated_at": utcnow()})
    session.add(row)
    await commit_or_conflict(session, _taken(body.name))
    await _sync_or_503(state, row)
    return await _out(session, row)


@router.delete("/{mailbox_id}", status_code=status.HTTP_204_NO_CONTENT, responses=TEMPORAL_DOWN)
async def delete_mailbox(
    mailbox_id: int, principal: Admin, session: SessionDep, state: StateDep
) -> None:
    """Remove a mailbox no message was recorded from, and its schedule (disable it otherwise)."""
    row = await owned(session, MailboxRow, mailbox_id, principal, "mailbox")
    message = f"Intake recorded messages from mailbox {row.name!r}: disable it instead"
    recorded = select(MailMessageRow.id).where(MailMessageRow.mailbox_id == mailbox_id)
    if (await session.exec(recorded)).first() is not None:
        raise conflict(message)
    try:
        await delete_mailbox_schedule(await state.temporal(), principal.org_id, mailbox_id)
    except Exception as error:
        logger.warning("could not delete the schedule of mailbox %s: %s", mailbox_id, error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Temporal could not be reached to remove the mailbox's schedule; nothing was "
            "deleted: DELETE again",
        ) from error
    kept = MailboxRow.model_validate(row.model_dump())
    await session.delete(row)
    try:
        await commit_or_conflict(session, message)
    except HTTPException:
        await _sync_or_503(state, kept)
        raise


@router.post(
    "/{mailbox_id}/check",
    response_model=MailCheckStarted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=TEMPORAL_DOWN,
)
async def check_mailbox(
    mailbox_id: int,
    principal: Operator,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
) -> MailCheckStarted:
    """Check a mailbox now rather than at its next interval; a check already running is not
    doubled. 409 while the mailbox is disabled."""
    row = await owned(session, MailboxRow, mailbox_id, principal, "mailbox")
    if not row.enabled:
        raise conflict(f"Mailbox {row.name!r} is disabled: enable it to check it")
    schedule_id = mail_intake_schedule_id(principal.org_id, mailbox_id)
    handle = client.get_schedule_handle(schedule_id)
    try:
        try:
            await handle.trigger()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            await sync_mailbox_schedule(client, settings, row)
            await handle.trigger()
    except (RPCError, RuntimeError) as error:
        logger.warning("could not trigger schedule %s: %s", schedule_id, error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal cannot be asked right now"
        ) from error
    detail = f"Mailbox {row.name!r} is being checked (unless a check is already running)"
    return MailCheckStarted(schedule_id=schedule_id, detail=detail)


class ScreeningIn(BaseModel):
    """The org's screening rules (every one must hold for a mail to be taken as an invoice)
    and attachment limits; a limit left out takes its default."""

    model_config = ConfigDict(extra="forbid")

    rules: list[ScreeningRule] = Field(default_factory=list, max_length=50)
    max_attachment_bytes: int | None = Field(
        default=None, ge=1, le=1024 * 1024 * 1024, description="None: the storage upload limit"
    )
    max_attachments: int | None = Field(default=None, ge=1, le=100, description="None: 10")


class ScreeningOut(BaseModel):
    """The org's screening rules, each also in words, and attachment limits."""

    rules: list[ScreeningRule]
    described: list[str] = Field(description="each rule in words, in order")
    max_attachment_bytes: int
    max_attachments: int
    updated_at: UtcDatetime | None = Field(description="None: never set, the defaults apply")


DEFAULT_MAX_ATTACHMENTS = 10


def _screening_out(row: MailScreening) -> ScreeningOut:
    rules = [ScreeningRule.model_validate(rule) for rule in row.rules]
    return ScreeningOut(
        rules=rules,
        described=[rule.describe() for rule in rules],
        max_attachment_bytes=row.max_attachment_bytes,
        max_attachments=row.max_attachments,
        updated_at=row.updated_at,
    )


@screening_router.get("", response_model=ScreeningOut)
async def get_screening(
    principal: ApReader, session: SessionDep, settings: SettingsDep
) -> ScreeningOut:
    """The org's screening rules and limits; the defaults when none were set."""
    row = await session.get(MailScreening, principal.org_id)
    if row is None:
        limit = settings.storage.max_attachment_bytes
        return ScreeningOut(
            rules=[],
            described=[],
            max_attachment_bytes=limit,
            max_attachments=DEFAULT_MAX_ATTACHMENTS,
            updated_at=None,
        )
    return _screening_out(row)


@screening_router.put("", response_model=ScreeningOut)
async def put_screening(
    body: ScreeningIn, principal: Admin, session: SessionDep, settings: SettingsDep
) -> ScreeningOut:
    """Replace the org's screening rules and limits."""
    row = await session.get(MailScreening, principal.org_id)
    columns = {
        "rules": [rule.model_dump(mode="json") for rule in body.rules],
        "max_attachment_bytes": body.max_attachment_bytes or settings.storage.max_attachment_bytes,
        "max_attachments": body.max_attachments or DEFAULT_MAX_ATTACHMENTS,
        "updated_at": utcnow(),
    }
    if row is None:
        row = MailScreening.model_validate({**columns, "org_id": principal.org_id})
    else:
        row.sqlmodel_update(columns)
    session.add(row)
    await session.commit()
    return _screening_out(row)


class MailMessageFilters(BaseModel):
    """Which recorded messages to list, and the page."""

    model_config = ConfigDict(extra="forbid")

    classification: MailClassification | None = None
    mailbox_id: int | None = None
    reason_code: str | None = Field(default=None, max_length=32, description="e.g. unknown_sender")
    limit: int = Field(default=50, ge=1, le=MESSAGES_LIMIT)
    offset: int = Field(default=0, ge=0, le=100_000)


class MailMessageOut(BaseModel):
    """A message intake recorded: how it was classified, why, and what it started."""

    id: int
    mailbox_id: int
    received: UtcDatetime = Field(description="when intake recorded it")
    sender: str | None
    subject: str | None
    message_id: str | None
    classification: str
    reason_code: str | None
    reason: str | None
    transaction_id: str | None
    workflow_id: str | None
    state: str


class MailMessagePage(BaseModel):
    """A page of recorded messages, newest first."""

    items: list[MailMessageOut]
    next_offset: int | None = Field(description="the offset of the next page; None: no more")


@messages_router.get("", response_model=MailMessagePage)
async def list_mail_messages(
    filters: Annotated[MailMessageFilters, Query()], principal: ApReader, session: SessionDep
) -> MailMessagePage:
    """Messages intake recorded for the org, newest first: `classification=unidentified`
    lists those not taken, with the reason."""
    query = select(MailMessageRow).where(MailMessageRow.org_id == principal.org_id)
    if filters.classification is not None:
        query = query.where(MailMessageRow.classification == filters.classification)
    if filters.mailbox_id is not None:
        query = query.where(MailMessageRow.mailbox_id == filters.mailbox_id)
    if filters.reason_code is not None:
        query = query.where(MailMessageRow.reason_code == filters.reason_code)
    order = (col(MailMessageRow.created_at).desc(), col(MailMessageRow.id).desc())
    page = query.order_by(*order).offset(filters.offset).limit(filters.limit + 1)
    rows = list((await session.exec(page)).all())
    more = len(rows) > filters.limit
    items = [
        MailMessageOut.model_validate({**row.model_dump(), "received": row.created_at})
        for row in rows[: filters.limit]
    ]
    return MailMessagePage(
        items=items, next_offset=filters.offset + filters.limit if more else None
    )


routers: list[APIRouter] = [router, screening_router, messages_router]
"""The mail intake routers, for the app to include."""
