"""Benchmarks of the core app: locating points and converting GCJ-02.

The locate benchmark never touches the database: it builds the index straight from synthetic
polygons and pins it (`geo.pinned_index`), so it measures geometry, not SQL, and leaves no rows.
The layout is a county-sized town: a lattice of ~500 m cells whose shared edges are jittered
(32 vertices per grid, like digitised boundaries), grouped in blocks of 5 x 6 cells per
community; 5 % of the cells have no grid, so some points fall to the community polygon, and the
points are scattered over the town plus a 1 km margin, so some fall back to the nearest
community and some stay unlocated.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import shapely

from civicgrid.benchmarking import Figures, Say, benchmark, per_second, stopwatch
from civicgrid.core import coords, geo

ORIGIN = (104.70, 25.70)  # lng, lat of the south-west corner: Panzhou, Guizhou
CELL_DEG = 0.005  # ~500 m north-south, ~450 m east-west at this latitude
MARGIN_DEG = 0.01
EDGE_STEPS = 8  # vertices per cell edge
COMMUNITY_BLOCK = (5, 6)  # cells per community (columns, rows)
SUBDISTRICT_BLOCK = 4  # communities per subdistrict side


def synthetic_town(grids: int, seed: int = 2022) -> tuple[list[geo.Area], list[geo.Area], tuple[float, ...]]:
    """`grids` grid areas, their communities, and the town's bounds (min_lng, min_lat, max_lng, max_lat)."""
    rng = np.random.default_rng(seed)
    cells = math.ceil(grids * 1.05)
    rows = math.ceil(math.sqrt(cells))
    cols = math.ceil(cells / rows)
    step = CELL_DEG / EDGE_STEPS
    # Jitter depends only on the lattice node, so neighbouring cells share their edge exactly;
    # under half a step, so the rings stay simple.
    jitter = rng.uniform(-0.3 * step, 0.3 * step, size=(cols * EDGE_STEPS + 1, rows * EDGE_STEPS + 1, 2))

    def cell_polygon(c: int, r: int) -> shapely.Polygon:
        i0, j0, k = c * EDGE_STEPS, r * EDGE_STEPS, EDGE_STEPS
        nodes = (
            [(i0 + t, j0) for t in range(k)]
            + [(i0 + k, j0 + t) for t in range(k)]
            + [(i0 + k - t, j0 + k) for t in range(k)]
            + [(i0, j0 + k - t) for t in range(k)]
        )
        return shapely.Polygon(
            [
                (ORIGIN[0] + i * step + jitter[i, j, 0], ORIGIN[1] + j * step + jitter[i, j, 1])
                for i, j in nodes
            ]
        )

    without_grid = set(rng.choice(cols * rows, size=cols * rows - grids, replace=False).tolist())
    grid_areas: list[geo.Area] = []
    community_cells: dict[int, list[shapely.Polygon]] = {}
    community_sub: dict[int, int] = {}
    block_cols = math.ceil(cols / COMMUNITY_BLOCK[0])
    for n in range(cols * rows):
        c, r = n % cols, n // cols
        bc, br = c // COMMUNITY_BLOCK[0], r // COMMUNITY_BLOCK[1]
        community = 100_000 + br * block_cols + bc
        subdistrict = 200_000 + (br // SUBDISTRICT_BLOCK) * block_cols + bc // SUBDISTRICT_BLOCK
        polygon = cell_polygon(c, r)
        community_cells.setdefault(community, []).append(polygon)
        community_sub[community] = subdistrict
        if n not in without_grid:
            grid_areas.append(geo.Area(n + 1, polygon, community, subdistrict))
    community_areas = [
        geo.Area(cid, shapely.union_all(polys), cid, community_sub[cid])
        for cid, polys in community_cells.items()
    ]
    bounds = (ORIGIN[0], ORIGIN[1], ORIGIN[0] + cols * CELL_DEG, ORIGIN[1] + rows * CELL_DEG)
    return grid_areas, community_areas, bounds


def random_points(bounds: tuple[float, ...], count: int, seed: int = 7) -> np.ndarray:
    """(lat, lng) rows scattered over the bounds plus the margin."""
    rng = np.random.default_rng(seed)
    lng = rng.uniform(bounds[0] - MARGIN_DEG, bounds[2] + MARGIN_DEG, count)
    lat = rng.uniform(bounds[1] - MARGIN_DEG, bounds[3] + MARGIN_DEG, count)
    return np.column_stack((lat, lng))


def run_locate(say: Say, grids: int = 2000, points: int = 100_000) -> Figures:
    with stopwatch() as build_time:
        grid_areas, community_areas, bounds = synthetic_town(grids)
        index = geo.LocateIndex(grid_areas, community_areas)
    invalid = int((~shapely.is_valid(np.array([a.geometry for a in grid_areas]))).sum())
    sample = random_points(bounds, points)
    pairs = sample.tolist()
    with geo.pinned_index(index):
        with stopwatch() as one_time:
            one_by_one = [geo.locate(lat, lng) for lat, lng in pairs]
        with stopwatch() as many_time:
            in_bulk = geo.locate_many(sample)
    if one_by_one != in_bulk:
        raise AssertionError("locate() and locate_many() disagree")
    methods = Counter(loc.method for loc in in_bulk)
    in_community_only = sum(1 for loc in in_bulk if loc.method == "nearest_community" and loc.distance_m == 0)
    figures: Figures = {
        "grids": len(grid_areas),
        "communities": len(community_areas),
        "invalid grid polygons": invalid,
        "points": points,
        "index build (ms)": build_time() * 1e3,
        "locate() points/s": per_second(points, one_time()),
        "locate_many() points/s": per_second(points, many_time()),
        "share in a grid (%)": 100 * methods["grid"] / points,
        "share in a community only (%)": 100 * in_community_only / points,
        "share nearest community (%)": 100 * (methods["nearest_community"] - in_community_only) / points,
        "share unlocated (%)": 100 * methods["unlocated"] / points,
    }
    say(
        f"{points:,} random points over {len(grid_areas):,} grids: "
        f"{figures['locate() points/s']:,.0f}/s one by one, "
        f"{figures['locate_many() points/s']:,.0f}/s in bulk"
    )
    return figures


@benchmark("locate")
def locate_benchmark(say: Say) -> Figures:
    """Point to grid/community on 2,000 synthetic grids, 100,000 random points."""
    return run_locate(say)


@benchmark("gcj02")
def gcj02_benchmark(say: Say, points: int = 100_000) -> Figures:
    """GCJ-02 -> WGS-84 (iterative) and back, one point at a time."""
    pairs = random_points((104.70, 25.70, 104.90, 25.95), points).tolist()
    with stopwatch() as inverse_time:
        wgs = [coords.gcj02_to_wgs84(lat, lng) for lat, lng in pairs]
    with stopwatch() as forward_time:
        back = [coords.wgs84_to_gcj02(lat, lng) for lat, lng in wgs]
    worst_m = max(geo.haversine_m(a[0], a[1], b[0], b[1]) for a, b in zip(pairs, back, strict=True))
    figures: Figures = {
        "points": points,
        "gcj02_to_wgs84 points/s": per_second(points, inverse_time()),
        "wgs84_to_gcj02 points/s": per_second(points, forward_time()),
        "worst round trip (µm)": worst_m * 1e6,
    }
    say(
        f"{points:,} points: inverse {figures['gcj02_to_wgs84 points/s']:,.0f}/s, forward "
        f"{figures['wgs84_to_gcj02 points/s']:,.0f}/s"
    )
    return figures
