"""What the desk views share: sign-in for pages and htmx requests, the staff check, the case panel."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import desk_queries, rules, schemas
from civicgrid.cases.models import Case, StepAction
from civicgrid.cases.search import matches_page
from civicgrid.core import coords
from civicgrid.core.bounds import MAX_PAGE
from civicgrid.core.errors import Forbidden
from civicgrid.people.models import Role, User
from civicgrid.people.queries import user_of

PAGE_SIZE = 20


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def staff_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Signed-in staff only: anonymous users go to the login page (htmx follows with HX-Redirect)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            if is_htmx(request):
                response = HttpResponse(status=401)
                current = urlsplit(request.headers.get("HX-Current-URL", ""))
                target = current.path + (f"?{current.query}" if current.query else "")
                query = urlencode({"next": target or request.get_full_path()})
                response["HX-Redirect"] = f"{resolve_url('people:login')}?{query}"
                return response
            return redirect_to_login(request.get_full_path())
        if not rules.is_desk_user(user_of(request)):
            raise Forbidden(_("工作台仅供工作人员使用"))
        return view(request, *args, **kwargs)

    return wrapper


class CountedPaginator(Paginator):
    """A paginator told the count it would otherwise query again (the inbox has counted its tab).

    `capped` when a text search stopped counting at SEARCH_COUNT_LIMIT: the pager then says "more
    than", and the last page it offers is the limit's.
    """

    def __init__(self, object_list: Any, per_page: int, count: int, capped: bool = False):
        super().__init__(object_list, per_page)
        self.__dict__["count"] = count
        self.capped = capped


def search_page(listed: QuerySet[Case], text: str, number: str | None, per_page: int = PAGE_SIZE) -> Page:
    """A page of a search for `text` in `listed`, with its total (search.matches_page).

    A Paginator would count first and then read the page: twice over the rows the LIKE must check.
    An out-of-range page number falls back to the last page, as Paginator.get_page does; one past
    MAX_PAGE too, before its offset overflows the database's integers.
    """
    try:
        wanted = min(max(1, int(number or 1)), MAX_PAGE)
    except ValueError:
        wanted = 1
    ids, total, exact = matches_page(listed, text, (wanted - 1) * per_page, per_page)
    paginator = CountedPaginator(listed, per_page, total, capped=not exact)
    if total and wanted > paginator.num_pages:  # past the last page, or past the count's limit
        wanted = paginator.num_pages
        ids, total, exact = matches_page(listed, text, (wanted - 1) * per_page, per_page)
    found = Case.objects.filter(pk__in=ids).select_related("category", "lead_unit", "territory").in_bulk()
    return Page([found[pk] for pk in ids], wanted if ids else 1, paginator)


def _map(case: Case) -> dict[str, Any] | None:
    """The pin and the outlines of its grid and community, over the installation's tiles if it has a
    tile server (CIVICGRID_MAP_TILE_URL; none by default: nothing loads from the internet)."""
    if case.lat is None or case.lng is None:
        return None
    # Points are stored in WGS-84; tiles made for Chinese web maps are drawn in GCJ-02, so what goes
    # on them is shifted the same way, or the pin would sit a few hundred metres off.
    shift = coords.wgs84_to_gcj02 if settings.CIVICGRID_MAP_TILE_COORD == "gcj02" else None
    areas = []
    for unit in (case.community, case.grid):
        if unit is None or not unit.polygon:
            continue
        try:
            shape = json.loads(unit.polygon)
        except ValueError:
            continue
        if shift is not None:
            shape = _shifted(shape, shift)
        areas.append({"name": unit.name, "kind": unit.kind, "geojson": shape})
    lat, lng = shift(case.lat, case.lng) if shift is not None else (case.lat, case.lng)
    return {
        "lat": lat,
        "lng": lng,
        "label": case.number,
        "areas": areas,
        "tiles": settings.CIVICGRID_MAP_TILE_URL,
        "attribution": settings.CIVICGRID_MAP_ATTRIBUTION,
    }


def _shifted(shape: Any, shift: Callable[[float, float], tuple[float, float]]) -> Any:
    """A GeoJSON geometry with every [lng, lat] position passed through `shift`."""
    if isinstance(shape, dict):
        return {k: v if k in ("properties", "bbox") else _shifted(v, shift) for k, v in shape.items()}
    if isinstance(shape, list):
        if len(shape) >= 2 and all(isinstance(n, int | float) for n in shape[:2]):
            lat, lng = shift(shape[1], shape[0])
            return [lng, lat, *shape[2:]]
        return [_shifted(part, shift) for part in shape]
    return shape


def case_context(case: Case, user: User) -> dict[str, Any]:
    """Everything the case panel shows: the case as this user may see it and the steps they may take."""
    detail = schemas.case_detail(case, user)
    ctx = desk_queries.step_context(case, user, has_pending=detail["pending_extension"] is not None)
    steps = desk_queries.allowed_steps(ctx)
    details = desk_queries.step_details(case)
    timeline = [{**s, "detail": details.get(s["id"], "")} for s in detail["timeline"]]
    # A photo taken for a step (到场报到, 反馈) is captioned with it.
    step_names = {s["id"]: s["action_name"] for s in timeline}
    photos = [{**p, "step_name": step_names.get(p["step"], "")} for p in detail["photos"]]
    return {
        "case": case,
        "detail": detail,
        "timeline": timeline,
        "photos": photos,
        "status_hint": desk_queries.status_hint(case),
        # The Party member who claimed it (党员认领): the actor of its claim step.
        "claimer": next((s["actor"] for s in reversed(timeline) if s["action"] == StepAction.CLAIM), "")
        if case.claimed_by_id
        else "",
        "clocks": desk_queries.case_clocks(case, timezone.now()),
        "steps": [(s, desk_queries.STEP_LABELS[s]) for s in steps],
        "map": _map(case),
        # Resident reports can be marked abusive by the subdistrict's dispatcher (intake.views.mark_abusive).
        "may_mark_abusive": rules.membership_over(user, [Role.DISPATCHER], case.territory_path) is not None,
    }
