"""GET /api/v1/measures: figures from the rollups equal the brute force; scope 404, role 403."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import pytest
import time_machine

from civicgrid.cases.measure_models import COUNT_COLUMNS
from civicgrid.cases.measures import buckets
from civicgrid.cases.measures.fold import fold
from civicgrid.cases.measures.report import report
from civicgrid.cases.models import Case
from civicgrid.cases.tests.measures_world import brute_force, play

JUNE = {"from": "2025-06-01", "to": "2025-06-30"}


@pytest.fixture
def played(world, cats):
    numbers = play(world, cats)
    fold()
    return numbers


def expected(owner: int, start: date = date(2025, 6, 1), end: date = date(2025, 6, 30)) -> Counter:
    units, _people = brute_force()
    out: Counter = Counter()
    for (key, day), counts in units.items():
        if key == owner and start <= day <= end:
            out.update(counts)
    return out


def counts_of(measures: dict) -> Counter:
    return Counter({c: measures[c] for c in COUNT_COLUMNS if measures[c]})


@pytest.mark.django_db
def test_unit_and_children_equal_the_brute_force(api, world, played):
    status, data = api.get("dispatcher_a", "/measures", **JUNE)
    assert status == 200, data
    assert data["unit"]["code"] == "520281001" and data["from"] == "2025-06-01" and data["to"] == "2025-06-30"
    sub_a = expected(world.units["sub_a"].pk)
    assert counts_of(data["measures"]) == Counter({c: sub_a[c] for c in COUNT_COLUMNS if sub_a[c]})
    m = data["measures"]
    assert m["response_rate"] == round(14 / 18, 4)
    assert m["on_time_closure_rate"] == round(9 / 12, 4) and m["closure_rate"] == round(11 / 12, 4)
    assert m["satisfaction_rate"] == 0.75 and m["resolution_rate"] == 0.75
    assert m["rework_rate"] == round(1 / 11, 4)
    assert m["extension_rate"] == round(1 / 14, 4) and m["return_rate"] == round(2 / 17, 4)
    assert m["handling_hours_avg"] == round(sub_a["handling_seconds"] / 11 / 3600, 2)
    # Four ratings: too few to rank on; twelve rounds due less deferred: enough.
    assert set(m["small"]) == {"resolution_rate", "satisfaction_rate"} and data["small_sample"] is False
    children = {c["unit"]["code"]: c for c in data["children"]}
    assert set(children) == {"520281001001", "520281001002", "O-A-CJ"}
    a1, a2 = children["520281001001"], children["520281001002"]
    assert counts_of(a1["measures"]) == counts_of(data["measures"]) and a1["rank"] == 1
    assert a1["small_sample"] is False
    assert a2["small_sample"] is True and a2["rank"] is None and a2["measures"]["due"] == 0
    assert a2["measures"]["on_time_closure_rate"] is None


@pytest.mark.django_db
def test_p90_from_the_histogram_is_within_a_bucket_of_the_exact_value(api, world, played):
    # The exact handling times of the rounds closed in subdistrict A, from the timeline.
    times = []
    for case in Case.objects.filter(territory_path__startswith=world.units["sub_a"].path):
        steps = list(case.steps.order_by("pk"))
        start = None
        for i, s in enumerate(steps):
            if s.action in ("dispatch", "reopen"):
                start, deferred = s, False
            if s.action == "defer":
                deferred = True
            if s.action == "recheck" and s.changes.get("passed") and not deferred:
                feedback = [f for f in steps[:i] if f.action == "feedback"][-1]
                times.append((feedback.at - start.at).total_seconds())
    assert len(times) == 11
    exact = sorted(times)[math.ceil(0.9 * len(times)) - 1]
    p90 = api.get("dispatcher_a", "/measures", **JUNE)[1]["measures"]["handling_hours_p90"] * 3600
    k = buckets.bucket(exact)
    assert buckets.lower(k) - 36 <= p90 <= buckets.upper(k) + 36  # ± rounding to 0.01 h


@pytest.mark.django_db
def test_the_period_selects_the_days(api, world, played):
    # On 16 June fell due: c2 and c7 (red), c5 (deferred), c13 (red, deferred later), c14 (fed back in time).
    data = api.get("dispatcher_a", "/measures", **{"from": "2025-06-16", "to": "2025-06-16"})[1]
    m = data["measures"]
    assert (m["due"], m["deferred"], m["closed"], m["closed_on_time"]) == (5, 2, 2, 1)
    assert counts_of(m) == Counter(
        {
            c: v
            for c, v in expected(world.units["sub_a"].pk, date(2025, 6, 16), date(2025, 6, 16)).items()
            if c in COUNT_COLUMNS
        }
    )
    assert data["small_sample"] is True  # 3 rounds due less deferred
    empty = api.get("dispatcher_a", "/measures", **{"from": "2025-07-01", "to": "2025-07-31"})[1]
    assert empty["measures"]["due"] == 0 and empty["measures"]["on_time_closure_rate"] is None


@pytest.mark.django_db
def test_by_person_lists_the_units_handlers(api, world, played):
    status, data = api.get("handler_cg", "/measures", by="person", **JUNE)
    assert status == 200 and data["unit"]["code"] == "D-CG" and data["children"] == []
    people = {p["user"]["username"]: p for p in data["people"]}
    assert set(people) == {"handler_cg", "handler_cg2"}
    cg2 = people["handler_cg2"]["measures"]
    assert (cg2["signed"], cg2["closed"], cg2["reworked"], cg2["rework_rate"]) == (1, 1, 1, 1.0)
    assert cg2["closure_rate"] is None and cg2["orders"] == 0
    cg = people["handler_cg"]["measures"]
    assert (cg["signed"], cg["signed_in_time"], cg["closed"], cg["closed_on_time"]) == (12, 10, 8, 6)
    assert cg["response_rate"] == round(10 / 12, 4) and cg["on_time_closure_rate"] == 0.75
    assert people["handler_cg"]["small_sample"] is True and people["handler_cg"]["rank"] is None
    # Without by=person there is no people list.
    assert api.get("handler_cg", "/measures", **JUNE)[1]["people"] is None


@pytest.mark.django_db
def test_scope_is_404_and_role_is_403(api, world, played):
    assert api.get("dispatcher_a", "/measures", unit="520281002", **JUNE)[0] == 404  # subdistrict B
    assert api.get("dispatcher_a", "/measures", unit="D-CG", **JUNE)[0] == 404  # a county department
    assert api.get("dispatcher_a", "/measures", unit="NOPE", **JUNE)[0] == 404
    assert api.get("staff_a1", "/measures", unit="520281001002", **JUNE)[0] == 404  # the other community
    status, data = api.get("resident", "/measures", **JUNE)
    assert status == 403 and data["error"]["code"] == "forbidden"
    assert api.get("resident", "/measures", unit="520281001001", **JUNE)[0] == 403
    assert api.get("nobody", "/measures", **JUNE)[0] == 403
    assert api.client.get("/api/v1/measures").status_code == 401
    # The leader's county holds both subdistricts and the departments.
    status, data = api.get("leader", "/measures", **JUNE)
    assert status == 200 and data["unit"]["code"] == "520281"
    assert {c["unit"]["code"] for c in data["children"]} == {"520281001", "520281002", "D-CG", "D-SC"}
    assert api.get("leader", "/measures", unit="520281002", **JUNE)[0] == 200
    assert api.get("admin", "/measures", **JUNE)[1]["unit"]["code"] == "520200"
    assert api.get("staff_a1", "/measures", **JUNE)[1]["unit"]["code"] == "520281001001"


@pytest.mark.django_db
def test_bad_periods_are_422(api, world, played):
    assert api.get("dispatcher_a", "/measures", **{"from": "2025-06-30", "to": "2025-06-01"})[0] == 422
    assert api.get("dispatcher_a", "/measures", **{"from": "2020-01-01", "to": "2025-06-01"})[0] == 422
    assert api.get("dispatcher_a", "/measures", **{"from": "yesterday"})[0] == 422
    assert api.get("dispatcher_a", "/measures", by="everyone")[0] == 422


@pytest.mark.django_db
def test_default_period_is_the_last_30_days(api, world, played):
    with time_machine.travel("2025-06-24 12:00 +0800", tick=False):
        data = api.get("dispatcher_a", "/measures")[1]
    assert (data["from"], data["to"]) == ("2025-05-26", "2025-06-24")
    assert data["measures"]["due"] == 14


@pytest.mark.django_db
def test_the_report_costs_a_constant_number_of_queries(world, played, django_assert_max_num_queries):
    leader = world.users["leader"]
    with django_assert_max_num_queries(6):
        data = report(leader, start=date(2025, 6, 1), end=date(2025, 6, 30), by_person=True)
    assert len(data["children"]) == 4 and data["measures"]["due"] == 15


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["unit", "person"])
def test_the_endpoint_takes_the_same_queries_however_many_rows(api, world, played, by):
    """The county, a subdistrict and a community answer with different numbers of rows (children, or
    people) in the same statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost(unit: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            status, data = api.get("leader", "/measures", unit=unit, by=by, **JUNE)
        assert status == 200, data
        return len(ctx.captured_queries), len(data["children"])

    api.get("leader", "/measures", **JUNE)  # the token's first use
    costs = [cost(code) for code in ("520281", "520281001", "520281001001")]
    assert len({rows for _queries, rows in costs}) > 1, costs  # the sizes differ
    assert len({queries for queries, _rows in costs}) == 1, costs
