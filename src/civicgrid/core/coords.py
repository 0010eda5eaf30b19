"""GCJ-02 <-> WGS-84: Chinese web maps give GCJ-02, we store WGS-84 and convert at the edges.

GCJ-02 is WGS-84 plus a published, smooth pseudo-random offset (a few hundred metres) computed on
the Krasovsky 1940 ellipsoid; outside China it is WGS-84 itself. The forward direction is exact
(it *is* the definition); the inverse has no closed form and is solved by fixed-point iteration,
to within 1e-5 m of a point that the forward function maps back onto the input (see
`gcj02_to_wgs84`). Both take and return (lat, lng) in degrees.
"""

from __future__ import annotations

import math

_KRASOVSKY_A = 6378245.0  # semi-major axis (m)
_KRASOVSKY_EE = 0.00669342162296594323  # first eccentricity squared

# The usual mainland bounding box: loose (it takes in parts of neighbouring countries) but every
# GCJ-02 implementation uses it, so map providers' coordinates agree with ours near borders.
_CHINA_LNG = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)

# 1e-10 degrees is about 1e-5 m: far below the 0.01 m the inverse promises.
_INVERSE_TOLERANCE_DEG = 1e-10
_INVERSE_MAX_STEPS = 30


def out_of_china(lat: float, lng: float) -> bool:
    """True where GCJ-02 applies no offset."""
    return not (_CHINA_LNG[0] <= lng <= _CHINA_LNG[1] and _CHINA_LAT[0] <= lat <= _CHINA_LAT[1])


def _offset_lat(x: float, y: float) -> float:
    d = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return d


def _offset_lng(x: float, y: float) -> float:
    d = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return d


def _offset(lat: float, lng: float) -> tuple[float, float]:
    """The GCJ-02 offset (degrees) at a WGS-84 point inside China."""
    x, y = lng - 105.0, lat - 35.0
    rad_lat = math.radians(lat)
    w = 1.0 - _KRASOVSKY_EE * math.sin(rad_lat) ** 2
    sqrt_w = math.sqrt(w)
    # The offset is given in metres-like units on the ellipsoid; divide by the meridian and the
    # parallel radius of curvature to turn it into degrees.
    d_lat = _offset_lat(x, y) * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (w * sqrt_w) * math.pi)
    d_lng = _offset_lng(x, y) * 180.0 / (_KRASOVSKY_A / sqrt_w * math.cos(rad_lat) * math.pi)
    return d_lat, d_lng


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """WGS-84 to GCJ-02; points outside China come back unchanged."""
    if out_of_china(lat, lng):
        return lat, lng
    d_lat, d_lng = _offset(lat, lng)
    return lat + d_lat, lng + d_lng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """GCJ-02 to WGS-84 by iteration: the result w satisfies |wgs84_to_gcj02(w) - (lat, lng)| < 0.01 m.

    The offset varies by at most a few millimetres per metre, so each step of the fixed-point
    iteration w <- w - (gcj(w) - target) shrinks the error some 400-fold: 4 or 5 steps reach
    1e-10 degrees (~1e-5 m) anywhere in China.
    """
    if out_of_china(lat, lng):
        return lat, lng
    w_lat, w_lng = lat, lng
    for _ in range(_INVERSE_MAX_STEPS):
        g_lat, g_lng = wgs84_to_gcj02(w_lat, w_lng)
        e_lat, e_lng = g_lat - lat, g_lng - lng
        w_lat, w_lng = w_lat - e_lat, w_lng - e_lng
        if abs(e_lat) < _INVERSE_TOLERANCE_DEG and abs(e_lng) < _INVERSE_TOLERANCE_DEG:
            break
    return w_lat, w_lng
