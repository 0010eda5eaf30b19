"""Reading the measures: sums of the daily rollups for a unit, its child units and its people.

The one function behind GET /api/v1/measures and the /measures/ page. Every figure is a SUM over the
rollup rows of the wanted units (or people) and days, grouped by unit: one indexed query on
(unit, day) for the unit and its children, whatever the number of cases. The definitions of every
count and rate are in docs/measures.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import rules
from civicgrid.cases.measure_models import (
    COUNT_COLUMNS,
    HISTOGRAM_COLUMNS,
    SUM_COLUMNS,
    MeasureDay,
    PersonMeasureDay,
)
from civicgrid.cases.measures import buckets
from civicgrid.core.errors import Forbidden, InvalidInput, NotFound
from civicgrid.core.models import Unit
from civicgrid.people.models import Membership, User
from civicgrid.people.queries import memberships_of, units_visible_to

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
# Rates whose denominator is smaller than this are flagged and the row is not ranked.
MIN_SAMPLE = int(getattr(settings, "CIVICGRID_MEASURES_MIN_SAMPLE", 10))
STAFF_ROLES = rules.STAFF_ROLES | rules.TERRITORY_ROLES
RATES = [
    "response_rate",
    "on_time_closure_rate",
    "closure_rate",
    "resolution_rate",
    "satisfaction_rate",
    "rework_rate",
    "extension_rate",
    "return_rate",
]
# The rate children and people are ranked by (then closure_rate); its base decides "small sample".
RANK_BY = "on_time_closure_rate"


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def period(start: date | None, end: date | None, *, today: date | None = None) -> Period:
    """The asked period, by default the last DEFAULT_DAYS days up to today (local dates, inclusive)."""
    today = today or timezone.localdate()
    end = end or (today if start is None else min(today, start + timedelta(days=DEFAULT_DAYS - 1)))
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidInput(_("开始日期不能晚于结束日期"), details={"from": "after to"})
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput(
            _("统计区间最长 %(days)s 天") % {"days": MAX_DAYS},
            details={"from": f"at most {MAX_DAYS} days"},
        )
    return Period(start, end)


def require_staff(user: User) -> None:
    if not rules.is_staff_viewer(user):
        raise Forbidden(_("只有工作人员可以查看考核指标"))


def top_unit(user: User) -> Unit:
    """The highest unit among the user's staff memberships (the first root for a superuser)."""
    if user.is_superuser:
        unit = Unit.objects.filter(parent__isnull=True).order_by("path").first()
    else:
        staff = [m.unit for m in memberships_of(user) if m.role in STAFF_ROLES]
        unit = min(staff, key=lambda u: (u.depth, u.path)) if staff else None
    if unit is None:
        raise NotFound(_("单位不存在"))
    return unit


def unit_for(user: User, code: str | None) -> Unit:
    """The unit with this code if it is in the user's staff scope (NotFound otherwise), else the top unit."""
    require_staff(user)
    if not code:
        return top_unit(user)
    unit = units_visible_to(user, roles=STAFF_ROLES).filter(code=code).first()
    if unit is None:
        raise NotFound(_("单位不存在"))
    return unit


def child_units(unit: Unit) -> list[Unit]:
    return list(Unit.objects.filter(parent=unit, is_active=True).order_by("kind", "code", "name"))


def _sums(model: type, key: str, owners: list[int], p: Period) -> dict[int, dict[str, int]]:
    if not owners:
        return {}
    rows = (
        model.objects.filter(**{f"{key}_id__in": owners}, day__gte=p.start, day__lte=p.end)  # type: ignore[attr-defined]
        .values(f"{key}_id")
        .annotate(**{f"s_{c}": Sum(c) for c in SUM_COLUMNS})
    )
    return {row[f"{key}_id"]: {c: int(row[f"s_{c}"] or 0) for c in SUM_COLUMNS} for row in rows}


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator > 0 else None


def summarize(counts: dict[str, int] | None, *, person: bool = False) -> dict[str, Any]:
    """Counts, rates and handling times of one row (a unit's or a person's sums over the period)."""
    c = {name: 0 for name in SUM_COLUMNS} | (counts or {})
    base = c["closed"] if person else c["due"] - c["deferred"]
    denominators: dict[str, tuple[int, int] | None] = {
        "response_rate": (c["signed_in_time"], c["signed"] if person else c["orders"]),
        "on_time_closure_rate": (c["closed_on_time"], base),
        "closure_rate": None if person else (c["closed"], base),
        "resolution_rate": (c["resolved"], c["rated"]),
        "satisfaction_rate": (c["satisfied"] + c["basically_satisfied"], c["rated"]),
        "rework_rate": (c["reworked"], c["closed"]),
        "extension_rate": None if person else (c["extended"], c["due"]),
        "return_rate": None if person else (c["returned"], c["rounds"]),
    }
    out: dict[str, Any] = {name: c[name] for name in COUNT_COLUMNS}
    small = []
    for name, pair in denominators.items():
        out[name] = _ratio(*pair) if pair else None
        if pair and pair[1] < MIN_SAMPLE:
            small.append(name)
    histogram = [c[h] for h in HISTOGRAM_COLUMNS]
    p90 = buckets.percentile(histogram, 0.9)
    out["handling_hours_avg"] = round(c["handling_seconds"] / c["closed"] / 3600, 2) if c["closed"] else None
    out["handling_hours_p90"] = round(p90 / 3600, 2) if p90 is not None else None
    out["small"] = small
    return out


def _is_small(measures: dict[str, Any]) -> bool:
    return RANK_BY in measures["small"]


def _rank(rows: list[dict[str, Any]]) -> None:
    """Competition ranking (1, 2, 2, 4) by RANK_BY, then closure rate; small samples get no rank."""

    def key(row: dict[str, Any]) -> tuple[float, float]:
        m = row["measures"]
        return (m[RANK_BY] or 0.0, m["closure_rate"] or 0.0)

    ranked = [r for r in rows if not r["small_sample"]]
    for row in rows:
        row["rank"] = (
            1 + sum(1 for other in ranked if key(other) > key(row)) if not row["small_sample"] else None
        )


def unit_json(unit: Unit) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "kind": unit.kind, "kind_name": unit.get_kind_display()}


def _people(unit: Unit, p: Period) -> list[dict[str, Any]]:
    members = (
        Membership.objects.filter(unit__path__startswith=unit.path, role__in=rules.HANDLER_ROLES)
        .select_related("user")
        .order_by("user__display_name", "user__username")
    )
    users = list({m.user.pk: m.user for m in members if m.user.is_active}.values())
    sums = _sums(PersonMeasureDay, "user", [u.pk for u in users], p)
    rows = []
    for u in users:
        measures = summarize(sums.get(u.pk), person=True)
        rows.append(
            {
                "user": {"id": u.pk, "username": u.username, "name": u.display_name or u.username},
                "measures": measures,
                "small_sample": _is_small(measures),
            }
        )
    _rank(rows)
    return rows


def report(
    user: User,
    *,
    unit_code: str | None = None,
    start: date | None = None,
    end: date | None = None,
    by_person: bool = False,
) -> dict[str, Any]:
    """The measures of a unit and of each child unit (and, with by_person, of its handlers).

    Forbidden for a caller without a staff role, NotFound for a unit outside the caller's scope.
    """
    unit = unit_for(user, unit_code)
    return unit_report(unit, period(start, end), by_person=by_person)


def unit_report(unit: Unit, p: Period, *, by_person: bool = False) -> dict[str, Any]:
    """The report for a unit the caller may see (scope checked by the caller: see `report`)."""
    children = child_units(unit)
    sums = _sums(MeasureDay, "unit", [unit.pk, *(c.pk for c in children)], p)
    measures = summarize(sums.get(unit.pk))
    rows = []
    for child in children:
        m = summarize(sums.get(child.pk))
        rows.append({"unit": unit_json(child), "measures": m, "small_sample": _is_small(m)})
    _rank(rows)
    out: dict[str, Any] = {
        "unit": unit_json(unit),
        "from": p.start,
        "to": p.end,
        "min_sample": MIN_SAMPLE,
        "measures": measures,
        "small_sample": _is_small(measures),
        "children": rows,
    }
    if by_person:
        out["people"] = _people(unit, p)
    return out


def trend(unit: Unit, p: Period) -> list[dict[str, Any]]:
    """Per day of the period: due (less deferred), closed and closed on time, and the two rates."""
    rows = {
        r["day"]: r
        for r in MeasureDay.objects.filter(unit=unit, day__gte=p.start, day__lte=p.end).values(
            "day", "due", "deferred", "closed", "closed_on_time"
        )
    }
    out = []
    for day in p.days:
        r = rows.get(day) or {"due": 0, "deferred": 0, "closed": 0, "closed_on_time": 0}
        base = r["due"] - r["deferred"]
        out.append(
            {
                "day": day.isoformat(),
                "base": base,
                "closed": r["closed"],
                "closed_on_time": r["closed_on_time"],
                "closure_rate": _ratio(r["closed"], base),
                "on_time_closure_rate": _ratio(r["closed_on_time"], base),
            }
        )
    return out
