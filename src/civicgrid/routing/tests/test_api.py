"""Routing endpoints: duplicates, routing, recategorize, model versions; 404 outside, 403 wrong role."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from civicgrid.routing import registry
from civicgrid.routing.models import RoutingModel
from civicgrid.routing.tests.factories import (
    GARBAGE_SURE,
    GARBAGE_UNSURE,
    NEAR_A1,
    FakeModel,
    file_case,
    model,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("civicgrid.routing.tests.urls")]


class Api:
    def __init__(self, client, world):
        self.client, self.world = client, world

    def get(self, who, path):
        r = self.client.get(f"/api/v1{path}", headers=self.world.bearer(who))
        return r.status_code, r.json()

    def post(self, who, path, body=None):
        r = self.client.post(
            f"/api/v1{path}", body or {}, content_type="application/json", headers=self.world.bearer(who)
        )
        return r.status_code, r.json()


@pytest.fixture
def api(client, world):
    return Api(client, world)


@pytest.fixture
def pair(world, cats):
    with model(GARBAGE_UNSURE):
        first = file_case(world, description="小区门口垃圾堆积三天无人清运", category=cats["garbage"])
        second = file_case(
            world, description="小区门口的垃圾好几天没人清运", category=cats["garbage"], **NEAR_A1
        )
    return first, second


@pytest.mark.parametrize("who", ["dispatcher_a", "staff_a1", "grid_a1", "leader", "admin"])
def test_duplicates_for_those_who_register_dispatch_and_merge(api, pair, who):
    first, second = pair
    status, body = api.get(who, f"/cases/{second.number}/duplicates")
    assert status == 200, body
    assert [d["number"] for d in body["items"]] == [first.number]
    d = body["items"][0]
    assert 200 < d["distance_m"] < 300 and d["similarity"] > 0.3 and d["status"] == "received"


@pytest.mark.parametrize(
    ("who", "status"), [("staff_a2", 404), ("dispatcher_b", 404), ("handler_cg", 404), ("resident", 403)]
)
def test_duplicates_other_unit_404_wrong_role_403(api, pair, who, status):
    _, second = pair
    code, body = api.get(who, f"/cases/{second.number}/duplicates")
    assert code == status and body["error"]["code"] == ("not_found" if status == 404 else "forbidden")


def test_an_assigned_department_still_gets_403(api, world, cats):
    with model(GARBAGE_SURE):
        case = file_case(world)
    assert case.lead_unit == world.units["dept_cg"]
    assert api.get("handler_cg", f"/cases/{case.number}/duplicates")[0] == 403
    assert api.get("handler_cg", f"/cases/{case.number}/routing")[0] == 403


def test_a_case_routing_with_scores_and_corrections(api, world, cats, pair):
    _, second = pair
    status, body = api.get("dispatcher_a", f"/cases/{second.number}/routing")
    assert status == 200
    s = body["suggestion"]
    assert [row["category"] for row in s["scores"]] == ["CS01", "CS02", "SZ01"]
    assert s["lead_unit"] == "D-CG" and not s["decided_automatically"] and "低于阈值" in s["wait_reason"]
    assert s["place"] == world.units["grid_a1"].name
    status, body = api.post("staff_a1", f"/cases/{second.number}/recategorize", {"category": "CS02"})
    assert status == 200 and body["category"] == "CS02"
    status, body = api.get("dispatcher_a", f"/cases/{second.number}/routing")
    assert body["corrections"][0]["category_changed"] and body["corrections"][0]["final_category"].endswith(
        "占道经营"
    )
    assert api.get("staff_b1", f"/cases/{second.number}/routing")[0] == 404
    assert api.get("resident", f"/cases/{second.number}/routing")[0] == 403


def test_recategorize_404_403_and_bad_input(api, pair):
    _, second = pair
    assert api.post("staff_a2", f"/cases/{second.number}/recategorize", {"category": "CS02"})[0] == 404
    assert api.post("grid_a1", f"/cases/{second.number}/recategorize", {"category": "CS02"})[0] == 403
    assert api.post("resident", f"/cases/{second.number}/recategorize", {"category": "CS02"})[0] == 403
    assert api.post("staff_a1", f"/cases/{second.number}/recategorize", {"category": "NOPE"})[0] == 422
    assert api.post("staff_a1", f"/cases/{second.number}/recategorize", {"category": "CS01"})[0] == 422


def test_model_versions_and_rollback(api, world, cats, monkeypatch):
    monkeypatch.setattr(
        registry, "load_file", lambda p: FakeModel(json.loads(Path(p).read_text(encoding="utf-8"))["table"])
    )
    for table in (GARBAGE_UNSURE, GARBAGE_SURE):
        registry.register(
            FakeModel(table), data_size=5, labels=["CS01"], scores={"accuracy": 0.9}, thresholds={}
        )
    status, body = api.get("dispatcher_a", "/routing/models")
    assert status == 200 and [m["version"] for m in body] == [2, 1] and body[0]["is_active"]
    assert api.get("resident", "/routing/models")[0] == 403
    assert api.post("dispatcher_a", "/routing/models/rollback")[0] == 403
    status, body = api.post("admin", "/routing/models/rollback")
    assert status == 200 and body["version"] == 1
    assert RoutingModel.objects.get(is_active=True).version == 1
