"""Tokens and the caller's own account."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja import Router, Schema

from civicgrid.core.errors import DomainError
from civicgrid.people import actions
from civicgrid.people.queries import memberships_of

router = Router(tags=["auth"])


class TokenIn(Schema):
    username: str
    password: str
    name: str = ""


class TokenOut(Schema):
    token: str


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Throttled(DomainError):
    status = 429
    code = "throttled"


class MembershipOut(Schema):
    unit_code: str | None
    unit_name: str
    unit_kind: str
    role: str
    role_name: str


class MeOut(Schema):
    username: str
    display_name: str
    roles: list[str]
    units: list[MembershipOut]


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


@router.post("/auth/token", auth=None, response={200: TokenOut}, summary="用户名和密码换取令牌")
def issue_token(request: HttpRequest, body: TokenIn):
    keys = actions.throttle_keys(body.username, client_address(request))
    if actions.login_locked_until(keys):
        raise Throttled("登录失败次数过多，请稍后再试")
    user = authenticate(request, username=body.username, password=body.password)
    if user is None:
        actions.note_login_failure(keys)
        raise Unauthorized("用户名或密码错误")
    actions.note_login_success(keys)
    _, token = actions.create_token(user, name=body.name or "api")
    return {"token": token}


@router.get("/me", response=MeOut, summary="当前用户、角色和所属单位")
def me(request: HttpRequest):
    user = request.user
    memberships = memberships_of(user)  # type: ignore[arg-type]
    return {
        "username": user.get_username(),
        "display_name": getattr(user, "display_name", ""),
        "roles": sorted({m.role for m in memberships}),
        "units": [
            {"unit_code": m.unit.code, "unit_name": m.unit.name, "unit_kind": m.unit.kind,
             "role": m.role, "role_name": m.get_role_display()}
            for m in memberships
        ],
    }
