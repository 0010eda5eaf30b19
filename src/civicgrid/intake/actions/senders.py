"""Who may send reports: blocked senders, self-registered mobile reporters, Open311 API keys."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases.models import Case
from civicgrid.core import audit, crypto
from civicgrid.core.errors import InvalidInput, NotFound
from civicgrid.core.models import Unit, UnitKind
from civicgrid.intake import limits
from civicgrid.intake.models import (
    Block,
    BlockKind,
    MobileReporterProfile,
    Open311Key,
    ReporterKind,
    Submission,
)
from civicgrid.people import actions as people_actions
from civicgrid.people.models import Role, User
from civicgrid.people.queries import memberships_of


@transaction.atomic
def block_sender(case: Case, *, by: User, days: int | None = 30, reason: str = "") -> list[Block]:
    """Blocks the phone and the address a case came from (after mark_abusive), for `days` (None: no end)."""
    submission = Submission.objects.filter(case=case).first()
    rows = []
    until = limits.block_until(days)
    phone_index = case.reporter_phone_index or (submission.phone_index if submission else "")
    if phone_index:
        hint = crypto.mask_phone(crypto.decrypt(case.reporter_phone_enc)) if case.reporter_phone_enc else ""
        rows.append(
            Block.objects.create(
                kind=BlockKind.PHONE,
                phone_index=phone_index,
                phone_hint=hint,
                reason=reason[:200],
                until=until,
                created_by=by,
            )
        )
    if submission is not None and submission.ip:
        rows.append(
            Block.objects.create(
                kind=BlockKind.IP, network=submission.ip, reason=reason[:200], until=until, created_by=by
            )
        )
    for row in rows:
        audit.record(by, "intake.block", row, after={"kind": row.kind, "case": case.number})
    return rows


# --- mobile reporters ----------------------------------------------------------------------------


def mobile_reporter_unit() -> Unit:
    """Where self-registered mobile reporters' memberships sit: the top county-level unit."""
    unit = Unit.objects.filter(kind=UnitKind.COUNTY, is_active=True).order_by("depth", "id").first()
    unit = unit or Unit.objects.filter(kind=UnitKind.CITY).order_by("id").first()
    if unit is None:
        raise NotFound(_("尚未配置单位"))
    return unit


@transaction.atomic
def register_mobile_reporter(
    *, username: str, password: str, display_name: str, company: str, kind: str = ReporterKind.COURIER
) -> User:
    """A courier or truck driver signs up with their company; their reports come in as mobile_reporter."""
    if not company.strip():
        raise InvalidInput(_("请填写所属企业"), details={"company": "required"})
    if kind not in ReporterKind.values:
        raise InvalidInput(_("请选择类型"), details={"kind": kind})
    user = people_actions.create_user(
        username=username.strip(), password=password, display_name=display_name.strip()
    )
    people_actions.add_membership(user, mobile_reporter_unit(), Role.MOBILE_REPORTER)
    MobileReporterProfile.objects.create(user=user, company=company.strip()[:100], kind=kind)
    return user


@transaction.atomic
def set_company(user: User, *, company: str, kind: str = ReporterKind.COURIER) -> MobileReporterProfile:
    if not company.strip():
        raise InvalidInput(_("请填写所属企业"), details={"company": "required"})
    profile, _created = MobileReporterProfile.objects.update_or_create(
        user=user, defaults={"company": company.strip()[:100], "kind": kind}
    )
    if Role.MOBILE_REPORTER not in {m.role for m in memberships_of(user)}:
        people_actions.add_membership(user, mobile_reporter_unit(), Role.MOBILE_REPORTER)
    return profile


# --- Open311 keys --------------------------------------------------------------------------------


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def issue_open311_key(
    *, name: str, unit: Unit | None = None, key: str = "", by: Any = None
) -> tuple[Open311Key, str]:
    """A new API key (shown once; only its digest is kept). `key` fixes the value (the demo's)."""
    key = key or "o311_" + secrets.token_urlsafe(24)
    row = Open311Key.objects.filter(digest=key_digest(key)).first()
    if row is not None:
        return row, key
    row = Open311Key.objects.create(name=name[:100], unit=unit, prefix=key[:8], digest=key_digest(key))
    audit.record(by, "open311.key.issue", row, after={"name": row.name})
    return row, key


def open311_key(key: str) -> Open311Key | None:
    if not key:
        return None
    row = (
        Open311Key.objects.select_related("filer")
        .filter(digest=key_digest(key), revoked_at__isnull=True)
        .first()
    )
    if row is not None:
        now = timezone.now()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            Open311Key.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


def issue_demo_key() -> str:
    """The demo's Open311 key, `open311-demo-key` (idempotent)."""
    issue_open311_key(name="演示客户端（Open311）", key="open311-demo-key")
    return "open311-demo-key"
