"""GCJ-02 <-> WGS-84 against published reference pairs and by round trips (no database).

Error bounds:
- forward (WGS-84 -> GCJ-02): within 1e-8 degrees (about 1 mm) of the published pairs, which are
  printed to full double precision by implementations of the same algorithm;
- inverse (GCJ-02 -> WGS-84): within 0.01 m of the WGS-84 side of those pairs, and within 0.05 m of
  gcoord's published inverse (given to 8 decimals from a coarser inverse than ours);
- round trips anywhere in China: within 0.01 m.
"""

import pytest

from civicgrid.core.coords import gcj02_to_wgs84, out_of_china, wgs84_to_gcj02
from civicgrid.core.geo import haversine_m

# (wgs_lat, wgs_lng, gcj_lat, gcj_lng): googollee/eviltransform's test vectors (Go, Python, PHP).
EVILTRANSFORM_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
# wandergis/coordtransform's README example (it writes lng first; here lat first).
COORDTRANSFORM_PAIR = (39.915, 116.404, 39.91640428150164, 116.41024449916938)
# hujiulong/gcoord's GCJ02 -> WGS84 unit test: (gcj_lat, gcj_lng, wgs_lat, wgs_lng).
GCOORD_INVERSE = (45.0, 123.0, 44.99804071, 122.99395597)

FORWARD_BOUND_DEG = 1e-8
INVERSE_BOUND_M = 0.01


@pytest.mark.parametrize("pair", [*EVILTRANSFORM_PAIRS, COORDTRANSFORM_PAIR])
def test_forward_matches_published_pairs(pair):
    wgs_lat, wgs_lng, gcj_lat, gcj_lng = pair
    lat, lng = wgs84_to_gcj02(wgs_lat, wgs_lng)
    assert abs(lat - gcj_lat) < FORWARD_BOUND_DEG
    assert abs(lng - gcj_lng) < FORWARD_BOUND_DEG


@pytest.mark.parametrize("pair", [*EVILTRANSFORM_PAIRS, COORDTRANSFORM_PAIR])
def test_inverse_recovers_published_wgs84(pair):
    wgs_lat, wgs_lng, gcj_lat, gcj_lng = pair
    lat, lng = gcj02_to_wgs84(gcj_lat, gcj_lng)
    assert haversine_m(lat, lng, wgs_lat, wgs_lng) < INVERSE_BOUND_M


def test_inverse_matches_gcoord_within_its_precision():
    gcj_lat, gcj_lng, wgs_lat, wgs_lng = GCOORD_INVERSE
    lat, lng = gcj02_to_wgs84(gcj_lat, gcj_lng)
    assert haversine_m(lat, lng, wgs_lat, wgs_lng) < 0.05


def _china_samples():
    """A lattice over the mainland box, 1.7 degrees apart (over 1,000 points)."""
    lats = [1.0 + 1.7 * i for i in range(33)]
    lngs = [72.1 + 1.7 * j for j in range(39)]
    return [(lat, lng) for lat in lats for lng in lngs if not out_of_china(lat, lng)]


def test_round_trip_from_gcj02_within_bound_everywhere_in_china():
    samples = _china_samples()
    assert len(samples) > 1000
    worst = max(haversine_m(lat, lng, *wgs84_to_gcj02(*gcj02_to_wgs84(lat, lng))) for lat, lng in samples)
    assert worst < INVERSE_BOUND_M


def test_round_trip_from_wgs84_within_bound_everywhere_in_china():
    worst = max(
        haversine_m(lat, lng, *gcj02_to_wgs84(*wgs84_to_gcj02(lat, lng))) for lat, lng in _china_samples()
    )
    assert worst < INVERSE_BOUND_M


def test_offset_is_hundreds_of_metres_in_china():
    # Guards against an inverse that "passes" round trips by returning its input unchanged.
    lat, lng = 25.705, 104.405
    assert 100 < haversine_m(lat, lng, *wgs84_to_gcj02(lat, lng)) < 1000
    assert 100 < haversine_m(lat, lng, *gcj02_to_wgs84(lat, lng)) < 1000


@pytest.mark.parametrize(
    "point",
    [(51.5074, -0.1278), (35.6762, 139.6503), (-33.8688, 151.2093), (0.0, 0.0), (56.0, 100.0), (30.0, 71.9)],
)
def test_points_outside_china_are_unchanged(point):
    assert out_of_china(*point)
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point


def test_points_inside_china_are_not_out_of_china():
    assert not out_of_china(39.9, 116.4)
    assert not out_of_china(25.7, 104.4)
