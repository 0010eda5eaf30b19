"""GCJ-02 <-> WGS-84 (to be written by the geo work)."""


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    return lat, lng


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    return lat, lng
