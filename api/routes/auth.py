"""Logging in and refreshing tokens."""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict
from sqlmodel import select

from api.deps import AnyMember, SessionDep, SettingsDep
from api.security import InvalidToken, hash_password, issue_token, read_token, verify_password
from db.tables import User

router = APIRouter(prefix="/auth", tags=["auth"])

# Checked when no user has the email, so an unknown address takes as long as a wrong password.
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))


class TokenPair(BaseModel):
    """An access token for API calls and a refresh token to get the next one."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class RefreshRequest(BaseModel):
    """A refresh token to exchange for a new pair."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str


class Me(BaseModel):
    """Who the caller is."""

    id: int
    org_id: str
    email: str
    name: str
    roles: list[str]


def _pair(settings: SettingsDep, user: User) -> TokenPair:
    assert user.id is not None
    return TokenPair(
        access_token=issue_token(settings, user_id=user.id, org_id=user.org_id, kind="access"),
        refresh_token=issue_token(settings, user_id=user.id, org_id=user.org_id, kind="refresh"),
        expires_in=settings.security.access_token_ttl_seconds,
    )


@router.post("/login", response_model=TokenPair)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    settings: SettingsDep,
    session: SessionDep,
) -> TokenPair:
    """Exchange an email (as `username`) and password for tokens."""
    user = (await session.exec(select(User).where(User.email == form.username.lower()))).first()
    matches = verify_password(form.password, user.password_hash if user else _DECOY_HASH)
    if user is None or not user.active or not matches:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong email or password")
    return _pair(settings, user)


@router.post("/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, settings: SettingsDep, session: SessionDep) -> TokenPair:
    """Exchange a valid refresh token for a new pair."""
    try:
        claims = read_token(settings, body.refresh_token, kind="refresh")
    except InvalidToken as error:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid refresh token") from error
    user = await session.get(User, claims.user_id)
    if user is None or not user.active or user.org_id != claims.org_id:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid refresh token")
    return _pair(settings, user)


@router.get("/me", response_model=Me)
async def me(principal: AnyMember) -> Me:
    """The logged-in user."""
    return Me(
        id=principal.user_id,
        org_id=principal.org_id,
        email=principal.email,
        name=principal.name,
        roles=principal.roles,
    )
