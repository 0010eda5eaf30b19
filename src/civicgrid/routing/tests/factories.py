"""Categories, a fake classifier and case helpers for the routing tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from civicgrid.cases import actions
from civicgrid.cases.models import Case, Category, CategoryNature, Status
from civicgrid.routing import registry

# Inside grid_a1 (civicgrid.testing squares), and ~250 m / ~400 m east of it.
IN_GRID_A1 = {"lat": 25.705, "lng": 104.405}
NEAR_A1 = {"lat": 25.705, "lng": 104.4075}
FAR_A1 = {"lat": 25.705, "lng": 104.409}
IN_COM_B1 = {"lat": 25.705, "lng": 104.505}


def make_categories(world) -> dict[str, Category]:
    u = world.units
    city = Category.objects.create(
        code="CS", name="市容环境", nature=CategoryNature.EVENT, default_lead_unit=u["dept_cg"]
    )
    works = Category.objects.create(
        code="SZ", name="市政设施", nature=CategoryNature.FACILITY, default_lead_unit=u["dept_sc"]
    )
    market = Category.objects.create(code="SC", name="市场监管", default_lead_unit=u["dept_sc"])
    return {
        "city": city,
        "works": works,
        "market": market,
        "garbage": Category.objects.create(
            code="CS01",
            name="垃圾清运",
            parent=city,
            nature=CategoryNature.EVENT,
            default_lead_unit=u["dept_cg"],
        ),
        "stalls": Category.objects.create(
            code="CS02", name="占道经营", parent=city, nature=CategoryNature.EVENT
        ),
        "lamp": Category.objects.create(
            code="SZ01",
            name="路灯不亮",
            parent=works,
            nature=CategoryNature.FACILITY,
            default_lead_unit=u["dept_cg"],
        ),
        "manhole": Category.objects.create(
            code="SZ02", name="井盖缺失", parent=works, nature=CategoryNature.FACILITY
        ),
        "food": Category.objects.create(
            code="SC01", name="食品安全", parent=market, default_lead_unit=u["dept_sc"]
        ),
    }


class FakeModel:
    """predict_proba by keyword: the first key found in the text gives the scores (best first)."""

    def __init__(
        self, table: dict[str, list[tuple[str, float]]], default: list[tuple[str, float]] | None = None
    ):
        self.table = table
        self.default = default or []

    def predict_proba(self, texts: list[str]) -> list[list[tuple[str, float]]]:
        out = []
        for text in texts:
            found = next((scores for key, scores in self.table.items() if key in text), self.default)
            out.append(sorted(found, key=lambda s: -s[1]))
        return out

    def predict(self, texts: list[str]) -> list[str]:
        return [row[0][0] if row else "" for row in self.predict_proba(texts)]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"table": self.table}), encoding="utf-8")


GARBAGE_SURE = {"垃圾": [("CS01", 0.97), ("CS02", 0.02), ("SZ01", 0.01)]}
GARBAGE_UNSURE = {"垃圾": [("CS01", 0.55), ("CS02", 0.30), ("SZ01", 0.10), ("SC01", 0.05)]}


@contextmanager
def model(
    table: dict[str, list[tuple[str, float]]],
    thresholds: dict[str, float | None] | None = None,
    version: int = 3,
) -> Iterator[FakeModel]:
    fake = FakeModel(table)
    default = {"CS01": 0.9, "CS02": 0.9, "SZ01": 0.9, "SZ02": 0.9, "SC01": 0.9}
    with registry.pinned(fake, version=version, thresholds=default if thresholds is None else thresholds):
        yield fake


def file_case(world, by: str = "resident", **fields: Any) -> Case:
    values: dict[str, Any] = {
        "description": "小区门口垃圾堆积三天无人清运",
        "reporter_name": "张三丰",
        "reporter_phone": "13812345678",
    }
    values.update(IN_GRID_A1 if by not in ("staff_b1", "dispatcher_b") else IN_COM_B1)
    values.update(fields)
    return actions.create_case(by=world.users[by], **values)


def closed_case(world, category: Category, description: str, **fields: Any) -> Case:
    """A case filed and then marked closed directly (history for dry runs and training)."""
    case = file_case(world, by="staff_a1", description=description, category=category, **fields)
    Case.objects.filter(pk=case.pk).update(status=Status.CLOSED)
    case.refresh_from_db()
    return case
