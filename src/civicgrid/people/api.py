"""Tokens and the caller's own account."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja import Status as Reply

from civicgrid.core.errors import DomainError, NotFound, errors
from civicgrid.people import actions
from civicgrid.people.models import ApiToken, User, site_default
from civicgrid.people.queries import memberships_of, user_of

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


@router.post(
    "/auth/token",
    auth=None,
    response={200: TokenOut, **errors(401, 422, 429)},
    summary="用户名和密码换取令牌",
)
def issue_token(request: HttpRequest, body: TokenIn):
    keys = actions.throttle_keys(body.username, client_address(request))
    if actions.login_locked_until(keys):
        raise Throttled(_("登录失败次数过多，请稍后再试"))
    user = authenticate(request, username=body.username, password=body.password)
    if user is None:
        actions.note_login_failure(keys)
        raise Unauthorized(_("用户名或密码错误"))
    actions.note_login_success(keys)
    _row, token = actions.create_token(user, name=body.name or "api")
    return {"token": token}


@router.get("/me", response={200: MeOut, **errors(401)}, summary="当前用户、角色和所属单位")
def me(request: HttpRequest):
    user = user_of(request)
    memberships = memberships_of(user)
    return {
        "username": user.get_username(),
        "display_name": user.display_name,
        "roles": sorted({m.role for m in memberships}),
        "units": [
            {
                "unit_code": m.unit.code,
                "unit_name": m.unit.name,
                "unit_kind": m.unit.kind,
                "role": m.role,
                "role_name": m.get_role_display(),
            }
            for m in memberships
        ],
    }


Reach = Literal["", "none", "urgent", "all"]


class NoticeChoicesIn(Schema):
    sms: Reach
    email: Reach


class NoticeChoicesOut(NoticeChoicesIn):
    defaults: dict[str, str]
    mobile: str
    email_address: str


def _notice_choices(user: User) -> dict:
    return {
        "sms": user.sms_notices,
        "email": user.email_notices,
        "defaults": {"sms": site_default("sms"), "email": site_default("email")},
        "mobile": user.masked_phone,
        "email_address": user.email,
    }


@router.get("/me/notices", response={200: NoticeChoicesOut, **errors(401)}, summary="我的短信和邮件通知设置")
def get_notice_choices(request: HttpRequest):
    return _notice_choices(user_of(request))


@router.put(
    "/me/notices", response={200: NoticeChoicesOut, **errors(401, 422)}, summary="修改我的短信和邮件通知设置"
)
def put_notice_choices(request: HttpRequest, body: NoticeChoicesIn):
    user = user_of(request)
    return _notice_choices(actions.set_notice_choices(user, sms=body.sms, email=body.email))


class TokenRowOut(Schema):
    id: int
    prefix: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class TokenCreateIn(Schema):
    name: str = ""


def _token_row(row: ApiToken) -> dict:
    return {
        "id": row.pk,
        "prefix": row.prefix,
        "name": row.name,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "revoked": row.revoked_at is not None,
    }


@router.get(
    "/auth/tokens", response={200: list[TokenRowOut], **errors(401)}, summary="我的令牌（不含令牌本身）"
)
def list_tokens(request: HttpRequest):
    return [_token_row(row) for row in ApiToken.objects.filter(user=user_of(request)).order_by("-created_at")]


@router.post(
    "/auth/tokens",
    response={201: TokenOut, **errors(401, 422)},
    summary="再建一个令牌（只返回这一次）",
)
def create_token(request: HttpRequest, body: TokenCreateIn):
    _, token = actions.create_token(user_of(request), name=body.name)
    return Reply(201, {"token": token})


@router.delete(
    "/auth/tokens/{token_id}", response={200: TokenRowOut, **errors(401, 404, 422)}, summary="吊销令牌"
)
def revoke_token(request: HttpRequest, token_id: int):
    row = ApiToken.objects.filter(user=user_of(request), pk=token_id).first()
    if row is None:
        raise NotFound(_("令牌不存在"))
    return _token_row(actions.revoke_token(row, by=user_of(request)))
