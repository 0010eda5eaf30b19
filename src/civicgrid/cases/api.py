"""Cases API: file, list, read, act on and photograph cases; the category list.

Thin: parse into a schema, call a query or an action, render with schemas.case_detail.
Decisions a client needs to know:
- POST /cases with an `Idempotency-Key` header: a replay of the same body by the same user answers
  201 with the same case and the header `Idempotent-Replayed: true`; the same key with a different
  body answers 409 `idempotency_conflict`.
- POST /cases/{number}/actions/{action}: one route per action, each with its own body schema (see the
  OpenAPI document); an unknown action answers 404 `not_found` (after the case's own scope check).
"""

import json
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema
from ninja import Status as Reply
from ninja.files import UploadedFile

from civicgrid.cases import actions, schemas
from civicgrid.cases.models import Case, Category, Status
from civicgrid.cases.queries import (
    active_category,
    case_after_step,
    cases_visible_to,
    filter_cases,
    get_case_for,
    reported_from,
    with_list_relations,
)
from civicgrid.cases.rules import is_staff_viewer
from civicgrid.cases.search import matches_page
from civicgrid.core.errors import InvalidInput, NotFound, errors
from civicgrid.core.models import Unit
from civicgrid.core.queries import unit_by_code
from civicgrid.core.rendering import ApiJSONEncoder
from civicgrid.people.models import User

router = Router(tags=["cases"])

MAX_KEY_LENGTH = 100


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _category(code: str | None) -> Category | None:
    if not code:
        return None
    category = active_category(code)
    if category is None:
        raise InvalidInput(_("未知的分类"), details={"category": code})
    return category


def _rendered(request: HttpRequest, case_detail: dict[str, Any], status: int = 200) -> HttpResponse:
    """A schemas.case_detail rendered as is: re-validating it against CaseOut cost every step 0.25 ms
    and changed nothing (test_api checks both renderings give the same bytes)."""
    body = json.dumps(case_detail, cls=ApiJSONEncoder)  # as the API's renderer writes it
    return HttpResponse(body, status=status, content_type="application/json; charset=utf-8")


def _reply(request: HttpRequest, case: Case, status: int = 200) -> HttpResponse:
    """The case as an action left it, for the one who acted."""
    user = _user(request)
    return _rendered(request, schemas.case_detail(case_after_step(user, case), user), status)


@router.post(
    "/cases", response={201: schemas.CaseOut, **errors(401, 403, 409, 422)}, summary="提交工单（受理）"
)
def create_case(request: HttpRequest, body: schemas.CaseIn):
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(_("Idempotency-Key 过长"), details={"Idempotency-Key": "too long"})
    case = actions.create_case(
        by=_user(request),
        description=body.description,
        title=body.title,
        category=_category(body.category),
        type=body.type,
        urgency=body.urgency,
        channel=body.channel,
        lat=body.lat,
        lng=body.lng,
        coord=body.coord,
        address=body.address,
        reporter_name=body.reporter_name,
        reporter_phone=body.reporter_phone,
        anonymous=body.anonymous,
        idempotency_key=key,
    )
    reply = _reply(request, case, status=201)
    if case.replayed:
        reply["Idempotent-Replayed"] = "true"
    return reply


def _filtered(user: User, filters: schemas.CaseFilter) -> QuerySet[Case]:
    statuses = [s.strip() for s in (filters.status or "").split(",") if s.strip()]
    unknown = [s for s in statuses if s not in Status.values]
    if unknown:
        raise InvalidInput(_("未知的状态"), details={"status": ",".join(unknown)})
    unit = None
    if filters.unit:
        unit = Unit.objects.filter(code=filters.unit).first()
        if unit is None:
            raise InvalidInput(_("未知的单位"), details={"unit": filters.unit})
    category = None
    if filters.category:
        category = Category.objects.filter(code=filters.category).first()
        if category is None:
            raise InvalidInput(_("未知的分类"), details={"category": filters.category})
    cases = filter_cases(
        cases_visible_to(user),
        statuses=statuses,
        unit=unit,
        category=category,
        overdue=filters.overdue,
        created_from=filters.created_from,
        created_to=filters.created_to,
    )
    return reported_from(cases, user, filters.phone) if filters.phone else cases


@router.get("/cases", response={200: schemas.CasePage, **errors(401, 422)}, summary="可见的工单")
def list_cases(request: HttpRequest, filters: Query[schemas.CaseFilter]):
    user = _user(request)
    cases = _filtered(user, filters).order_by("-created_at", "-id")
    start, size = (filters.page - 1) * filters.page_size, filters.page_size
    if (filters.q or "").strip():
        ids, count, exact = matches_page(cases, filters.q or "", start, size)
        found = with_list_relations(Case.objects.filter(pk__in=ids)).in_bulk()
        page = [found[pk] for pk in ids]
    else:  # the covering indexes count these without reading the table, and the page stops early
        count, exact = cases.count(), True
        page = list(with_list_relations(cases)[start : start + size])
    return {"items": [schemas.case_item(c, user) for c in page], "count": count, "count_exact": exact}


@router.get(
    "/cases/{number}", response={200: schemas.CaseOut, **errors(401, 404)}, summary="工单详情与办理记录"
)
def read_case(request: HttpRequest, number: str):
    user = _user(request)
    return _rendered(request, schemas.case_detail(get_case_for(user, number), user))


def _unit(code: str, field: str) -> Unit:
    unit = unit_by_code(code)
    if unit is None:
        raise InvalidInput(_("未知的单位"), details={field: code})
    return unit


def _dispatch(case: Case | str, user: User, body: schemas.DispatchIn) -> Any:
    return actions.dispatch_case(
        case,
        by=user,
        lead_unit=_unit(body.lead_unit, "lead_unit"),
        assisting_units=[_unit(code, "assisting_units") for code in body.assisting_units],
        note=body.note,
    )


def _merge(case: Case | str, user: User, body: schemas.MergeIn) -> Any:
    return actions.merge_case(case, by=user, into=body.into, note=body.note)


Run = Callable[[Case | str, User, Any], Any]

# action name -> (body schema, how to run it)
ACTIONS: dict[str, tuple[type[Schema], Run]] = {
    "register": (schemas.NoteIn, lambda c, u, b: actions.register_case(c, by=u, note=b.note)),
    "reject": (schemas.ReasonIn, lambda c, u, b: actions.reject_case(c, by=u, reason=b.reason)),
    "whistle": (schemas.NoteIn, lambda c, u, b: actions.whistle_case(c, by=u, note=b.note)),
    "dispatch": (schemas.DispatchIn, _dispatch),
    "offer": (schemas.NoteIn, lambda c, u, b: actions.offer_case(c, by=u, note=b.note)),
    "claim": (schemas.NoteIn, lambda c, u, b: actions.claim_case(c, by=u, note=b.note)),
    "sign": (schemas.NoteIn, lambda c, u, b: actions.sign_case(c, by=u, note=b.note)),
    "return": (
        schemas.ReturnIn,
        lambda c, u, b: actions.return_case(c, by=u, reason_code=b.reason_code, note=b.note),
    ),
    "request_extension": (
        schemas.ExtensionIn,
        lambda c, u, b: actions.request_extension(c, by=u, working_days=b.working_days, reason=b.reason),
    ),
    "approve_extension": (schemas.NoteIn, lambda c, u, b: actions.approve_extension(c, by=u, note=b.note)),
    "deny_extension": (schemas.ReasonIn, lambda c, u, b: actions.deny_extension(c, by=u, reason=b.reason)),
    "defer": (
        schemas.DeferIn,
        lambda c, u, b: actions.defer_case(c, by=u, reason=b.reason, resume_on=b.resume_on),
    ),
    "resume": (schemas.NoteIn, lambda c, u, b: actions.resume_case(c, by=u, note=b.note)),
    "arrive": (
        schemas.ArriveIn,
        lambda c, u, b: actions.arrive_case(
            c, by=u, lat=b.lat, lng=b.lng, coord=b.coord, note=b.note, photo_ids=b.photo_ids
        ),
    ),
    "feedback": (
        schemas.FeedbackIn,
        lambda c, u, b: actions.feedback_case(c, by=u, result=b.result, photo_ids=b.photo_ids),
    ),
    "recheck": (
        schemas.RecheckIn,
        lambda c, u, b: actions.recheck_case(c, by=u, passed=b.passed, note=b.note),
    ),
    "rate": (
        schemas.RateIn,
        lambda c, u, b: actions.rate_case(
            c, by=u, satisfaction=b.satisfaction, resolved=b.resolved, comment=b.comment
        ),
    ),
    "reopen": (schemas.ReasonIn, lambda c, u, b: actions.reopen_case(c, by=u, reason=b.reason)),
    "urge": (schemas.NoteIn, lambda c, u, b: actions.urge_case(c, by=u, note=b.note)),
    "supervise": (schemas.NoteIn, lambda c, u, b: actions.supervise_case(c, by=u, note=b.note)),
    "merge": (schemas.MergeIn, _merge),
}


def _add_action_route(name: str, body_schema: type[Schema], run: Run) -> None:
    def act(request: HttpRequest, number: str, body=None):
        # The action checks scope itself (under its row lock): no read of the case before it.
        done = run(number, _user(request), body if body is not None else body_schema())
        return _reply(request, done if isinstance(done, Case) else done.case)

    act.__annotations__["body"] = body_schema
    if any(field.is_required() for field in body_schema.model_fields.values()):
        act.__defaults__ = ()  # a body is required when the schema has required fields
    act.__name__ = f"case_action_{name}"
    router.post(
        f"/cases/{{number}}/actions/{name}",
        response={200: schemas.CaseOut, **errors(401, 403, 404, 409, 422)},
        summary=f"工单操作：{name}",
        operation_id=f"case_action_{name}",
        url_name=f"case_action_{name}",
    )(act)


for _name, (_schema, _run) in ACTIONS.items():
    _add_action_route(_name, _schema, _run)


@router.post(
    "/cases/{number}/actions/{action}",
    response=schemas.CaseOut,
    summary="未知操作（404）",
    include_in_schema=False,
)
def unknown_action(request: HttpRequest, number: str, action: str):
    get_case_for(_user(request), number)
    raise NotFound(_("未知的操作"), details={"action": action, "known": sorted(ACTIONS)})


@router.post(
    "/cases/{number}/photos",
    response={201: list[schemas.PhotoOut], **errors(401, 403, 404, 409, 422)},
    summary="上传照片",
)
def upload_photos(
    request: HttpRequest, number: str, photos: File[list[UploadedFile]], step: Form[int | None] = None
):
    user = _user(request)
    case = get_case_for(user, number)
    files = []
    for upload in photos:
        if upload.size and upload.size > actions.photos.MAX_BYTES:
            raise InvalidInput(
                _("文件“%(name)s”超过 10 MB") % {"name": upload.name},
                details={"photos": upload.name},
            )
        files.append((upload.name or "photo", upload.read()))
    added = actions.add_photos(case, by=user, files=files, step_id=step)
    return Reply(201, [schemas.photo_out(p) for p in added])


@router.get("/categories", response={200: list[schemas.CategoryOut], **errors(401)}, summary="事项分类及时限")
def list_categories(request: HttpRequest):
    categories = Category.objects.filter(is_active=True).select_related("parent", "default_lead_unit")
    if not is_staff_viewer(_user(request)):
        categories = categories.filter(public=True)
    return [schemas.category_out(c) for c in categories.order_by("code")]
