"""Reads for the resident pages and Open311: near duplicates, what a resident may see of a case,
the grid map, followers to notify, and the public categories."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import shapely
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from shapely.geometry import mapping, shape

from civicgrid.cases.models import (
    FINAL_STATUSES,
    Case,
    CaseStep,
    Category,
    Channel,
    Status,
    StepAction,
)
from civicgrid.core import crypto, geo, rows
from civicgrid.core.models import Unit, UnitKind
from civicgrid.intake.models import ServiceDefinition, Submission, Ticket, TicketKind
from civicgrid.people.models import User

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

SIMILAR_RADIUS_M = 300
SIMILAR_DAYS = 14
# Degrees of latitude per metre (a box prefilter before the exact distance).
_DEG_PER_M = 1 / 110_574.0


@dataclass(frozen=True)
class Similar:
    case: Case
    distance_m: float


def similar_open_cases(
    category: Category | None, lat: float | None, lng: float | None, text: str = "", limit: int = 5
) -> list[Similar]:
    """Open cases that are probably the same thing: same category, within 300 m, last 14 days.

    Routing decides (routing.duplicates: with text, only similar text counts); best match first.
    """
    from civicgrid.routing.duplicates import similar_open_cases as routing_similar  # routing owns the rule

    return [Similar(d.case, d.distance_m) for d in routing_similar(category, lat, lng, text, limit)]


# --- what a resident sees ----------------------------------------------------------------------


def abusive_q() -> Q:
    """Cases a dispatcher marked as malicious (their reject step carries {"abusive": true})."""
    return Q(
        Exists(CaseStep.objects.filter(case=OuterRef("pk"), action=StepAction.REJECT, changes__abusive=True))
    )


# The status in plain words, as the reporter reads it; %(unit)s is the lead unit. Translated when shown
# (the resident pages and their JSON); Open311 asks for the Chinese (intake.open311.views).
_RESIDENT_STATUS: dict[str, StrOrPromise] = {
    Status.RECEIVED: _("已收到，等待受理"),
    Status.REGISTERED: _("已受理，正在安排办理"),
    Status.ESCALATED: _("已上报街道，正在协调办理"),
    Status.DISPATCHED: _("已转交%(unit)s办理"),
    Status.RETURNED: _("正在重新安排办理单位"),
    Status.SIGNED: _("%(unit)s正在办理"),
    Status.DEFERRED: _("暂缓办理"),
    Status.FED_BACK: _("已办理，等待核查"),
    Status.CLOSED: _("已办结"),
    Status.REJECTED: _("不予受理"),
    Status.MERGED: _("已与相同的反映合并办理"),
}


def resident_status(case: Case) -> str:
    """The status in plain words, as the reporter reads it, in the active language."""
    words = _RESIDENT_STATUS.get(Status(case.status))
    if words is None:
        return case.status_name
    if case.status not in (Status.DISPATCHED, Status.SIGNED):
        return str(words)
    lead = case.lead_unit.name if case.lead_unit_id and case.lead_unit else gettext("相关单位")
    return str(words) % {"unit": lead}


# Steps the resident sees and how; notes are shown only where they are written for the resident.
_PUBLIC_STEPS: dict[str, tuple[StrOrPromise, bool]] = {
    StepAction.CREATE: (_("已收到您的反映"), False),
    StepAction.REGISTER: (pgettext_lazy("resident timeline", "已受理"), False),
    StepAction.REJECT: (_("不予受理"), True),
    StepAction.WHISTLE: (_("已上报街道协调"), False),
    StepAction.DISPATCH: (_("已转交办理单位"), False),
    StepAction.SIGN: (_("办理单位已接单"), False),
    StepAction.CLAIM: (_("社区党员已认领办理"), False),
    StepAction.APPROVE_EXTENSION: (_("办理期限已延长"), False),
    StepAction.DEFER: (_("暂缓办理"), False),
    StepAction.RESUME: (_("恢复办理"), False),
    StepAction.ARRIVE: (_("工作人员已到现场"), False),
    StepAction.FEEDBACK: (_("已办理"), True),
    StepAction.RATE: (_("您已评价"), True),
    StepAction.REOPEN: (_("重新办理"), True),
    StepAction.MERGE: (_("已与相同的反映合并办理"), False),
}


def resident_timeline(case: Case) -> list[dict[str, Any]]:
    """The timeline without staff names or internal notes (returns, extension requests, urging).

    Texts are in the active language; notes and unit names are data and stay as written."""
    steps = case.steps.select_related("unit").order_by("at", "id")
    out = []
    for step in steps:
        if step.action == StepAction.RECHECK:
            passed = bool((step.changes or {}).get("passed"))
            text = gettext("已核查，办结") if passed else gettext("核查未通过，继续办理")
            out.append({"at": step.at, "text": text, "note": "", "unit": ""})
            continue
        shown = _PUBLIC_STEPS.get(step.action)
        if shown is None:
            continue
        label, with_note = shown
        unit = ""
        if step.action in (StepAction.SIGN, StepAction.CLAIM, StepAction.FEEDBACK) and case.lead_unit_id:
            unit = step.unit.name if step.unit else ""  # who took it and who did it; not who sent it
        note = step.note if with_note else ""
        if step.action == StepAction.REJECT and case.reject_reason:
            note = case.reject_reason
        if step.action == StepAction.MERGE and case.merged_into_id and case.merged_into:
            note = gettext("请关注 %(number)s 的办理进度") % {"number": case.merged_into.number}
        out.append({"at": step.at, "text": str(label), "note": note, "unit": unit})
    return out


def resident_view(case: Case) -> dict[str, Any]:
    """Everything the resident page shows of one case; never the reporter's name or phone."""
    photos = list(case.photos.filter(step__isnull=True).order_by("id"))
    feedback_photos = list(case.photos.filter(step__isnull=False).order_by("id"))
    submission = Submission.objects.filter(case=case).first()
    return {
        "case": case,
        "status_text": resident_status(case),
        "timeline": resident_timeline(case),
        # No date while deferred: the deadline is suspended, and the day it resumes is no promise.
        "expected": case.due_at if case.status not in (*FINAL_STATUSES, Status.DEFERRED) else None,
        "answer": case.feedback_result,
        "photos": photos,
        "feedback_photos": feedback_photos,
        "reopened": case.reopen_count > 0,
        "reopen_reason": _last_note(case, StepAction.REOPEN),
        "may_rate": may_rate(case),
        "source": source_label(case, submission),
    }


def _last_note(case: Case, action: str) -> str:
    step = case.steps.filter(action=action).order_by("-at", "-id").first()
    return step.note if step else ""


def may_rate(case: Case, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    if case.status != Status.CLOSED or (case.rate_by is not None and now > case.rate_by):
        return False
    return not (case.rated_at is not None and case.closed_at is not None and case.rated_at >= case.closed_at)


def source_label(case: Case, submission: Submission | None) -> str:
    """How the case came in, as shown next to it (a mobile reporter's company included)."""
    label = Channel(case.channel).label
    if submission is not None and submission.company:
        return gettext("%(channel)s（%(company)s）") % {"channel": label, "company": submission.company}
    if submission is not None and submission.on_behalf:
        return gettext("%(channel)s（代为反映）") % {"channel": label}
    return str(label)


def my_cases(user: User) -> QuerySet[Case]:
    """A signed-in resident's cases: filed by or for them, and the ones they follow."""
    followed = Ticket.objects.filter(user=user).values("case_id")
    return (
        Case.objects.filter(Q(reporter_user=user) | Q(created_by=user) | Q(pk__in=followed))
        .select_related("category", "lead_unit")
        .order_by("-created_at", "-id")
    )


def ticket_by_code(code: str) -> Ticket | None:
    from civicgrid.intake.actions import code_digest

    return Ticket.objects.select_related("case").filter(code_digest=code_digest(code)).first()


def followers_of(case: Case) -> tuple[list[User], list[str]]:
    """Who follows a case besides its reporter: accounts and phone numbers (for cases.effects)."""
    # Asked on most steps of every case, and most cases have no follower: a written-out read of the
    # two columns (the ORM's join to the users cost 0.5 ms a step), the accounts only when there are.
    tickets = rows.fetch(
        Ticket,
        "SELECT id, user_id, phone_enc FROM intake_ticket WHERE case_id = %s AND kind = %s",
        [case.pk, TicketKind.FOLLOWER],
    )
    account_ids = {t.user_id for t in tickets if t.user_id is not None}
    users = {u.pk: u for u in User.objects.filter(pk__in=account_ids, is_active=True)} if account_ids else {}
    phones = [crypto.decrypt(t.phone_enc) for t in tickets if t.user_id not in users and t.phone_enc]
    return list(users.values()), sorted(set(phones))


# --- categories and the map ------------------------------------------------------------------------


def public_categories() -> list[dict[str, Any]]:
    """Active public leaf categories with their parent and extra questions, for the category picker."""
    cats = list(
        Category.objects.filter(public=True, is_active=True).select_related("parent").order_by("code")
    )
    parents = {c.parent_id for c in cats if c.parent_id}
    definitions = {d.category_id: d for d in ServiceDefinition.objects.filter(category__in=cats)}
    out = []
    for c in cats:
        if c.pk in parents:
            continue  # a 大类 with 小类 is picked through its children
        d = definitions.get(c.pk)
        out.append(
            {
                "code": c.code,
                "name": c.name,
                "group": (d.group if d and d.group else (c.parent.name if c.parent else "")),
                "keywords": d.keywords if d else "",
                "description": c.description,
                "anonymous": c.anonymous_allowed,
                "attributes": sorted(d.attributes, key=lambda a: a.get("order", 0)) if d else [],
            }
        )
    return out


class _AreasCache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: Any = None
        self.body: bytes = b""


_areas = _AreasCache()


def areas_geojson() -> tuple[bytes, str]:
    """Communities and grids as one simplified GeoJSON FeatureCollection, and its ETag.

    Rebuilt when the units change (the locate index's fingerprint); coordinates are rounded to
    about 1 m and simplified to ~2 m, which keeps the demo's 160 grids to a small download.
    """
    key = geo._fingerprint()
    with _areas.lock:
        if _areas.key != key:
            features = []
            shapes = (
                Unit.objects.filter(kind__in=[UnitKind.COMMUNITY, UnitKind.GRID], is_active=True)
                .exclude(polygon="")
                .values_list("code", "name", "kind", "polygon", "parent__code")
            )
            for code, name, kind, polygon, parent in shapes:
                try:
                    data = json.loads(polygon)
                    geometry = shape(data.get("geometry", data)).simplify(0.00002)
                except (ValueError, TypeError, AttributeError, KeyError):
                    continue
                geometry = shapely.set_precision(geometry, 0.00001)
                features.append(
                    {
                        "type": "Feature",
                        "properties": {"code": code, "name": name, "kind": kind, "parent": parent},
                        "geometry": mapping(geometry),
                    }
                )
            body = json.dumps(
                {"type": "FeatureCollection", "features": features},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            _areas.key, _areas.body = key, body.encode()
        import hashlib

        return _areas.body, hashlib.sha256(_areas.body).hexdigest()[:20]


def point_for_address(address: str, community_code: str = "") -> tuple[float, float] | None:
    """An approximate WGS-84 point for a place given only by words: the chosen community, or a grid or
    community whose name (without the demo suffix and "社区") occurs in the address; its inner point."""
    units = Unit.objects.filter(kind__in=[UnitKind.GRID, UnitKind.COMMUNITY], is_active=True).exclude(
        polygon=""
    )
    unit = units.filter(code=community_code).first() if community_code else None
    if unit is None and address:
        text = address.strip()
        best: Unit | None = None
        for candidate in units.only("id", "name", "kind", "polygon"):
            short = candidate.name.split("（")[0]
            stems = {short, short.removesuffix("社区")} if candidate.kind == UnitKind.COMMUNITY else {short}
            if any(len(s) >= 2 and s in text for s in stems) and (
                best is None or candidate.kind == UnitKind.GRID
            ):
                best = candidate
        unit = best
    if unit is None:
        return None
    try:
        data = json.loads(unit.polygon)
        point = shape(data.get("geometry", data)).representative_point()
    except (ValueError, TypeError, AttributeError, KeyError):
        return None
    return point.y, point.x
