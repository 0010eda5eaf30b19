"""Scoped reads: the one rule "a member sees its units and everything below them"."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _

from civicgrid.core import rows
from civicgrid.core.errors import Forbidden, NotFound
from civicgrid.core.models import Unit
from civicgrid.people.models import Membership, Role, User


def user_of(request: HttpRequest) -> User:
    """The signed-in user of a request that passed authentication (typed for the checkers)."""
    user = request.user
    if not isinstance(user, User):
        raise NotFound(_("未登录"))
    return user


def is_administrator(user: User) -> bool:
    return bool(user.is_superuser) or user.memberships.filter(role=Role.ADMINISTRATOR).exists()


# The two reads of every API request (the token's user, then the memberships every scope check
# reads) are written out: building them through the ORM cost 0.75 and 1.25 ms of Python on this
# machine against 0.13 ms each as SQL, most of a bare request (docs/performance.md, "api-lifecycle").
_MEMBERSHIPS_SQL = (
    "SELECT m.id, m.user_id, m.unit_id, m.role, m.created_at, "
    + rows.columns("n", "unit__", rows.UNIT_FIELDS)
    + " FROM people_membership m JOIN core_unit n ON n.id = m.unit_id"
    " WHERE m.user_id = %s ORDER BY n.path, m.role"
)
_TOKEN_OWNER_SQL = (
    "SELECT u.*, t.id AS token_id,"
    " CASE WHEN t.last_used_at IS NULL OR t.last_used_at < %s THEN 1 ELSE 0 END AS token_stale"
    " FROM people_apitoken t JOIN people_user u ON u.id = t.user_id"
    " WHERE t.digest = %s AND t.revoked_at IS NULL AND u.is_active"
)


def memberships_of(user: User) -> list[Membership]:
    """The user's memberships with their units (no polygons), cached on the user object for the request."""
    cached = getattr(user, "_civicgrid_memberships", None)
    if cached is None:
        cached = rows.fetch(Membership, _MEMBERSHIPS_SQL, [user.pk])
        for m in cached:
            m.unit = rows.related(m, Unit, "unit__", rows.UNIT_FIELDS)
        user._civicgrid_memberships = cached  # type: ignore[attr-defined]
    return cached


def token_owner(digest: str, used_since: datetime) -> User | None:
    """The active user of the unrevoked token with this digest, with `token_id` and `token_stale`
    (the token was last used before `used_since`, or never)."""
    since = connection.ops.adapt_datetimefield_value(used_since)
    return next(iter(rows.fetch(User, _TOKEN_OWNER_SQL, [since, digest])), None)


def roles_of(user: User) -> set[str]:
    return {m.role for m in memberships_of(user)}


def scope_q(user: User, field: str = "", roles: Iterable[str] | None = None) -> Q:
    """A filter on a unit field (`field` is the path to the Unit, "" for Unit itself) for the scope."""
    prefix = f"{field}__" if field else ""
    if user.is_superuser:
        return Q()
    wanted = set(roles) if roles is not None else None
    paths = {m.unit.path for m in memberships_of(user) if wanted is None or m.role in wanted}
    # A unit inside another member unit adds nothing to the prefix match.
    paths = {p for p in paths if not any(p != q and p.startswith(q) for q in paths)}
    if not paths:
        return Q(pk__in=[])
    query = Q()
    for path in sorted(paths):
        query |= Q(**{f"{prefix}path__startswith": path})
    return query


def units_visible_to(user: User, roles: Iterable[str] | None = None) -> QuerySet[Unit]:
    return Unit.objects.filter(scope_q(user, roles=roles))


def get_unit_for(user: User, *, pk: int | None = None, code: str | None = None) -> Unit:
    """A unit the user may see, else NotFound (also when it does not exist)."""
    lookup = {"pk": pk} if pk is not None else {"code": code}
    unit = units_visible_to(user).filter(**lookup).first()
    if unit is None:
        raise NotFound(_("单位不存在"))
    return unit


def require_role(user: User, roles: Iterable[str], unit: Unit | None = None) -> None:
    """Forbidden unless the user holds one of the roles (over `unit`, when given)."""
    if user.is_superuser:
        return
    wanted = set(roles)
    for m in memberships_of(user):
        if m.role in wanted and (unit is None or unit.path.startswith(m.unit.path)):
            return
    raise Forbidden()
