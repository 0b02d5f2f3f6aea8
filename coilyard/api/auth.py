"""Auth routes: log in for a token, log out, who am I; admin: users and service tokens."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from coilyard.api.deps import App, Caller, allow, public
from coilyard.api.errors import ERROR_RESPONSES
from coilyard.api.security import NAME_PATTERN, SERVICE_ROLES, Role

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=ERROR_RESPONSES)
UserName = Annotated[str, Path(pattern=NAME_PATTERN)]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=NAME_PATTERN)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    user: str
    role: Role
    expires_at: float = Field(description="epoch s")


class MeOut(BaseModel):
    user: str
    role: Role


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN)
    role: Role
    password: str | None = Field(None, min_length=8, max_length=200, description="People only.")


class UserOut(BaseModel):
    name: str
    role: Role
    service: bool
    disabled: bool


class ServiceTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ttl_s: float | None = Field(None, gt=0, le=10 * 365 * 24 * 3600.0)


@router.post("/token", summary="Log in with user name and password; returns a bearer token", **public())
async def login(body: LoginIn, app: App) -> TokenOut:
    issued = await asyncio.to_thread(app.users.login, body.username, body.password, time.time())
    return TokenOut(
        access_token=issued.token, user=issued.user, role=issued.role, expires_at=issued.expires_at
    )


@router.post("/logout", status_code=204, summary="Revoke the token of this request", **allow(*Role))
async def logout(request: Request, app: App, _: Caller) -> None:
    credentials = await HTTPBearer(auto_error=False)(request)
    if credentials is not None:
        await asyncio.to_thread(app.users.revoke, credentials.credentials)


@router.get("/me", summary="Who the token belongs to")
async def me(who: Caller) -> MeOut:
    return MeOut(user=who.name, role=who.role)


@router.get("/users", summary="Users and service accounts", **allow())
async def list_users(app: App) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in await asyncio.to_thread(app.users.users)]


@router.post(
    "/users", status_code=201, summary="Add a person (with password) or a service account", **allow()
)
async def add_user(body: UserIn, app: App) -> UserOut:
    await asyncio.to_thread(app.users.add_user, body.name, body.role, body.password)
    return UserOut(name=body.name, role=body.role, service=body.role in SERVICE_ROLES, disabled=False)


@router.delete("/users/{name}", status_code=204, summary="Remove a user and its tokens", **allow())
async def remove_user(name: UserName, app: App) -> None:
    await asyncio.to_thread(app.users.remove_user, name)


@router.post(
    "/users/{name}/tokens", status_code=201, summary="Issue a token for a service account", **allow()
)
async def issue_service_token(name: UserName, body: ServiceTokenIn, app: App) -> TokenOut:
    issued = await asyncio.to_thread(app.users.issue_service_token, name, time.time(), body.ttl_s)
    return TokenOut(
        access_token=issued.token, user=issued.user, role=issued.role, expires_at=issued.expires_at
    )
