"""Open311 GeoReport v2 endpoints (format by extension: .xml, the default, or .json).

Decisions (docs/open311.md): service_request_id is our case number; services are the public leaf
categories (type realtime); GET requests shows cases of public categories only, never the reporter,
and leaves out reports marked abusive; POST needs an API key (intake.Open311Key) and files through
intake.actions.submit_report, as a resident ("resident") or, for a key marked as a 12345 gateway,
as hotline_12345 through the gateway's staff account.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import override
from django.views.decorators.csrf import csrf_exempt

from civicgrid.cases.models import FINAL_STATUSES, Case, CasePhoto, Status
from civicgrid.core.errors import DomainError
from civicgrid.intake import actions, limits, queries
from civicgrid.intake.models import Open311Key, Source, Submission
from civicgrid.intake.open311.render import FORMATS, error, respond, w3c

CHANGESET = "2026-01-01T00:00:00+08:00"
SPEC = "http://wiki.open311.org/GeoReport_v2"
WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
DEDUPE_SECONDS = 60


class Problem(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


def _fmt(fmt: str | None) -> str:
    fmt = (fmt or "xml").lower()
    if fmt not in FORMATS:
        raise Problem(400, f"format {fmt} is not supported; use .xml or .json")
    return fmt


def endpoint(view):
    """Answers Problem and domain errors in the requested format with the standard's status codes."""

    def wrapped(request: HttpRequest, *args: Any, fmt: str | None = None, **kwargs: Any) -> HttpResponse:
        requested = (fmt or "xml").lower()
        try:
            # The standard's clients get the message ids (Chinese) whatever their Accept-Language:
            # domain errors are translated when raised, so the whole view runs untranslated.
            with override(None):
                return view(request, *args, fmt=_fmt(fmt), **kwargs)
        except Problem as exc:
            return error(requested, exc.status, exc.description)
        except DomainError as exc:
            status = {403: 403, 404: 404, 429: 429}.get(exc.status, 400)
            return error(requested, status, exc.message)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


# --- discovery and services ----------------------------------------------------------------------


@endpoint
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    base = request.build_absolute_uri(reverse("open311:root"))
    return respond(
        fmt,
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": getattr(settings, "CIVICGRID_OPEN311_CONTACT", "") or "请联系本系统管理员",
            "key_service": "API 密钥由系统管理员在后台（Open311 API 密钥）签发",
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": base,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


def _services() -> list[dict[str, Any]]:
    return queries.public_categories()


@endpoint
def services(request: HttpRequest, fmt: str) -> HttpResponse:
    items = [
        {
            "service_code": c["code"],
            "service_name": c["name"],
            "description": c["description"],
            "metadata": bool(c["attributes"]),
            "type": "realtime",
            "keywords": c["keywords"],
            "group": c["group"],
        }
        for c in _services()
    ]
    return respond(fmt, "services", items)


def _attribute(a: dict[str, Any], order: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "variable": bool(a.get("variable", True)),
        "code": str(a.get("code", "")),
        "datatype": a.get("datatype", "string"),
        "required": bool(a.get("required", False)),
        "datatype_description": a.get("datatype_description") or None,
        "order": int(a.get("order") or order),
        "description": a.get("description", ""),
    }
    if out["datatype"] in ("singlevaluelist", "multivaluelist"):
        out["values"] = [{"key": str(v.get("key")), "name": v.get("name", "")} for v in a.get("values", [])]
    return out


@endpoint
def service_definition(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    found = next((c for c in _services() if c["code"] == code), None)
    if found is None:
        raise Problem(404, f"service_code {code} not found")
    attributes = [_attribute(a, i) for i, a in enumerate(found["attributes"], start=1)]
    return respond(fmt, "service_definition", {"service_code": code, "attributes": attributes})


# --- requests ----------------------------------------------------------------------------------------


def public_requests() -> QuerySet[Case]:
    """Cases Open311 shows: public categories, not marked abusive."""
    return (
        Case.objects.filter(category__isnull=False, category__public=True)
        .exclude(queries.abusive_q())
        .select_related("category", "lead_unit", "merged_into", "intake")
    )


def _status_notes(case: Case) -> str:
    if case.status == Status.CLOSED:
        return case.feedback_result or "已办结"
    if case.status == Status.REJECTED:
        return case.reject_reason or "不予受理"
    if case.status == Status.MERGED and case.merged_into is not None:
        return f"已合并到 {case.merged_into.number}"
    with override(None):  # the API speaks the message ids (Chinese), whatever the client's Accept-Language
        return queries.resident_status(case)


def request_object(request: HttpRequest, case: Case) -> dict[str, Any]:
    """One service request as the standard lists it; never the reporter's name, phone or e-mail."""
    photos = getattr(case, "intake_photos", None)
    if photos is None:
        photos = list(case.photos.filter(step__isnull=True).order_by("id")[:1])
    submission: Submission | None = getattr(case, "intake", None) if hasattr(case, "intake") else None
    media = (
        request.build_absolute_uri(photos[0].image.url)
        if photos
        else (submission.media_url if submission else "")
    )
    closed = case.status in FINAL_STATUSES
    updated = (case.closed_at if case.status == Status.CLOSED else None) or case.updated_at
    return {
        "service_request_id": case.number,
        "status": "closed" if closed else "open",
        "status_notes": _status_notes(case),
        "service_name": case.category.name if case.category else None,
        "service_code": case.category.code if case.category else None,
        "description": case.description,
        "agency_responsible": case.lead_unit.name if case.lead_unit else None,
        "service_notice": None,
        "requested_datetime": w3c(case.created_at),
        "updated_datetime": w3c(updated),
        "expected_datetime": w3c(case.due_at),
        "address": case.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lng,
        "media_url": media or None,
    }


def _parse_date(value: str, name: str) -> datetime:
    parsed = parse_datetime(value.strip().replace(" ", "+")) if value else None
    if parsed is None:
        raise Problem(400, f"{name} must be a W3C datetime, e.g. 2026-01-01T00:00:00+08:00")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise Problem(400, f"{name} must be a whole number") from None
    if not low <= number <= high:
        raise Problem(400, f"{name} must be between {low} and {high}")
    return number


def _with_photos(cases: QuerySet[Case]) -> QuerySet[Case]:
    return cases.prefetch_related(
        Prefetch(
            "photos",
            queryset=CasePhoto.objects.filter(step__isnull=True).order_by("id"),
            to_attr="intake_photos",
        )
    )


def _list(request: HttpRequest, fmt: str) -> HttpResponse:
    q = request.GET
    cases = public_requests()
    ids = [s.strip() for s in (q.get("service_request_id") or "").split(",") if s.strip()]
    if ids:
        # The standard: a list of ids overrides every other argument.
        if len(ids) > MAX_REQUESTS:
            raise Problem(400, f"at most {MAX_REQUESTS} service_request_id values")
        cases = cases.filter(number__in=ids)
    else:
        codes = [s.strip() for s in (q.get("service_code") or "").split(",") if s.strip()]
        if codes:
            cases = cases.filter(category__code__in=codes)
        statuses = {s.strip() for s in (q.get("status") or "").split(",") if s.strip()}
        if statuses - {"open", "closed"}:
            raise Problem(400, "status must be open, closed or both (comma separated)")
        if statuses == {"open"}:
            cases = cases.exclude(status__in=FINAL_STATUSES)
        elif statuses == {"closed"}:
            cases = cases.filter(status__in=FINAL_STATUSES)
        start = _parse_date(q["start_date"], "start_date") if q.get("start_date") else None
        end = _parse_date(q["end_date"], "end_date") if q.get("end_date") else None
        if start and end and end < start:
            raise Problem(400, "end_date is before start_date")
        if start and end and end - start > WINDOW:
            raise Problem(400, "start_date and end_date may not span more than 90 days")
        if start is None and end is None:
            end = timezone.now()
        if start is None:
            assert end is not None
            start = end - WINDOW
        if end is None:
            end = start + WINDOW
        cases = cases.filter(created_at__gte=start, created_at__lte=end)
    page = _int(q.get("page"), "page", 1, 1, 1_000_000)
    size = _int(q.get("page_size"), "page_size", MAX_REQUESTS, 1, MAX_REQUESTS)
    rows = list(_with_photos(cases.order_by("-created_at", "-id"))[(page - 1) * size : page * size])
    return respond(fmt, "service_requests", [request_object(request, c) for c in rows])


@csrf_exempt
@endpoint
def requests_view(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "GET":
        return _list(request, fmt)
    if request.method == "POST":
        return _post(request, fmt)
    raise Problem(405, "GET or POST")


@endpoint
def request_detail(request: HttpRequest, number: str, fmt: str) -> HttpResponse:
    case = _with_photos(public_requests().filter(number=number)).first()
    if case is None:
        raise Problem(404, f"service_request_id {number} not found")
    return respond(fmt, "service_requests", [request_object(request, case)])


@endpoint
def token_detail(request: HttpRequest, token: str, fmt: str) -> HttpResponse:
    submission = (
        Submission.objects.select_related("case").filter(source=Source.OPEN311, token=token).first()
        if token
        else None
    )
    if submission is None:
        raise Problem(404, f"token {token} not found")
    return respond(fmt, "service_requests", [{"service_request_id": submission.case.number, "token": token}])


# --- POST ----------------------------------------------------------------------------------------------


def _attributes(post: Any) -> dict[str, Any]:
    """attribute[code]=v and attribute[code][]=v1&attribute[code][]=v2 (multivaluelist)."""
    out: dict[str, Any] = {}
    for key in post:
        if not key.startswith("attribute[") or "]" not in key:
            continue
        code = key[len("attribute[") : key.index("]")]
        if key.endswith("[]"):
            out[code] = post.getlist(key)
        else:
            values = post.getlist(key)
            out[code] = values if len(values) > 1 else values[0]
    return out


def _post(request: HttpRequest, fmt: str) -> HttpResponse:
    post = request.POST
    key_value = (post.get("api_key") or "").strip()
    if not key_value:
        raise Problem(400, "api_key was not provided")
    key = actions.open311_key(key_value)
    if key is None:
        raise Problem(403, "api_key is not valid")
    limits.check_and_hit("open311_key", f"k{key.pk}")
    code = (post.get("service_code") or "").strip()
    if not code:
        raise Problem(400, "service_code was not provided")
    if not any(c["code"] == code for c in _services()):
        raise Problem(404, f"service_code {code} not found")
    lat_raw, long_raw = post.get("lat", "").strip(), post.get("long", "").strip()
    address = (post.get("address_string") or "").strip()
    lat = lng = None
    if lat_raw or long_raw:
        try:
            lat, lng = float(lat_raw), float(long_raw)
        except ValueError:
            raise Problem(400, "lat and long must both be given as numbers (WGS-84)") from None
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise Problem(400, "lat or long out of range")
    elif not address:
        if post.get("address_id"):
            raise Problem(400, "address_id is not supported; send lat and long or address_string")
        raise Problem(400, "a location is required: lat and long, or address_string")
    description = (post.get("description") or "").strip()
    if not description:
        raise Problem(400, "description was not provided")
    if len(description) > 4000:
        raise Problem(400, "description is limited to 4,000 characters")
    media_url = (post.get("media_url") or "").strip()
    if media_url and not media_url.startswith(("http://", "https://")):
        raise Problem(400, "media_url must be an http(s) URL")
    name = f"{(post.get('last_name') or '').strip()}{(post.get('first_name') or '').strip()}"
    device_id = (post.get("device_id") or "").strip()[:100]
    data = actions.ReportInput(
        description=description,
        category=code,
        lat=lat,
        lng=lng,
        address=address,
        location_source="api" if lat is not None else "",
        name=name,
        phone=(post.get("phone") or "").strip(),
        attributes=_attributes(post),
    )
    digest = actions.request_digest(data, [], {"source": Source.OPEN311, "device_id": device_id})
    with transaction.atomic():
        # One key's posts queue here, so a quick repeat finds the first one (PostgreSQL row lock).
        Open311Key.objects.select_for_update().filter(pk=key.pk).first()
        recent = (
            Submission.objects.select_related("case")
            .filter(
                api_key=key,
                device_id=device_id,
                request_hash=digest,
                created_at__gte=timezone.now() - timedelta(seconds=DEDUPE_SECONDS),
            )
            .order_by("-created_at")
            .first()
        )
        if recent is not None:
            case, token = recent.case, recent.token
        else:
            filed = actions.submit_report(
                data,
                user=None,
                ip=limits.client_ip(request),
                source=Source.OPEN311,
                api_key=key,
                device_id=device_id,
                account_ref=(post.get("account_id") or "").strip(),
                email=(post.get("email") or "").strip()[:254],
                media_url=media_url,
            )
            case = filed.case
            token = Submission.objects.filter(case=case).values_list("token", flat=True).first() or ""
    notice = getattr(getattr(case.category, "service_definition", None), "service_notice", "") or None
    response = respond(
        fmt,
        "service_requests",
        [
            {
                "service_request_id": case.number,
                "service_notice": notice,
                "account_id": (post.get("account_id") or "").strip() or None,
            }
        ],
    )
    response["Open311-Token"] = token
    return response


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    fmt = "json" if rest.endswith(".json") else "xml"
    return error(fmt, 404, "no such Open311 resource")


def root(request: HttpRequest) -> HttpResponse:
    return discovery(request, fmt="xml")
