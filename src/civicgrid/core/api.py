"""Units of the caller's scope and locating a point."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from civicgrid.core import coords, geo
from civicgrid.core.bounds import PageNumber
from civicgrid.core.errors import errors
from civicgrid.core.models import AuditEntry, Unit, UnitKind
from civicgrid.people.models import Role
from civicgrid.people.queries import get_unit_for, require_role, units_visible_to, user_of

router = Router(tags=["units"])


class UnitOut(Schema):
    id: int
    code: str | None
    name: str
    kind: str
    parent: str | None
    parent_id: int | None


class UnitFilter(Schema):
    kind: UnitKind | None = None
    parent: str | None = None  # a unit code
    parent_id: int | None = None


class UnitPage(Schema):
    items: list[UnitOut]
    count: int


def unit_out(unit: Unit) -> dict:
    return {
        "id": unit.pk,
        "code": unit.code,
        "name": unit.name,
        "kind": unit.kind,
        "parent": unit.parent.code if unit.parent else None,
        "parent_id": unit.parent_id,
    }


@router.get("/units", response={200: UnitPage, **errors(401, 404, 422)}, summary="调用者可见的单位")
def list_units(
    request: HttpRequest,
    filters: Query[UnitFilter],
    page: PageNumber = 1,
    page_size: Annotated[int, Field(ge=1, le=1000)] = 200,
):
    units = units_visible_to(user_of(request)).select_related("parent")
    if filters.kind:
        units = units.filter(kind=filters.kind)
    if filters.parent or filters.parent_id:
        parent = get_unit_for(user_of(request), pk=filters.parent_id, code=filters.parent)
        units = units.filter(parent=parent)
    count = units.count()
    start = (page - 1) * page_size
    return {"items": [unit_out(u) for u in units[start : start + page_size]], "count": count}


class LocatedUnit(Schema):
    id: int
    code: str | None
    name: str


class LocateOut(Schema):
    lat: float
    lng: float
    method: Literal["grid", "nearest_community", "unlocated"]
    distance_m: float | None
    grid: LocatedUnit | None
    community: LocatedUnit | None
    subdistrict: LocatedUnit | None


@router.get("/locate", response={200: LocateOut, **errors(401, 422)}, summary="坐标定位到网格、社区、街道")
def locate(
    request: HttpRequest,
    lat: Annotated[float, Field(ge=-90, le=90)],  # NaN and infinities too: the 422 names the field
    lng: Annotated[float, Field(ge=-180, le=180)],
    coord: Literal["wgs84", "gcj02"] = "wgs84",
):
    if coord == "gcj02":
        lat, lng = coords.gcj02_to_wgs84(lat, lng)
    found = geo.locate(lat, lng)
    ids = [i for i in (found.grid_id, found.community_id, found.subdistrict_id) if i]
    units = {u.pk: u for u in Unit.objects.filter(pk__in=ids)}

    def brief(pk: int | None) -> dict | None:
        unit = units.get(pk) if pk else None
        return {"id": unit.pk, "code": unit.code, "name": unit.name} if unit else None

    return {
        "lat": lat,
        "lng": lng,
        "method": found.method,
        "distance_m": found.distance_m,
        "grid": brief(found.grid_id),
        "community": brief(found.community_id),
        "subdistrict": brief(found.subdistrict_id),
    }


class AuditOut(Schema):
    at: datetime
    actor: str | None
    action: str
    object_type: str
    object_id: str
    object_repr: str
    before: dict | None
    after: dict | None


class AuditPage(Schema):
    items: list[AuditOut]
    count: int


@router.get(
    "/audit",
    response={200: AuditPage, **errors(401, 403, 422)},
    tags=["audit"],
    summary="审计记录（系统管理员）",
)
def list_audit(
    request: HttpRequest,
    object_type: str = "",
    object_id: str = "",
    action: str = "",
    page: PageNumber = 1,
    page_size: Annotated[int, Field(ge=1, le=500)] = 100,
):
    require_role(user_of(request), [Role.ADMINISTRATOR])
    rows = AuditEntry.objects.select_related("actor")
    for field, value in (("object_type", object_type), ("object_id", object_id), ("action", action)):
        if value:
            rows = rows.filter(**{field: value})
    start = (page - 1) * page_size
    return {
        "count": rows.count(),
        "items": [
            {
                "at": r.at,
                "actor": r.actor.get_username() if r.actor else None,
                "action": r.action,
                "object_type": r.object_type,
                "object_id": r.object_id,
                "object_repr": r.object_repr,
                "before": r.before,
                "after": r.after,
            }
            for r in rows[start : start + page_size]
        ],
    }
