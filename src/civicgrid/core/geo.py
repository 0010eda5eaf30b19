"""Locating a WGS-84 point to its grid, community and subdistrict by point-in-polygon.

Each process keeps an in-memory index (shapely STRtrees) of the polygons of active grids and
communities. Several web processes share one database, so a process compares a cheap fingerprint
of the unit table at most every `CHECK_SECONDS` and rebuilds when it changed; `invalidate_index()`
drops the index so that the next call reloads it (tests, and actions whose change must show at once).

Results, in order of preference:
- inside a grid: method "grid", distance 0, with the grid's community and subdistrict (from its path);
- inside a community polygon but no grid: method "nearest_community", distance 0;
- within settings.CIVICGRID_LOCATE_FALLBACK_METERS of a community: "nearest_community" with the
  great-circle distance in metres to its boundary;
- otherwise "unlocated".
A community without a polygon of its own counts as the union of its grids. Where polygons overlap
the smallest one wins (the most specific), then the lowest id, so results are deterministic.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely
from django.conf import settings
from django.db.models import Count, Max
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from civicgrid.core.models import Unit, UnitKind

logger = logging.getLogger(__name__)

Method = Literal["grid", "nearest_community", "unlocated"]

CHECK_SECONDS = 5.0
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG): the haversine error is under 0.5 % everywhere
# The fewest metres in a degree of latitude (at the equator); a box this wide in degrees is
# sure to hold everything within the fallback distance.
_MIN_M_PER_DEG_LAT = 110_574.0


@dataclass(frozen=True)
class Location:
    method: Method
    grid_id: int | None = None
    community_id: int | None = None
    subdistrict_id: int | None = None
    distance_m: float | None = None
    # The found unit's path as the index read it ("" when unknown), so that a caller can load the
    # unit and its ancestors in one query; it may be CHECK_SECONDS old, so check it against the row.
    # Not part of the answer: equal locations stay equal whatever the index knew of paths.
    path: str = field(default="", compare=False, repr=False)


UNLOCATED = Location(method="unlocated")


@dataclass(frozen=True)
class Area:
    """A polygon to locate into, with the ancestors and the path a hit reports ("" when made by hand)."""

    unit_id: int
    geometry: BaseGeometry
    community_id: int | None
    subdistrict_id: int | None
    path: str = ""


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class _Layer:
    """One STRtree over areas sorted by preference, so the lowest tree index is the best hit."""

    def __init__(self, areas: Iterable[Area]):
        self.areas = sorted(areas, key=lambda a: (a.geometry.area, a.unit_id))
        self.geometries = np.array([a.geometry for a in self.areas], dtype=object)
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)

    def first_hits(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For points (shapely array): indices of the points inside some area and their best area."""
        if not self.areas or not len(points):
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        point_idx, area_idx = self.tree.query(points, predicate="intersects")
        order = np.lexsort((area_idx, point_idx))
        point_idx, area_idx = point_idx[order], area_idx[order]
        hit, first = np.unique(point_idx, return_index=True)
        return hit, area_idx[first]


class LocateIndex:
    """Grids and communities in memory; built from the database or, for benchmarks, from areas."""

    def __init__(self, grids: Iterable[Area], communities: Iterable[Area]):
        self.grids = _Layer(grids)
        self.communities = _Layer(communities)

    def __len__(self) -> int:
        return len(self.grids.areas) + len(self.communities.areas)

    def locate(self, lat: float, lng: float, fallback_m: float) -> Location:
        """One point: the same answers as locate_many, without numpy's per-call overhead."""
        point = shapely.Point(lng, lat)
        hits = self.grids.tree.query(point, predicate="intersects")
        if len(hits):
            return self._in_grid(int(hits.min()))
        hits = self.communities.tree.query(point, predicate="intersects")
        if len(hits):
            return self._in_community(int(hits.min()), 0.0)
        if fallback_m <= 0 or not (math.isfinite(lat) and math.isfinite(lng)):
            return UNLOCATED
        near = self.communities.tree.query(point, predicate="dwithin", distance=_degrees(lat, fallback_m))
        return self._nearest_community(lat, lng, near.tolist(), fallback_m)

    def locate_many(self, lat: np.ndarray, lng: np.ndarray, fallback_m: float) -> list[Location]:
        results: list[Location] = [UNLOCATED] * len(lat)
        points = shapely.points(lng, lat)
        hit, best = self.grids.first_hits(points)
        for i, a in zip(hit.tolist(), best.tolist(), strict=True):
            results[i] = self._in_grid(a)
        rest = np.setdiff1d(np.arange(len(lat)), hit, assume_unique=True)
        hit, best = self.communities.first_hits(points[rest])
        for i, a in zip(rest[hit].tolist(), best.tolist(), strict=True):
            results[i] = self._in_community(a, 0.0)
        rest = np.setdiff1d(rest, rest[hit], assume_unique=True)
        rest = rest[np.isfinite(lat[rest]) & np.isfinite(lng[rest])]
        if fallback_m <= 0 or not len(rest) or not self.communities.areas:
            return results
        # One radius for the batch, wide enough for its point nearest a pole: a superset of each
        # point's own candidates, so the answers equal locate()'s.
        radius = _degrees(float(np.abs(lat[rest]).max()), fallback_m)
        near_point, near_area = self.communities.tree.query(
            points[rest], predicate="dwithin", distance=radius
        )
        candidates: dict[int, list[int]] = {}
        for p, a in zip(near_point.tolist(), near_area.tolist(), strict=True):
            candidates.setdefault(p, []).append(a)
        for p, areas in candidates.items():
            i = int(rest[p])
            results[i] = self._nearest_community(float(lat[i]), float(lng[i]), areas, fallback_m)
        return results

    def _in_grid(self, a: int) -> Location:
        grid = self.grids.areas[a]
        return Location("grid", grid.unit_id, grid.community_id, grid.subdistrict_id, 0.0, grid.path)

    def _in_community(self, a: int, distance_m: float) -> Location:
        community = self.communities.areas[a]
        return Location(
            "nearest_community", None, community.unit_id, community.subdistrict_id, distance_m, community.path
        )

    def _nearest_community(
        self, lat: float, lng: float, candidates: list[int], fallback_m: float
    ) -> Location:
        best = min(
            ((_distance_m(lat, lng, self.communities.areas[a].geometry), a) for a in candidates), default=None
        )
        if best is None or best[0] > fallback_m:
            return UNLOCATED
        return self._in_community(best[1], best[0])


def _degrees(lat: float, metres: float) -> float:
    """A radius in degrees that holds every point within `metres` of a point at `lat`."""
    d_lat = metres / _MIN_M_PER_DEG_LAT
    # A degree of longitude is shortest at the circle's edge nearest a pole.
    return min(180.0, d_lat / math.cos(math.radians(min(89.9, abs(lat) + d_lat))))


def _distance_m(lat: float, lng: float, geometry: BaseGeometry) -> float:
    """Great-circle metres from a point to the nearest point of a geometry.

    The nearest point is found in a local equirectangular frame centred on the point (exact to
    a few parts in 10,000 over the few hundred metres the fallback spans), then measured with
    haversine, so the figure does not shrink with the longitude degree towards the poles.
    """
    scale = math.cos(math.radians(lat))

    def to_local(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(((xy[:, 0] - lng) * scale, xy[:, 1] - lat))

    nearest = shapely.get_coordinates(
        shapely.shortest_line(shapely.transform(geometry, to_local), shapely.Point(0.0, 0.0))
    )[0]
    return haversine_m(lat, lng, lat + nearest[1], lng + nearest[0] / scale)


def _geometry(polygon: str) -> BaseGeometry:
    data = json.loads(polygon)
    geometry = shape(data.get("geometry", data))
    if geometry.geom_type not in {"Polygon", "MultiPolygon"}:
        raise ValueError(f"{geometry.geom_type} is not an area")
    return geometry


def _ancestors(path: str, kinds: dict[int, str]) -> tuple[int | None, int | None]:
    """The nearest community and subdistrict above a unit, from its path ("/1/7/42/")."""
    above = [int(p) for p in reversed(path.strip("/").split("/")[:-1])]
    community = next((i for i in above if kinds.get(i) == UnitKind.COMMUNITY), None)
    subdistrict = next((i for i in above if kinds.get(i) == UnitKind.SUBDISTRICT), None)
    return community, subdistrict


def load_index() -> LocateIndex:
    """Reads active grids and communities (one query, plus one for ancestors' kinds)."""
    kinds = dict(
        Unit.objects.filter(kind__in=[UnitKind.SUBDISTRICT, UnitKind.COMMUNITY]).values_list("id", "kind")
    )
    rows = Unit.objects.filter(kind__in=[UnitKind.GRID, UnitKind.COMMUNITY], is_active=True).values_list(
        "id", "kind", "path", "polygon"
    )
    grids: list[Area] = []
    community_polygons: dict[int, BaseGeometry] = {}
    community_parents: dict[int, int | None] = {}
    community_paths: dict[int, str] = {}
    grids_of: dict[int, list[BaseGeometry]] = {}
    for unit_id, kind, path, polygon in rows:
        community, subdistrict = _ancestors(path, kinds)
        if kind == UnitKind.COMMUNITY:
            community_parents[unit_id] = subdistrict
            community_paths[unit_id] = path
        geometry = _parse_or_skip(unit_id, polygon)
        if geometry is None:
            continue
        if kind == UnitKind.GRID:
            grids.append(Area(unit_id, geometry, community, subdistrict, path))
            if community is not None:
                grids_of.setdefault(community, []).append(geometry)
        else:
            community_polygons[unit_id] = geometry
    communities = [
        Area(
            unit_id,
            community_polygons.get(unit_id) or shapely.union_all(grids_of[unit_id]),
            unit_id,
            sub,
            community_paths[unit_id],
        )
        for unit_id, sub in community_parents.items()
        if unit_id in community_polygons or unit_id in grids_of
    ]
    return LocateIndex(grids, communities)


def _parse_or_skip(unit_id: int, polygon: str) -> BaseGeometry | None:
    # A bad polygon written around the actions must not stop every other point from locating.
    if not polygon:
        return None
    try:
        geometry = _geometry(polygon)
    except (ValueError, TypeError, AttributeError, KeyError, ShapelyError) as exc:
        logger.warning("unit %s: polygon ignored by the locate index: %s", unit_id, exc)
        return None
    return None if geometry.is_empty else geometry


def _fingerprint() -> tuple[Any, ...]:
    """Changes whenever a subdistrict, community or grid is added, removed, edited or moved."""
    row = Unit.objects.filter(kind__in=[UnitKind.SUBDISTRICT, UnitKind.COMMUNITY, UnitKind.GRID]).aggregate(
        n=Count("id"), last=Max("updated_at")
    )
    return (row["n"], row["last"])


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.index: LocateIndex | None = None
        self.fingerprint: tuple[Any, ...] | None = None
        self.checked_at = -math.inf
        self.pinned = False


_cache = _Cache()


def current_index() -> LocateIndex:
    """This process's index, rebuilt when the fingerprint changed (checked every CHECK_SECONDS)."""
    c = _cache
    index = c.index
    if index is not None and (c.pinned or time.monotonic() - c.checked_at < CHECK_SECONDS):
        return index
    with c.lock:
        if c.pinned and c.index is not None:
            return c.index
        fingerprint = _fingerprint()
        if c.index is None or fingerprint != c.fingerprint:
            started = time.perf_counter()
            c.index, c.fingerprint = load_index(), fingerprint
            logger.info(
                "locate index: %d areas in %.0f ms", len(c.index), (time.perf_counter() - started) * 1e3
            )
        c.checked_at = time.monotonic()
        return c.index


def invalidate_index() -> None:
    """Drops the index: the next locate reloads it from the database."""
    with _cache.lock:
        _cache.index, _cache.fingerprint, _cache.checked_at, _cache.pinned = None, None, -math.inf, False


@contextmanager
def pinned_index(index: LocateIndex) -> Iterator[LocateIndex]:
    """Serves locate() from `index` instead of the database (benchmarks, tests without a database)."""
    with _cache.lock:
        saved = (_cache.index, _cache.fingerprint, _cache.checked_at, _cache.pinned)
        _cache.index, _cache.pinned = index, True
    try:
        yield index
    finally:
        with _cache.lock:
            _cache.index, _cache.fingerprint, _cache.checked_at, _cache.pinned = saved


def _fallback_m() -> float:
    return float(settings.CIVICGRID_LOCATE_FALLBACK_METERS)


def locate(lat: float, lng: float) -> Location:
    """Locates one WGS-84 point."""
    return current_index().locate(lat, lng, _fallback_m())


def locate_many(points: Sequence[tuple[float, float]] | np.ndarray) -> list[Location]:
    """Locates WGS-84 (lat, lng) pairs in one vectorised pass; results in the input order."""
    coords = np.asarray(points, dtype=float).reshape(-1, 2)
    return current_index().locate_many(coords[:, 0], coords[:, 1], _fallback_m())
