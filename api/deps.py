"""FastAPI dependencies: settings, database sessions, Temporal, and the authenticated caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.storage import ObjectStore
from api.security import InvalidToken, read_token
from api.state import AppState
from config.settings import Settings
from db.tables import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


def get_state(request: Request) -> AppState:
    """The API's shared state."""
    state: AppState = request.app.state.baton
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings_dep(state: StateDep) -> Settings:
    """The settings the API runs with."""
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """A database session for one request."""
    async with state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_temporal(state: StateDep) -> Client:
    """The Temporal client; 503 when the server cannot be reached."""
    try:
        return await state.temporal()
    except Exception as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal is unavailable"
        ) from error


TemporalDep = Annotated[Client, Depends(get_temporal)]


def get_store(state: StateDep) -> ObjectStore:
    """The object store."""
    return state.store


StoreDep = Annotated[ObjectStore, Depends(get_store)]


class Principal(BaseModel):
    """The authenticated caller: every query is scoped to their org."""

    user_id: int
    org_id: str
    email: str
    name: str
    roles: list[str]

    def has_any(self, roles: tuple[str, ...]) -> bool:
        """Whether the caller holds at least one of the roles."""
        return any(role in self.roles for role in roles)


_UNAUTHENTICATED = HTTPException(
    status.HTTP_401_UNAUTHORIZED,
    "Not authenticated: log in at /auth/login and send the access token",
    headers={"WWW-Authenticate": "Bearer"},
)


async def get_principal(
    token: Annotated[str | None, Depends(oauth2_scheme)], settings: SettingsDep, session: SessionDep
) -> Principal:
    """The caller named by a valid access token, still active and still in that org."""
    if not token:
        raise _UNAUTHENTICATED
    try:
        claims = read_token(settings, token, kind="access")
    except InvalidToken as error:
        raise _UNAUTHENTICATED from error
    user = await session.get(User, claims.user_id)
    if user is None or not user.active or user.org_id != claims.org_id or user.id is None:
        raise _UNAUTHENTICATED
    return Principal(
        user_id=user.id, org_id=user.org_id, email=user.email, name=user.name, roles=user.roles
    )


def require_roles(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits callers holding at least one of the roles (403 otherwise)."""

    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.has_any(roles):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"This needs one of the roles: {', '.join(roles)}"
            )
        return principal

    return check


AnyMember = Annotated[Principal, Depends(require_roles("employee", "admin", "operator"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
Operator = Annotated[Principal, Depends(require_roles("admin", "operator"))]
