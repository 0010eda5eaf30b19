"""Abuse control shared by every web process: fixed-window rate limits and the block list.

Counters live in the database (intake.RateCounter), one row per key and window, bumped with an
atomic UPDATE, so several web processes behind a load balancer count together. Expired rows are
deleted now and then by the hit that finds them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from civicgrid.core import crypto
from civicgrid.core.errors import DomainError, Forbidden
from civicgrid.intake.models import Block, BlockKind, RateCounter


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int
    message: str  # a message id (gettext_noop), translated when raised


# Defaults; CIVICGRID_INTAKE_LIMITS = {"submit_ip": (count, seconds), …} overrides any of them.
_DEFAULTS = {
    "submit_ip": Limit("submit_ip", 20, 3600, gettext_noop("提交过于频繁，请一小时后再试")),
    "submit_phone": Limit("submit_phone", 10, 86400, gettext_noop("该手机号今天提交次数过多，请明天再试")),
    "submit_user": Limit("submit_user", 200, 86400, gettext_noop("今天提交次数过多，请明天再试")),
    "follow_ip": Limit("follow_ip", 10, 900, gettext_noop("查询失败次数过多，请 15 分钟后再试")),
    "follow_code": Limit("follow_code", 5, 3600, gettext_noop("该查询码尝试次数过多，请一小时后再试")),
    "similar_ip": Limit("similar_ip", 120, 3600, gettext_noop("查询过于频繁，请稍后再试")),
    "join_ip": Limit("join_ip", 5, 3600, gettext_noop("注册过于频繁，请一小时后再试")),
    "open311_key": Limit("open311_key", 600, 3600, "API key rate limit exceeded"),
}


def limit(name: str) -> Limit:
    base = _DEFAULTS[name]
    override = getattr(settings, "CIVICGRID_INTAKE_LIMITS", {}).get(name)
    if override:
        return Limit(name, int(override[0]), int(override[1]), base.message)
    return base


def _window_key(rule: Limit, ident: str, now_ts: float) -> tuple[str, int]:
    window = int(now_ts // rule.seconds)
    return f"{rule.name}:{ident}:{window}"[:200], (window + 1) * rule.seconds


def count(name: str, ident: str) -> int:
    """Hits so far in the current window."""
    rule = limit(name)
    key, _ = _window_key(rule, ident, timezone.now().timestamp())
    return RateCounter.objects.filter(key=key).values_list("count", flat=True).first() or 0


def exceeded(name: str, ident: str) -> bool:
    return count(name, ident) >= limit(name).count


def hit(name: str, ident: str) -> int:
    """Counts one hit and returns the count in the window (atomic across processes)."""
    rule = limit(name)
    now = timezone.now()
    key, ends = _window_key(rule, ident, now.timestamp())
    expires = datetime.fromtimestamp(ends, tz=UTC)
    with transaction.atomic():
        updated = RateCounter.objects.filter(key=key).update(count=F("count") + 1)
        if not updated:
            try:
                with transaction.atomic():
                    RateCounter.objects.create(key=key, count=1, expires_at=expires)
            except IntegrityError:
                RateCounter.objects.filter(key=key).update(count=F("count") + 1)
            else:
                # A new window: sweep some expired rows of every key.
                stale = RateCounter.objects.filter(expires_at__lt=now).values_list("pk", flat=True)[:500]
                RateCounter.objects.filter(pk__in=list(stale)).delete()
    return RateCounter.objects.filter(key=key).values_list("count", flat=True).first() or 0


def check_and_hit(name: str, ident: str) -> None:
    """Counts a hit; RateLimited when it goes past the limit."""
    if not ident:
        return
    rule = limit(name)
    if hit(name, ident) > rule.count:
        raise RateLimited(_(rule.message), details={"limit": name, "retry_after": rule.seconds})


def check_only(name: str, ident: str) -> None:
    """RateLimited when the window is already full (for limits that count only failures)."""
    if ident and exceeded(name, ident):
        rule = limit(name)
        raise RateLimited(_(rule.message), details={"limit": name, "retry_after": rule.seconds})


def reset(name: str, ident: str) -> None:
    rule = limit(name)
    key, _ = _window_key(rule, ident, timezone.now().timestamp())
    RateCounter.objects.filter(key=key).delete()


# --- the block list ----------------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str:
    """The client's address; behind a proxy set CIVICGRID_TRUSTED_PROXY_HOPS to the number of hops."""
    hops = int(getattr(settings, "CIVICGRID_TRUSTED_PROXY_HOPS", 0))
    if hops:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "") or ""


def _active() -> Q:
    return Q(until__isnull=True) | Q(until__gt=timezone.now())


def is_blocked(*, ip: str = "", phone: str = "") -> bool:
    phone_index = crypto.blind_index("".join(phone.split())) if phone else ""
    if (
        phone_index
        and Block.objects.filter(_active(), kind=BlockKind.PHONE, phone_index=phone_index).exists()
    ):
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for network in Block.objects.filter(_active(), kind=BlockKind.IP).values_list("network", flat=True):
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_blocked(*, ip: str = "", phone: str = "") -> None:
    if is_blocked(ip=ip, phone=phone):
        raise Forbidden(_("您的提交已被限制。如有疑问，请联系所在社区。"), details={"blocked": True})


def block_until(days: int | None) -> datetime | None:
    return timezone.now() + timedelta(days=days) if days else None
