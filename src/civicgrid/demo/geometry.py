"""The demo map: community blocks and grid cells that tile the subdistrict without gaps or overlaps.

Everything is made of axis-aligned rectangles whose shared edges use the very same (rounded)
coordinates, so neighbours meet exactly: the union of a community's grids is the community and the
union of the communities is the subdistrict. Deterministic: the same input gives the same map.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from shapely.geometry import Polygon, box, mapping
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

# About 8 km × 8 km around 104.47 E, 25.71 N (one degree of longitude is ~100 km at this latitude).
WEST, EAST = 104.430, 104.510
SOUTH, NORTH = 25.674, 25.746
# Four columns of four community blocks; each column has its own southern and northern edge so that
# the subdistrict is a stepped outline rather than a square.
COLUMN_CUTS = [0.0, 0.24, 0.49, 0.75, 1.0]
COLUMN_EXTENTS = [(0.05, 0.93), (0.0, 1.0), (0.02, 0.97), (0.08, 0.9)]
ROW_CUTS = [
    [0.0, 0.27, 0.51, 0.75, 1.0],
    [0.0, 0.22, 0.47, 0.76, 1.0],
    [0.0, 0.25, 0.53, 0.78, 1.0],
    [0.0, 0.3, 0.55, 0.77, 1.0],
]
# Grid cells per row of each community block (10 to 14 cells each, 190 in all), communities in the
# order west to east, then south to north within a column.
CELLS_PER_ROW = {
    10: [3, 3, 4],
    11: [4, 3, 4],
    12: [4, 4, 4],
    13: [4, 5, 4],
    14: [3, 4, 4, 3],
}
GRID_COUNTS = [12, 11, 13, 12, 10, 14, 12, 11, 13, 12, 12, 11, 14, 10, 12, 11]
DIGITS = 6  # ~0.1 m


@dataclass(frozen=True)
class Block:
    """One community block and its grid cells (rectangles as shapely polygons)."""

    outline: Polygon
    cells: list[Polygon]


def _lerp(low: float, high: float, fraction: float) -> float:
    return round(low + (high - low) * fraction, DIGITS)


def _cuts(low: float, high: float, parts: int, rng: random.Random) -> list[float]:
    """`parts` + 1 increasing cut positions from low to high, the inner ones jittered a little."""
    inner = [(i + rng.uniform(-0.18, 0.18)) / parts for i in range(1, parts)]
    return [low, *(_lerp(low, high, f) for f in inner), high]


def blocks(seed: int = 520281) -> list[Block]:
    """The 16 community blocks with their grid cells, each cell a rectangle."""
    rng = random.Random(seed)
    xs = [_lerp(WEST, EAST, f) for f in COLUMN_CUTS]
    result: list[Block] = []
    for column in range(4):
        south = _lerp(SOUTH, NORTH, COLUMN_EXTENTS[column][0])
        north = _lerp(SOUTH, NORTH, COLUMN_EXTENTS[column][1])
        ys = [_lerp(south, north, f) for f in ROW_CUTS[column]]
        for row in range(4):
            x0, x1, y0, y1 = xs[column], xs[column + 1], ys[row], ys[row + 1]
            per_row = CELLS_PER_ROW[GRID_COUNTS[len(result)]]
            # Cell rows go from north to south so that grid 1 is the north-west corner.
            row_ys = _cuts(y0, y1, len(per_row), rng)[::-1]
            cells: list[Polygon] = []
            for r, n in enumerate(per_row):
                top, bottom = row_ys[r], row_ys[r + 1]
                cell_xs = _cuts(x0, x1, n, rng)
                cells.extend(box(cell_xs[i], bottom, cell_xs[i + 1], top) for i in range(n))
            result.append(Block(outline=box(x0, y0, x1, y1), cells=cells))
    return result


def union(polygons: list[Polygon]) -> Polygon:
    """The union of edge-sharing polygons as one polygon with collinear vertices removed."""
    merged = unary_union(polygons).simplify(0)
    if not isinstance(merged, Polygon):
        raise ValueError(f"the union is a {merged.geom_type}, not one polygon")
    return orient(merged)


def to_geojson(polygon: Polygon) -> str:
    """A GeoJSON Polygon (RFC 7946: exterior ring counter-clockwise, WGS-84 lng/lat)."""
    return json.dumps(mapping(orient(polygon)), separators=(",", ":"))
