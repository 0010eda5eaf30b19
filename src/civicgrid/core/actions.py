"""State changes of the organisation tree: each one atomic and audited."""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from civicgrid.core import audit, geo
from civicgrid.core.errors import InvalidInput
from civicgrid.core.models import Unit, UnitKind

_AUDITED = ["kind", "name", "code", "parent", "is_active"]


def _polygon_bounds(polygon: str) -> tuple[float, float, float, float] | None:
    """Validates a GeoJSON Polygon/MultiPolygon (or Feature) and returns its bounding box."""
    if not polygon:
        return None
    from shapely.geometry import shape

    try:
        data = json.loads(polygon)
        geometry = data.get("geometry", data) if isinstance(data, dict) else None
        if not geometry or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
            raise ValueError("not a Polygon or MultiPolygon")
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InvalidInput(_("边界必须是 GeoJSON 多边形"), details={"polygon": str(exc)}) from exc
    if geom.is_empty or not geom.is_valid:
        raise InvalidInput(_("边界多边形无效（自相交或为空）"), details={"polygon": "invalid geometry"})
    return geom.bounds


def _place(unit: Unit) -> None:
    """Sets path, depth and bounding box from the parent and the polygon."""
    bounds = _polygon_bounds(unit.polygon)
    unit.min_lng, unit.min_lat, unit.max_lng, unit.max_lat = bounds if bounds else (None, None, None, None)


def _fix_path(unit: Unit) -> None:
    parent_path = unit.parent.path if unit.parent_id and unit.parent else "/"
    unit.path = f"{parent_path}{unit.pk}/"
    unit.depth = unit.path.count("/") - 2


@transaction.atomic
def create_unit(
    *,
    kind: UnitKind | str,
    name: str,
    parent: Unit | None = None,
    code: str | None = None,
    polygon: str = "",
    by: Any = None,
) -> Unit:
    """Adds a unit under its parent (a root when there is none)."""
    if kind not in UnitKind.values:
        raise InvalidInput(_("未知的单位类型"), details={"kind": kind})
    if not name.strip():
        raise InvalidInput(_("单位名称不能为空"), details={"name": "required"})
    unit = Unit(kind=kind, name=name.strip(), parent=parent, code=code or None, polygon=polygon)
    _place(unit)
    unit.save()
    _fix_path(unit)
    Unit.objects.filter(pk=unit.pk).update(path=unit.path, depth=unit.depth)
    audit.record(by, "unit.create", unit, after=audit.snapshot(unit, _AUDITED))
    if unit.polygon:
        transaction.on_commit(geo.invalidate_index)  # this process answers from the new map at once
    return unit


@transaction.atomic
def update_unit(unit: Unit, *, by: Any = None, **changes: Any) -> Unit:
    """Changes a unit's fields; moving it rewrites the paths of everything below it."""
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    before = audit.snapshot(unit, _AUDITED)
    old_path = unit.path
    for name, value in changes.items():
        if name not in {"name", "code", "parent", "polygon", "is_active", "kind"}:
            raise InvalidInput(_("不能修改此字段"), details={name: "not editable"})
        setattr(unit, name, value)
    if unit.parent_id and unit.parent and unit.parent.path.startswith(old_path):
        raise InvalidInput(_("不能把单位移到它自己的下级"), details={"parent": "cycle"})
    _place(unit)
    _fix_path(unit)
    unit.save()
    if unit.path != old_path:
        for child in Unit.objects.filter(path__startswith=old_path).exclude(pk=unit.pk).order_by("depth"):
            child.path = unit.path + child.path[len(old_path) :]
            child.depth = child.path.count("/") - 2
            child.save(update_fields=["path", "depth"])
    audit.record(by, "unit.update", unit, before=before, after=audit.snapshot(unit, _AUDITED))
    transaction.on_commit(geo.invalidate_index)
    return unit
