"""Accounts, memberships, tokens and login throttling: every change goes through here."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core import audit, crypto
from civicgrid.core.errors import InvalidInput
from civicgrid.core.models import Unit
from civicgrid.people.models import ApiToken, LoginThrottle, Membership, NoticeChoice, Role, User
from civicgrid.people.queries import token_owner

TOKEN_PREFIX = "cg_"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def create_user(
    *,
    username: str,
    password: str | None,
    display_name: str = "",
    email: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
    validate: bool = True,
    by: Any = None,
    password_hash: str = "",
    is_active: bool = True,
) -> User:
    """Creates an account; with validate=True the password must pass the validators.

    `password_hash` (from make_password) stands in for `password` when a loader hashes one shared
    password once instead of once per account.
    """
    if not username.strip():
        raise InvalidInput(_("用户名不能为空"), details={"username": "required"})
    if User.objects.filter(username=username).exists():
        raise InvalidInput(_("用户名已存在"), details={"username": "taken"})
    user = User(
        username=username,
        display_name=display_name,
        email=email,
        is_staff=is_staff,
        is_superuser=is_superuser,
        is_active=is_active,
    )
    if password_hash:
        user.password = password_hash
    elif password is None:
        user.set_unusable_password()
    else:
        if validate:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise InvalidInput(_("密码不符合要求"), details={"password": list(exc.messages)}) from exc
        user.set_password(password)
    user.save()
    audit.record(
        by, "user.create", user, after=audit.snapshot(user, ["username", "is_staff", "is_superuser"])
    )
    return user


@transaction.atomic
def add_membership(user: User, unit: Unit, role: Role | str, *, by: Any = None) -> Membership:
    if role not in Role.values:
        raise InvalidInput(_("未知的角色"), details={"role": role})
    membership, created = Membership.objects.get_or_create(user=user, unit=unit, role=role)
    if created:
        audit.record(
            by, "membership.add", membership, after={"user": user.pk, "unit": unit.pk, "role": str(role)}
        )
    return membership


@transaction.atomic
def remove_membership(membership: Membership, *, by: Any = None) -> None:
    audit.record(
        by,
        "membership.remove",
        membership,
        before={"user": membership.user_id, "unit": membership.unit_id, "role": membership.role},
    )
    membership.delete()


@transaction.atomic
def set_phone(user: User, phone: str, *, by: Any = None) -> User:
    """Sets (or with "" clears) the account's mobile, for notices by SMS: stored encrypted, audited
    masked (the number itself never enters the audit)."""
    number = crypto.plain_phone(phone)
    if number and not crypto.is_phone(number):
        raise InvalidInput(_("手机号格式不正确"), details={"phone": "invalid"})
    user.phone_enc = crypto.encrypt(number)
    user.save(update_fields=["phone_enc"])
    audit.record(by, "user.set_phone", user, after={"phone": crypto.mask_phone(number) if number else ""})
    return user


@transaction.atomic
def set_notice_choices(user: User, *, sms: str, email: str, by: Any = None) -> User:
    """Which notices also reach the person by SMS and by e-mail (people.models.NoticeChoice; ""
    keeps the site's default); the inbox gets them all. The person sets it, or an administrator."""
    wrong = {
        field: "invalid"
        for field, value in (("sms", sms), ("email", email))
        if value not in NoticeChoice.values
    }
    if wrong:
        raise InvalidInput(_("请选择有效的通知方式"), details=wrong)
    if (sms, email) == (user.sms_notices, user.email_notices):
        return user  # nothing changed: nothing to write or audit
    fields = ["sms_notices", "email_notices"]
    before = audit.snapshot(user, fields)
    user.sms_notices, user.email_notices = sms, email
    user.save(update_fields=fields)
    audit.record(
        by or user, "user.set_notice_choices", user, before=before, after=audit.snapshot(user, fields)
    )
    return user


@transaction.atomic
def change_password(user: User, *, old_password: str, new_password: str) -> None:
    if not user.check_password(old_password):
        raise InvalidInput(_("原密码不正确"), details={"old_password": "wrong"})
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise InvalidInput(_("新密码不符合要求"), details={"new_password": list(exc.messages)}) from exc
    user.set_password(new_password)
    user.save(update_fields=["password"])
    audit.record(user, "user.change_password", user)


@transaction.atomic
def create_token(user: User, *, name: str = "", by: Any = None) -> tuple[ApiToken, str]:
    """Returns the stored token row and the token itself, which is never stored nor shown again."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(user=user, name=name[:60], prefix=token[:8], digest=token_digest(token))
    audit.record(by or user, "token.create", row, after={"user": user.pk, "name": row.name})
    return row, token


@transaction.atomic
def revoke_token(row: ApiToken, *, by: Any = None) -> ApiToken:
    if row.revoked_at is None:
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        audit.record(by, "token.revoke", row, after={"revoked_at": row.revoked_at.isoformat()})
    return row


def user_for_token(token: str) -> User | None:
    """The active user a bearer token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    now = timezone.now()
    # Touch at most once a minute so that a busy client does not turn every read into a write.
    user = token_owner(token_digest(token), used_since=now - timedelta(minutes=1))
    if user is None:
        return None
    if user.token_stale:  # type: ignore[attr-defined]
        ApiToken.objects.filter(pk=user.token_id).update(last_used_at=now)  # type: ignore[attr-defined]
    return user


# --- login throttling -------------------------------------------------------------------------


def throttle_keys(username: str, address: str) -> list[str]:
    return [f"user:{username.strip().lower()}"[:200], f"ip:{address}"[:200]]


def _failure_limit(key: str) -> int:
    # An address has a limit of its own, far above an account's: a whole office often reaches us
    # from one address (a NAT or the government network's gateway), and five typing mistakes in it
    # must not lock everyone out. It still stops one machine from guessing across many accounts.
    return settings.LOGIN_ADDRESS_FAILURE_LIMIT if key.startswith("ip:") else settings.LOGIN_FAILURE_LIMIT


def login_locked_until(keys: list[str]):
    """The moment the latest lock on any of the keys ends, or None when logins may go on."""
    now = timezone.now()
    until = (
        LoginThrottle.objects.filter(key__in=keys, locked_until__gt=now)
        .order_by("-locked_until")
        .values_list("locked_until", flat=True)
        .first()
    )
    return until


def note_login_failure(keys: list[str]) -> None:
    now = timezone.now()
    window = timedelta(seconds=settings.LOGIN_LOCK_SECONDS)
    for key in keys:
        with transaction.atomic():
            try:
                row, _ = LoginThrottle.objects.select_for_update().get_or_create(
                    key=key, defaults={"first_failure_at": now}
                )
            except IntegrityError:
                row = LoginThrottle.objects.select_for_update().get(key=key)
            if now - row.first_failure_at > window:
                row.failures, row.first_failure_at, row.locked_until = 0, now, None
            row.failures += 1
            if row.failures >= _failure_limit(key):
                row.locked_until = now + window
            row.save()


def note_login_success(keys: list[str]) -> None:
    LoginThrottle.objects.filter(key__in=keys[:1]).delete()
