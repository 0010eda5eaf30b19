"""Locating points: the index on its own (no database), the database-backed cache, the API."""

import json
import math

import numpy as np
import pytest
import shapely
from django.core.management import call_command

from civicgrid.core import geo
from civicgrid.core.actions import create_unit, update_unit
from civicgrid.core.coords import wgs84_to_gcj02
from civicgrid.core.geo import Area, LocateIndex, Location
from civicgrid.core.models import Unit, UnitKind
from civicgrid.testing import square

M_PER_DEG = math.pi * geo.EARTH_RADIUS_M / 180  # along a meridian, on the haversine sphere


@pytest.fixture(autouse=True)
def fresh_index():
    # The index is per process and outlives each test's rolled-back transaction.
    geo.invalidate_index()
    yield
    geo.invalidate_index()


def box(lng: float, lat: float, size: float) -> shapely.Polygon:
    return shapely.box(lng, lat, lng + size, lat + size)


# Community 10 (subdistrict 1) spans 104.40-104.42 E, 25.70-25.72 N; its grid 100 is the
# south-west quarter. Community 20 (subdistrict 2) is a 0.02 degree square 0.01 degrees east.
TOWN = LocateIndex(
    grids=[Area(100, box(104.40, 25.70, 0.01), 10, 1)],
    communities=[Area(10, box(104.40, 25.70, 0.02), 10, 1), Area(20, box(104.43, 25.70, 0.02), 20, 2)],
)


def east_of(lng: float, lat: float, metres: float) -> tuple[float, float]:
    """(lat, lng) of the point `metres` due east of (lng, lat)."""
    return lat, lng + metres / (M_PER_DEG * math.cos(math.radians(lat)))


def test_point_in_grid_gives_grid_community_and_subdistrict():
    assert TOWN.locate(25.705, 104.405, 500) == Location("grid", 100, 10, 1, 0.0)


def test_point_on_grid_edge_counts_as_inside():
    assert TOWN.locate(25.705, 104.41, 500).grid_id == 100


def test_point_in_community_without_grid_gives_community_at_distance_zero():
    assert TOWN.locate(25.715, 104.415, 500) == Location("nearest_community", None, 10, 1, 0.0)


def test_point_outside_gives_nearest_community_within_fallback():
    lat, lng = east_of(104.45, 25.71, 200)
    found = TOWN.locate(lat, lng, 500)
    assert (found.method, found.community_id, found.subdistrict_id, found.grid_id) == (
        "nearest_community",
        20,
        2,
        None,
    )
    assert found.distance_m == pytest.approx(200, abs=0.5)


def test_point_between_communities_goes_to_the_closer_one():
    # 104.42-104.43 is a gap between the two communities: 30 % of the way across is closer to 10.
    found = TOWN.locate(25.71, 104.423, 1000)
    assert found.community_id == 10
    assert TOWN.locate(25.71, 104.427, 1000).community_id == 20


def test_point_beyond_fallback_is_unlocated():
    lat, lng = east_of(104.45, 25.71, 520)
    assert TOWN.locate(lat, lng, 500) == Location("unlocated")
    assert TOWN.locate(*east_of(104.45, 25.71, 200), 0) == Location("unlocated")


def test_fallback_distance_is_in_metres_not_degrees():
    # At 60 degrees north 0.004 degrees of longitude is ~223 m but 0.004 of latitude is ~445 m.
    index = LocateIndex(grids=[], communities=[Area(30, box(10.0, 60.0, 0.01), 30, 3)])
    east = index.locate(60.005, 10.014, 300)
    north = index.locate(60.014, 10.005, 300)
    assert east.community_id == 30 and east.distance_m == pytest.approx(0.004 * M_PER_DEG * 0.5, rel=1e-3)
    assert north.method == "unlocated"
    assert index.locate(60.014, 10.005, 500).distance_m == pytest.approx(0.004 * M_PER_DEG, rel=1e-3)


def test_distance_to_a_slanted_edge_matches_brute_force_haversine():
    # A diagonal edge at 60 N: in degrees the nearest point lies elsewhere than on the ground.
    triangle = shapely.Polygon([(10.0, 60.0), (10.01, 60.01), (10.0, 60.01)])
    index = LocateIndex(grids=[], communities=[Area(40, triangle, 40, None)])
    lat, lng = 60.003, 10.008
    t = np.linspace(0, 1, 20001)
    expected = min(geo.haversine_m(lat, lng, 60.0 + 0.01 * f, 10.0 + 0.01 * f) for f in t.tolist())
    assert index.locate(lat, lng, 1000).distance_m == pytest.approx(expected, rel=1e-3)


def test_overlapping_grids_resolve_to_the_smallest_then_lowest_id():
    index = LocateIndex(
        grids=[
            Area(7, box(0.0, 0.0, 1.0), 1, None),
            Area(8, box(0.0, 0.0, 0.5), 1, None),
            Area(6, box(0.0, 0.0, 0.5), 1, None),
        ],
        communities=[],
    )
    assert index.locate(0.25, 0.25, 0).grid_id == 6
    assert index.locate(0.75, 0.75, 0).grid_id == 7


def test_locate_many_keeps_order_and_agrees_with_locate():
    points = [(25.705, 104.405), (0.0, 0.0), (25.715, 104.415), (25.71, 104.452), (25.705, 104.405)]
    with geo.pinned_index(TOWN):
        many = geo.locate_many(points)
        assert many == [geo.locate(lat, lng) for lat, lng in points]
        assert geo.locate_many([]) == []
    assert [loc.method for loc in many] == [
        "grid",
        "unlocated",
        "nearest_community",
        "nearest_community",
        "grid",
    ]


def test_not_a_number_is_unlocated():
    assert TOWN.locate_many(np.array([math.nan]), np.array([104.405]), 500) == [Location("unlocated")]


def test_locate_benchmark_runs_small_and_agrees_with_itself():
    from civicgrid.core.bench import run_locate

    lines: list[str] = []
    figures = run_locate(lines.append, grids=60, points=2000)
    assert figures["grids"] == 60 and figures["invalid grid polygons"] == 0
    shares = [v for k, v in figures.items() if str(k).startswith("share")]
    assert sum(shares) == pytest.approx(100) and all(s > 0 for s in shares)
    assert "2,000 random points over 60 grids" in lines[0]


def test_bench_command_lists_the_core_benchmarks(capsys):
    call_command("bench", "--list")
    listed = capsys.readouterr().out
    assert "locate" in listed and "gcj02" in listed


# --- from the database ---------------------------------------------------------------------------


def test_locate_from_database(world):
    u = world.units
    assert geo.locate(25.705, 104.405) == Location(
        "grid", u["grid_a1"].pk, u["com_a1"].pk, u["sub_a"].pk, 0.0
    )
    assert geo.locate(25.715, 104.415) == Location(
        "nearest_community", None, u["com_a1"].pk, u["sub_a"].pk, 0.0
    )
    near = geo.locate(*east_of(104.52, 25.71, 200))
    assert (near.method, near.community_id, near.subdistrict_id) == (
        "nearest_community",
        u["com_b1"].pk,
        u["sub_b"].pk,
    )
    # Inside subdistrict B's polygon but 1 km from its community: subdistricts alone do not locate.
    assert geo.locate(*east_of(104.52, 25.71, 1000)) == Location("unlocated")


def test_fallback_follows_the_setting(world, settings):
    settings.CIVICGRID_LOCATE_FALLBACK_METERS = 100
    assert geo.locate(*east_of(104.52, 25.71, 200)).method == "unlocated"


def test_index_is_cached_then_rebuilt_after_a_polygon_change(world, monkeypatch, django_assert_num_queries):
    grid = world.units["grid_a1"]
    assert geo.locate(25.705, 104.405).grid_id == grid.pk
    update_unit(grid, polygon=square(104.41, 25.71, 0.01))

    # Within the check interval this process still answers from memory, without a query.
    with django_assert_num_queries(0):
        assert geo.locate(25.705, 104.405).grid_id == grid.pk

    # Once the interval has passed (as for another web process), the changed fingerprint rebuilds it.
    monkeypatch.setattr(geo, "CHECK_SECONDS", 0.0)
    assert geo.locate(25.705, 104.405).grid_id is None
    assert geo.locate(25.715, 104.415).grid_id == grid.pk


def test_invalidate_index_makes_a_change_visible_at_once(world):
    grid = world.units["grid_a1"]
    assert geo.locate(25.705, 104.405).method == "grid"
    update_unit(grid, is_active=False)
    geo.invalidate_index()
    assert geo.locate(25.705, 104.405) == Location(
        "nearest_community", None, world.units["com_a1"].pk, world.units["sub_a"].pk, 0.0
    )


def test_community_without_polygon_is_the_union_of_its_grids(world):
    com = create_unit(kind=UnitKind.COMMUNITY, name="丙社区", parent=world.units["sub_b"])
    grid = create_unit(kind=UnitKind.GRID, name="丙第1网格", parent=com, polygon=square(104.60, 25.70, 0.01))
    assert geo.locate(25.705, 104.605).grid_id == grid.pk
    near = geo.locate(*east_of(104.61, 25.705, 100))
    assert (near.method, near.community_id, near.subdistrict_id) == (
        "nearest_community",
        com.pk,
        world.units["sub_b"].pk,
    )


def test_a_broken_polygon_is_skipped_not_fatal(world):
    # Written around the actions (which validate), as a bad import or a hand edit would.
    Unit.objects.filter(pk=world.units["grid_a2"].pk).update(
        polygon='{"type": "Point", "coordinates": [1, 2]}'
    )
    Unit.objects.filter(pk=world.units["grid_b1"].pk).update(polygon="not json")
    assert geo.locate(25.705, 104.405).grid_id == world.units["grid_a1"].pk
    assert geo.locate(25.705, 104.425).community_id == world.units["com_a2"].pk
    assert geo.locate(25.705, 104.425).grid_id is None


# --- the API ---------------------------------------------------------------------------------------


def test_api_locate_wgs84(world, client):
    response = client.get("/api/v1/locate?lat=25.705&lng=104.405", headers=world.bearer("staff_a1"))
    assert response.status_code == 200
    body = response.json()
    assert body["method"] == "grid" and body["distance_m"] == 0
    assert body["grid"]["code"] == "520281001001001"
    assert body["community"]["code"] == "520281001001"
    assert body["subdistrict"]["code"] == "520281001"


def test_api_locate_gcj02_converts_before_locating(world, client):
    wgs = (25.708, 104.408)  # in grid A1, 200 m from its east edge; the GCJ-02 offset is ~400 m
    gcj_lat, gcj_lng = wgs84_to_gcj02(*wgs)
    as_gcj = client.get(
        f"/api/v1/locate?lat={gcj_lat}&lng={gcj_lng}&coord=gcj02", headers=world.bearer("staff_a1")
    )
    assert as_gcj.status_code == 200
    body = as_gcj.json()
    assert body["grid"]["code"] == "520281001001001"
    assert body["lat"] == pytest.approx(wgs[0], abs=1e-7) and body["lng"] == pytest.approx(wgs[1], abs=1e-7)
    # The same numbers read as WGS-84 lie outside the grid: the conversion is what put it there.
    as_wgs = client.get(f"/api/v1/locate?lat={gcj_lat}&lng={gcj_lng}", headers=world.bearer("staff_a1"))
    assert as_wgs.json()["grid"] is None


def test_api_locate_needs_a_token(world, client):
    response = client.get("/api/v1/locate?lat=25.705&lng=104.405")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("lat=91&lng=104.405", "lat"),
        ("lat=-90.5&lng=104.405", "lat"),
        ("lat=25.7&lng=181", "lng"),
        ("lat=nan&lng=104.405", "lat"),
        ("lat=25.7&lng=-inf", "lng"),
    ],
)
def test_api_locate_rejects_out_of_range(world, client, query, field):
    response = client.get(f"/api/v1/locate?{query}", headers=world.bearer("staff_a1"))
    assert response.status_code == 422
    error = json.loads(response.content)  # strict JSON: no NaN nor Infinity in the reply
    assert error["error"]["code"] == "invalid_input"
    assert [d["field"] for d in error["error"]["details"]] == [field]
