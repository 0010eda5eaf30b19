"""The resident pages: report (随手拍/点单), follow, rate, my cases, mobile reporter sign-up, and the
dispatcher's abuse marking. Thin: parse, call intake.actions / cases.actions, render."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicgrid.cases import actions as case_actions
from civicgrid.cases.models import Case, CaseType
from civicgrid.cases.queries import get_case_for
from civicgrid.core import coords
from civicgrid.core.errors import DomainError, InvalidInput, NotFound
from civicgrid.intake import actions, limits, queries
from civicgrid.intake.forms import AbusiveForm, JoinForm, RateForm, TrackForm
from civicgrid.intake.models import MobileReporterProfile, Ticket, TicketKind
from civicgrid.people.models import Role, User
from civicgrid.people.queries import memberships_of, user_of

SESSION_TICKETS = "intake_tickets"


def _user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _json_error(exc: DomainError) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": exc.code, "message": exc.message, "details": exc.details}},
        status=exc.status,
        json_dumps_params={"ensure_ascii": False},
    )


def _grant(request: HttpRequest, ticket: Ticket) -> None:
    granted = list(request.session.get(SESSION_TICKETS, []))
    if ticket.pk not in granted:
        granted = [*granted[-49:], ticket.pk]
    request.session[SESSION_TICKETS] = granted


def map_settings() -> dict[str, Any]:
    return {
        "tiles": getattr(settings, "CIVICGRID_MAP_TILE_URL", ""),
        "tileCoord": getattr(settings, "CIVICGRID_MAP_TILE_COORD", "wgs84"),
        "attribution": getattr(settings, "CIVICGRID_MAP_ATTRIBUTION", ""),
        "areas": reverse("intake:areas"),
        # Later layers (service points, …) register here: [{"name", "url"}] of GeoJSON endpoints.
        "layers": getattr(settings, "CIVICGRID_MAP_LAYERS", []),
    }


def report_messages() -> dict[str, str]:
    """The texts report.js shows, in the request's language; the script fills each %(name)s itself."""
    return {
        "chosen": gettext("已选：%(category)s"),
        "required": gettext("%(label)s（必填）"),
        "photoAlt": gettext("照片 %(n)s"),
        "removePhoto": gettext("删除照片"),
        "tooManyPhotos": gettext("最多上传 %(n)s 张照片"),
        "photoUnreadable": gettext("照片读取失败，请重新选择"),
        "placeGps": gettext("当前位置 %(place)s"),
        "placePin": gettext("地图选点 %(place)s"),
        "noGeolocation": gettext("此设备不能定位，请在地图上点选"),
        "locateFailed": gettext("定位失败，请在地图上点选或选择社区"),
        "distance": gettext("%(m)s 米"),
        "followToo": gettext("我也关注此事"),
        "followed": gettext("已关注"),
        "offline": gettext("网络不可用，请稍后再试"),
        "deviceCode": gettext("查询码 %(code)s"),
        "pending": gettext("%(n)s 条反映尚未发出，联网后将自动提交。"),
        "needCategory": gettext("请选择问题分类"),
        "needDescription": gettext("请描述问题"),
        "needPlace": gettext("请在地图上选择位置，或选择所在社区"),
        "submitting": gettext("正在提交…"),
        "submit": gettext("提交"),
        "submitFailed": gettext("提交失败，请稍后再试"),
        "savedOffline": gettext("网络不可用：已保存在本机，联网后自动提交。"),
        "notSaved": gettext("网络不可用，且照片太大无法保存在本机，请联网后再提交。"),
        "copied": gettext("已复制"),
    }


# --- the report page -----------------------------------------------------------------------------


@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    roles = {m.role for m in memberships_of(user)} if user else set()
    profile = MobileReporterProfile.objects.filter(user=user).first() if user else None
    context = {
        "categories": queries.public_categories(),
        "map": map_settings(),
        "report_messages": report_messages(),
        "types": [(t.value, t.label) for t in CaseType if t != CaseType.INCIDENT],
        "may_act_for_others": bool(roles & {Role.HOUSEHOLD_LEADER, Role.GRID_WORKER}),
        "is_mobile_reporter": Role.MOBILE_REPORTER in roles,
        "profile": profile,
    }
    return render(request, "intake/report.html", context)


def _float(value: str | None, field: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(gettext("位置坐标无效"), details={field: value}) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidInput(gettext("位置坐标无效"), details={field: value})
    return number


@require_POST
def report_submit(request: HttpRequest) -> JsonResponse:
    """Multipart form → {number, code, url, replayed}; errors as {"error": {code, message, details}}."""
    post = request.POST
    try:
        try:
            attributes = json.loads(post.get("attributes") or "{}")
        except ValueError:
            raise InvalidInput(gettext("补充信息格式有误"), details={"attributes": "json"}) from None
        if not isinstance(attributes, dict):
            raise InvalidInput(gettext("补充信息格式有误"), details={"attributes": "object"})
        data = actions.ReportInput(
            description=post.get("description", ""),
            category=post.get("category", ""),
            type=post.get("type", CaseType.COMPLAINT),
            lat=_float(post.get("lat"), "lat"),
            lng=_float(post.get("lng"), "lng"),
            coord=post.get("coord", "wgs84"),
            address=post.get("address", ""),
            community=post.get("community", ""),
            location_source=post.get("location_source", "")[:10],
            name=post.get("name", ""),
            phone=post.get("phone", ""),
            anonymous=post.get("anonymous") in ("1", "true", "on"),
            on_behalf=post.get("on_behalf") in ("1", "true", "on"),
            attributes=attributes,
            idempotency_key=post.get("idempotency_key", "") or request.headers.get("Idempotency-Key", ""),
            honeypot=post.get("website", ""),
        )
        files = [(f.name or "photo", f.read()) for f in request.FILES.getlist("photos")]
        filed = actions.submit_report(data, user=_user(request), ip=limits.client_ip(request), files=files)
    except DomainError as exc:
        return _json_error(exc)
    ticket = Ticket.objects.filter(case=filed.case, kind=TicketKind.REPORTER).order_by("id").first()
    url = ""
    if ticket is not None:
        _grant(request, ticket)
        url = reverse("intake:track_case", args=[ticket.pk])
    return JsonResponse(
        {
            "number": filed.case.number,
            "code": filed.code,
            "url": url,
            "replayed": filed.replayed,
            "status": queries.resident_status(filed.case),
        },
        status=200 if filed.replayed else 201,
        json_dumps_params={"ensure_ascii": False},
    )


@require_GET
def areas_json(request: HttpRequest) -> HttpResponse:
    body, etag = queries.areas_geojson()
    quoted = f'"{etag}"'
    if request.headers.get("If-None-Match") == quoted:
        return HttpResponse(status=304)
    response = HttpResponse(body, content_type="application/geo+json")
    response["ETag"] = quoted
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def similar_json(request: HttpRequest) -> JsonResponse:
    """Open cases near the point in the same category (已有人反映), without anything about reporters."""
    try:
        limits.check_and_hit("similar_ip", limits.client_ip(request))
        category = actions.public_category(request.GET.get("category", ""))
        lat, lng = _float(request.GET.get("lat"), "lat"), _float(request.GET.get("lng"), "lng")
        if lat is not None and lng is not None and request.GET.get("coord") == "gcj02":
            lat, lng = coords.gcj02_to_wgs84(lat, lng)
        found = queries.similar_open_cases(category, lat, lng, request.GET.get("text", ""), limit=5)
        abusive = set(
            Case.objects.filter(queries.abusive_q(), pk__in=[s.case.pk for s in found]).values_list(
                "pk", flat=True
            )
        )
    except DomainError as exc:
        return _json_error(exc)
    items = [
        {
            "number": s.case.number,
            "category": s.case.category.name if s.case.category else "",
            "summary": (s.case.title or s.case.description)[:60],
            "address": s.case.address,
            "status": queries.resident_status(s.case),
            "created_at": timezone.localtime(s.case.created_at).strftime("%m-%d %H:%M"),
            "distance_m": round(s.distance_m),
        }
        for s in found
        if s.case.pk not in abusive
    ]
    return JsonResponse({"items": items}, json_dumps_params={"ensure_ascii": False})


@require_POST
def follow_existing(request: HttpRequest) -> JsonResponse:
    """Follow an open case (已有人反映 → 我也关注) instead of filing it again."""
    try:
        limits.check_and_hit("submit_ip", limits.client_ip(request))
        phone = request.POST.get("phone", "")
        limits.check_blocked(ip=limits.client_ip(request), phone=phone)
        ticket, code = case_actions.follow_case(
            request.POST.get("number", ""), by=_user(request), phone=phone
        )
    except DomainError as exc:
        return _json_error(exc)
    _grant(request, ticket)
    return JsonResponse(
        {"number": ticket.case.number, "code": code, "url": reverse("intake:track_case", args=[ticket.pk])},
        status=201,
        json_dumps_params={"ensure_ascii": False},
    )


# --- following and rating --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def track_form(request: HttpRequest) -> HttpResponse:
    form = TrackForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            ticket = actions.verify_ticket(
                form.cleaned_data["code"], form.cleaned_data["digits"], ip=limits.client_ip(request)
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            _grant(request, ticket)
            return redirect("intake:track_case", ticket.pk)
    return render(request, "intake/track_form.html", {"form": form}, status=status)


def _granted_ticket(request: HttpRequest, ticket_id: int) -> Ticket:
    user = _user(request)
    ticket = (
        Ticket.objects.select_related("case", "case__lead_unit", "case__category", "case__merged_into")
        .filter(pk=ticket_id)
        .first()
    )
    allowed = ticket is not None and (
        ticket_id in request.session.get(SESSION_TICKETS, [])
        or (user is not None and (ticket.user_id == user.pk or ticket.case.reporter_user_id == user.pk))
    )
    if not allowed or ticket is None:
        raise NotFound(gettext("请先输入查询码"))
    return ticket


@require_GET
def track_case(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = _granted_ticket(request, ticket_id)
    view = queries.resident_view(ticket.case)
    merged = ticket.case.merged_into
    context = {
        **view,
        "ticket": ticket,
        "is_reporter": ticket.kind == TicketKind.REPORTER,
        "form": RateForm(),
        "rate_url": reverse("intake:track_rate", args=[ticket.pk]),
        "merged_view": queries.resident_view(merged) if merged is not None else None,
    }
    return render(request, "intake/case.html", context)


@require_POST
def track_rate(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = _granted_ticket(request, ticket_id)
    form = RateForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("请选择满意度和是否解决"))
        return redirect("intake:track_case", ticket.pk)
    case_actions.rate_by_ticket(
        ticket,
        satisfaction=form.cleaned_data["satisfaction"],
        resolved=form.cleaned_data["resolved"] == "yes",
        comment=form.cleaned_data["comment"],
        by=_user(request),
    )
    if _reopened(ticket):
        messages.success(request, gettext("感谢您的评价。已为您申请重新办理。"))
    else:
        messages.success(request, gettext("感谢您的评价。"))
    return redirect("intake:track_case", ticket.pk)


def _reopened(ticket: Ticket) -> bool:
    return (Case.objects.filter(pk=ticket.case_id).values_list("reopen_count", flat=True).first() or 0) > 0


@login_required
@require_GET
def my_cases(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    cases = list(queries.my_cases(user).prefetch_related("photos")[:100])
    rows = [
        {
            "case": c,
            "status_text": queries.resident_status(c),
            "thumb": next((p.thumbnail.url for p in c.photos.all() if p.step_id is None), ""),
        }
        for c in cases
    ]
    return render(request, "intake/my.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def my_case(request: HttpRequest, number: str) -> HttpResponse:
    user = user_of(request)
    case = queries.my_cases(user).filter(number=number).first()
    if case is None:
        raise NotFound(gettext("工单不存在"))
    if request.method == "POST":
        form = RateForm(request.POST)
        if form.is_valid():
            if case.reporter_user_id == user.pk:
                case_actions.rate_case(
                    get_case_for(user, number),
                    by=user,
                    satisfaction=form.cleaned_data["satisfaction"],
                    resolved=form.cleaned_data["resolved"] == "yes",
                    comment=form.cleaned_data["comment"],
                )
                messages.success(request, gettext("感谢您的评价。"))
            else:
                messages.error(request, gettext("只有反映人可以评价"))
        return redirect("intake:my_case", number)
    view = queries.resident_view(case)
    context = {
        **view,
        "ticket": None,
        "is_reporter": case.reporter_user_id == user.pk,
        "form": RateForm(),
        "rate_url": reverse("intake:my_case", args=[number]),
        "merged_view": queries.resident_view(case.merged_into) if case.merged_into else None,
    }
    return render(request, "intake/case.html", context)


# --- mobile reporters ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    """快递小哥、货车司机 sign up with their company (or a signed-in one sets it)."""
    user = _user(request)
    form = JoinForm(request.POST or None, signed_in=user is not None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            if user is not None:
                actions.set_company(
                    user, company=form.cleaned_data["company"], kind=form.cleaned_data["kind"]
                )
            else:
                if form.cleaned_data.get("website"):
                    raise actions.Honeypot(gettext("提交失败，请刷新页面后重试"))
                limits.check_and_hit("join_ip", limits.client_ip(request))
                user = actions.register_mobile_reporter(
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                    display_name=form.cleaned_data["display_name"],
                    company=form.cleaned_data["company"],
                    kind=form.cleaned_data["kind"],
                )
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        except DomainError as exc:
            if isinstance(exc.details, dict):
                for key, problem in exc.details.items():
                    if key in form.fields:
                        form.add_error(key, problem if isinstance(problem, list) else exc.message)
                        break
                else:
                    form.add_error(None, exc.message)
            else:
                form.add_error(None, exc.message)
            status = exc.status
        else:
            messages.success(request, gettext("登记成功，您的随手拍将显示所属企业。"))
            return redirect("intake:report")
    return render(request, "intake/join.html", {"form": form}, status=status)


# --- staff: abuse --------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def mark_abusive(request: HttpRequest, number: str) -> HttpResponse:
    """The dispatcher marks a report as malicious and may block its sender (other unit 404, others 403)."""
    user = user_of(request)
    case = get_case_for(user, number)
    from civicgrid.cases import rules

    rules.require_over(
        user, [Role.DISPATCHER], case.territory_path, gettext("只有街道指挥中心可以标记恶意反映")
    )
    form = AbusiveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        case = case_actions.mark_abusive(case, by=user, reason=form.cleaned_data["reason"])
        if form.cleaned_data["block_days"]:
            actions.block_sender(
                case, by=user, days=int(form.cleaned_data["block_days"]), reason=form.cleaned_data["reason"]
            )
        messages.success(request, gettext("%(number)s 已标记为恶意反映。") % {"number": case.number})
        return redirect("intake:mark_abusive", case.number)
    return render(
        request,
        "intake/abusive.html",
        {"form": form, "case": case, "status_text": queries.resident_status(case)},
        status=422 if form.errors else 200,
    )
