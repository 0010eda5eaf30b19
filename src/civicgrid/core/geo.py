"""Locating a point (to be written by the geo work)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    method: str
    grid_id: int | None = None
    community_id: int | None = None
    subdistrict_id: int | None = None
    distance_m: float | None = None


def locate(lat: float, lng: float) -> Location:
    return Location(method="unlocated")


def invalidate_index() -> None:
    return None
