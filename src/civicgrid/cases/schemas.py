"""Typed input and output of the cases API, and the functions that render a case for one viewer.

The reporter's name and phone leave the server only in clear for viewers with the need
(rules.may_see_reporter); everyone else gets the masked form.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.utils import timezone
from django.utils.translation import get_language, pgettext
from ninja import Field, Schema

from civicgrid.cases import deadlines, queries, rules, search, transitions
from civicgrid.cases.models import (
    CLOCK_STATUSES,
    AssignmentRole,
    Case,
    CaseAssignment,
    CasePhoto,
    CaseStep,
    CaseType,
    Category,
    Channel,
    ReturnReason,
    Satisfaction,
    StepAction,
    Urgency,
)
from civicgrid.core import crypto, rows
from civicgrid.core.bounds import PageNumber, RowId
from civicgrid.core.models import Unit
from civicgrid.people.models import User

Text = Field("", max_length=2000)
Reason = Field(..., min_length=1, max_length=500)


class CaseIn(Schema):
    description: str = Field(..., min_length=1, max_length=5000)
    title: str = Field("", max_length=100)
    category: str | None = Field(None, description="分类编码")
    type: CaseType = CaseType.COMPLAINT
    urgency: Urgency = Urgency.NORMAL
    channel: Channel | None = Field(None, description="省略时按提交人角色确定")
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    coord: Literal["wgs84", "gcj02"] = "wgs84"
    address: str = Field("", max_length=200)
    reporter_name: str = Field("", max_length=50)
    reporter_phone: str = Field("", max_length=20)
    anonymous: bool = False


class NoteIn(Schema):
    note: str = Text


class ReasonIn(Schema):
    reason: str = Reason


class DeferIn(ReasonIn):
    resume_on: date | None = Field(None, description="恢复办理日期：今天之后、一年之内；省略时为 30 天后")


class DispatchIn(Schema):
    lead_unit: str = Field(..., min_length=1, description="主办单位编码")
    assisting_units: list[str] = Field(default_factory=list, max_length=20, description="协办单位编码")
    note: str = Text


class ReturnIn(Schema):
    reason_code: ReturnReason
    note: str = Text


class ExtensionIn(Schema):
    working_days: int = Field(..., ge=1, le=30)
    reason: str = Reason


class ArriveIn(Schema):
    lat: float = Field(..., ge=-90, le=90)
    lng: float = Field(..., ge=-180, le=180)
    coord: Literal["wgs84", "gcj02"] = "wgs84"
    note: str = Text
    photo_ids: list[RowId] = Field(default_factory=list, max_length=9)


class FeedbackIn(Schema):
    result: str = Field(..., min_length=1, max_length=5000)
    photo_ids: list[RowId] = Field(default_factory=list, max_length=9)


class RecheckIn(Schema):
    passed: bool
    note: str = Text


class RateIn(Schema):
    satisfaction: Satisfaction
    resolved: bool
    comment: str = Field("", max_length=500)


class MergeIn(Schema):
    into: str = Field(..., min_length=1, description="目标工单编号")
    note: str = Text


# A day the list filters take (queries.FILTER_DATES says which and why).
FilterDate = Annotated[date, Field(ge=queries.FILTER_DATES[0], le=queries.FILTER_DATES[1])]


class CaseFilter(Schema):
    status: str | None = Field(None, description="状态，多个用逗号分隔")
    unit: str | None = Field(None, description="单位编码：主办、协办或属地在其下")
    category: str | None = Field(None, description="分类编码（大类含其小类）")
    overdue: bool | None = None
    q: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=30, description="反映人电话（指挥中心、社区工作人员）")
    created_from: FilterDate | None = None
    created_to: FilterDate | None = None
    page: PageNumber = 1
    page_size: int = Field(20, ge=1, le=100)


class UnitBrief(Schema):
    code: str | None
    name: str
    kind: str


class CategoryBrief(Schema):
    code: str
    name: str


class StepOut(Schema):
    id: int
    action: str
    action_name: str
    actor: str
    unit: str | None
    at: datetime
    note: str
    from_status: str
    to_status: str


class PhotoOut(Schema):
    id: int
    url: str
    thumbnail_url: str
    step: int | None
    content_type: str
    width: int
    height: int


class AssignmentOut(Schema):
    unit: UnitBrief
    role: str
    signed_at: datetime | None
    arrived_at: datetime | None


class ExtensionOut(Schema):
    id: int
    working_days: int
    reason: str
    status: str
    requested_at: datetime
    unit: str | None


class CaseItem(Schema):
    number: str
    status: str
    status_name: str
    channel: str
    type: str
    category: CategoryBrief | None
    urgency: str
    title: str
    description: str
    address: str
    lat: float | None
    lng: float | None
    territory: UnitBrief | None
    lead_unit: UnitBrief | None
    assisting_units: list[UnitBrief]
    reporter_name: str
    reporter_phone: str
    anonymous: bool
    created_at: datetime
    sign_by: datetime | None
    due_at: datetime | None
    overdue: bool
    warn_level: str
    deferred: bool
    resume_on: date | None
    rework_count: int
    return_count: int
    reopen_count: int
    extension_count: int
    merged_into: str | None


class CaseOut(CaseItem):
    grid: UnitBrief | None
    community: UnitBrief | None
    subdistrict: UnitBrief | None
    locate_method: str
    assignments: list[AssignmentOut]
    signed_at: datetime | None
    dispatched_at: datetime | None
    first_dispatched_at: datetime | None
    fed_back_at: datetime | None
    recheck_by: datetime | None
    closed_at: datetime | None
    rate_by: datetime | None
    reject_reason: str
    return_reason: str
    feedback_result: str
    satisfaction: str
    resolved: bool | None
    rating_comment: str
    urge_count: int
    supervise_count: int
    offered_at: datetime | None  # offered to the community's Party members (发布党员认领)
    claimed: bool  # a Party member claimed it and handles it (the claim step names who)
    pending_extension: ExtensionOut | None
    timeline: list[StepOut]
    photos: list[PhotoOut]


class CasePage(Schema):
    items: list[CaseItem]
    count: int = Field(
        description=f"匹配的工单数；文本搜索（q）最多数到 {search.SEARCH_COUNT_LIMIT}，"
        f"更多时为 {search.SEARCH_COUNT_LIMIT} 且 count_exact 为 false"
    )
    count_exact: bool = Field(True, description="count 是否为确切数目")


class CategoryOut(Schema):
    code: str
    name: str
    parent: str | None
    nature: str
    description: str
    handle_limit: int
    handle_limit_unit: str
    # The other limits in force: the category's own, else the defaults (docs/time-limits.md).
    sign_limit_hours: int
    urgent_sign_limit_minutes: int
    answer_limit_hours: int
    recheck_limit_days: int
    rating_window_days: int
    default_lead_unit: str | None
    anonymous_allowed: bool
    arrival_required: bool


# --- rendering ---------------------------------------------------------------------------------------


def unit_brief(unit: Unit | None) -> dict[str, Any] | None:
    return {"code": unit.code, "name": unit.name, "kind": unit.kind} if unit else None


def reporter(case: Case, viewer: User) -> tuple[str, str]:
    """The reporter's (name, phone) as this viewer may see them."""
    if case.anonymous:
        return "匿名", ""
    name, phone = crypto.decrypt(case.reporter_name_enc), crypto.decrypt(case.reporter_phone_enc)
    if rules.may_see_reporter(viewer, case):
        return name, phone
    if not rules.is_staff_viewer(viewer):
        return "", ""  # a Party member handling a resident's request: not even a masked trace
    return crypto.mask_name(name), crypto.mask_phone(phone)


def is_overdue(case: Case, now: datetime | None = None) -> bool:
    return case.status in CLOCK_STATUSES and case.due_at is not None and case.due_at < (now or timezone.now())


def case_item(case: Case, viewer: User, assignments: list[CaseAssignment] | None = None) -> dict[str, Any]:
    """A list row; `assignments` are the active ones (prefetched as case.active_assignments in lists)."""
    if assignments is None:
        assignments = getattr(case, "active_assignments", None)
        if assignments is None:
            assignments = list(case.assignments.filter(active=True).select_related("unit"))
    name, phone = reporter(case, viewer)
    category: Category | None = case.category
    return {
        "number": case.number,
        "status": case.status,
        "status_name": case.status_name,
        "channel": case.channel,
        "type": case.type,
        "category": {"code": category.code, "name": category.name} if category else None,
        "urgency": case.urgency,
        "title": case.title,
        "description": case.description,
        "address": case.address,
        "lat": case.lat,
        "lng": case.lng,
        "territory": unit_brief(case.territory),
        "lead_unit": unit_brief(case.lead_unit),
        "assisting_units": [unit_brief(a.unit) for a in assignments if a.role == AssignmentRole.ASSIST],
        "reporter_name": name,
        "reporter_phone": phone,
        "anonymous": case.anonymous,
        "created_at": case.created_at,
        "sign_by": case.sign_by,
        "due_at": case.due_at,
        "overdue": is_overdue(case),
        "warn_level": case.warn_level,
        "deferred": case.deferred,
        "resume_on": case.resume_on,
        "rework_count": case.rework_count,
        "return_count": case.return_count,
        "reopen_count": case.reopen_count,
        "extension_count": case.extension_count,
        "merged_into": case.merged_into.number if case.merged_into_id and case.merged_into else None,
    }


def _actor_name(step: CaseStep, case: Case, viewer: User, staff_viewer: bool, sees_reporter: bool) -> str:
    if step.actor_id is None:
        return pgettext("actor", "系统")
    # An anonymous reporter's account is nobody's to see, not even staff who may see reporters.
    if (
        step.actor_id == case.reporter_user_id
        and step.actor_id != viewer.pk
        and (case.anonymous or not sees_reporter)
    ):
        return pgettext("actor", "匿名群众") if case.anonymous else pgettext("actor", "反映人")
    if not staff_viewer and step.actor_id != viewer.pk:
        # Residents see which unit acted, not the name of the member of staff.
        return pgettext("actor", "工作人员")
    return step.actor_name  # type: ignore[attr-defined]  # read by queries.timeline


def photo_out(photo: CasePhoto) -> dict[str, Any]:
    return {
        "id": photo.pk,
        "url": photo.image.url,
        "thumbnail_url": photo.thumbnail.url,
        "step": photo.step_id,
        "content_type": photo.content_type,
        "width": photo.width,
        "height": photo.height,
    }


# The steps' names per language: a timeline names each of its steps, and each lazy label went
# through the translation machinery again.
_ACTION_NAMES: dict[str | None, dict[str, str]] = {}


def _action_names() -> dict[str, str]:
    language = get_language()
    names = _ACTION_NAMES.get(language)
    if names is None:
        names = _ACTION_NAMES[language] = {action.value: str(action.label) for action in StepAction}
    return names


def case_detail(case: Case, viewer: User) -> dict[str, Any]:
    """Everything about one case that this viewer may see, with its timeline and photos."""
    action_names = _action_names()
    # No query for what cannot exist: units come with the first dispatch, an extension request is
    # pending only in transitions.EXTENSION_RULED (made at `signed`, withdrawn when the case leaves),
    # and a case locked for a step knows whether it has photos and a pending request (case_for_update).
    assignments = getattr(case, "active_assignments", None)
    if assignments is None:
        assignments = queries.with_units(case).active_assignments  # type: ignore[attr-defined]
    steps = queries.timeline(case)
    photos = (
        rows.fetch(CasePhoto, "SELECT * FROM cases_casephoto WHERE case_id = %s ORDER BY id", [case.pk])
        if getattr(case, "has_photos", True)
        else []
    )
    pending = (
        queries.pending_extension(case)
        if case.status in transitions.EXTENSION_RULED and getattr(case, "has_pending_extension", True)
        else None
    )
    staff_viewer = rules.is_desk_user(viewer)
    sees_reporter = rules.may_see_reporter(viewer, case)
    data = case_item(case, viewer, assignments)
    data.update(
        {
            "grid": unit_brief(case.grid),
            "community": unit_brief(case.community),
            "subdistrict": unit_brief(case.subdistrict),
            "locate_method": case.locate_method,
            "assignments": [
                {
                    "unit": unit_brief(a.unit),
                    "role": a.role,
                    "signed_at": a.signed_at,
                    "arrived_at": a.arrived_at,
                }
                for a in assignments
            ],
            "signed_at": case.signed_at,
            "dispatched_at": case.dispatched_at,
            "first_dispatched_at": case.first_dispatched_at,
            "fed_back_at": case.fed_back_at,
            "recheck_by": case.recheck_by,
            "closed_at": case.closed_at,
            "rate_by": case.rate_by,
            "reject_reason": case.reject_reason,
            "return_reason": case.return_reason,
            "feedback_result": case.feedback_result,
            "satisfaction": case.satisfaction,
            "resolved": case.resolved,
            "rating_comment": case.rating_comment,
            "urge_count": case.urge_count,
            "supervise_count": case.supervise_count,
            "offered_at": case.offered_at,
            "claimed": case.claimed_by_id is not None,
            "pending_extension": {
                "id": pending.pk,
                "working_days": pending.working_days,
                "reason": pending.reason,
                "status": pending.status,
                "requested_at": pending.requested_at,
                "unit": pending.unit_name,  # type: ignore[attr-defined]
            }
            if pending
            else None,
            "timeline": [
                {
                    "id": s.pk,
                    "action": s.action,
                    "action_name": action_names[s.action],
                    "actor": _actor_name(s, case, viewer, staff_viewer, sees_reporter),
                    "unit": s.unit_name,  # type: ignore[attr-defined]
                    "at": s.at,
                    "note": s.note,
                    "from_status": s.from_status,
                    "to_status": s.to_status,
                }
                for s in steps
            ],
            "photos": [photo_out(p) for p in photos],
        }
    )
    return data


def category_out(category: Category) -> dict[str, Any]:
    return {
        "code": category.code,
        "name": category.name,
        "parent": category.parent.code if category.parent_id and category.parent else None,
        "nature": category.nature,
        "description": category.description,
        "handle_limit": category.handle_limit,
        "handle_limit_unit": category.handle_limit_unit,
        **deadlines.limits(category),
        "default_lead_unit": (
            category.default_lead_unit.code
            if category.default_lead_unit_id and category.default_lead_unit
            else None
        ),
        "anonymous_allowed": category.anonymous_allowed,
        "arrival_required": category.arrival_required,
    }
