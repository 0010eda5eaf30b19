"""The measures fold: its rollups equal a brute-force count over the same cases, exactly once."""

from __future__ import annotations

import math
import random
import threading
import types
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import connection

from civicgrid.cases import actions
from civicgrid.cases.measure_models import MeasureCursor, MeasureDay
from civicgrid.cases.measures import buckets
from civicgrid.cases.measures import fold as fold_module
from civicgrid.cases.measures.fold import CURSOR, GAP_SECONDS, fold, rebuild
from civicgrid.cases.models import CaseStep
from civicgrid.cases.tests.measures_world import T, brute_force, folded, play


def totals(rows: dict, owner: int) -> Counter:
    out: Counter = Counter()
    for (key, _day), counts in rows.items():
        if key == owner:
            out.update(counts)
    return Counter({k: v for k, v in out.items() if not k.startswith("h")})


@pytest.mark.django_db
def test_fold_equals_brute_force(world, cats):
    play(world, cats)
    report = fold()
    assert report.steps == CaseStep.objects.count() > 100
    units, people = folded()
    expected_units, expected_people = brute_force()
    assert units == expected_units
    assert people == expected_people
    # The brute force itself, checked against the story told in measures_world (subdistrict A):
    sub_a = totals(units, world.units["sub_a"].pk)
    assert sub_a == Counter(
        orders=18,  # 17 rounds (c3 has three) + c10's assisting unit
        signed=16,  # c3's first round was returned unsigned, c12 never signed
        signed_in_time=14,  # c2 and c10's assisting unit signed late
        rounds=17,
        returned=2,  # c3 (then re-dispatched) and c12
        due=14,  # every round but the returned ones and c15 (not due yet)
        deferred=2,  # c5 (deferred, then closed) and c13 (red, then deferred)
        closed=11,  # c7 still open; deferred rounds count apart
        closed_on_time=9,  # c2 and c11 were late
        extended=1,
        reworked=1,
        rated=4,
        satisfied=2,
        basically_satisfied=1,
        dissatisfied=1,
        resolved=3,
        handling_seconds=sub_a["handling_seconds"],
    )
    handler_cg2 = totals(people, world.users["handler_cg2"].pk)
    assert handler_cg2 == Counter(
        signed=1,
        signed_in_time=1,
        closed=1,
        closed_on_time=1,
        reworked=1,
        handling_seconds=handler_cg2["handling_seconds"],
    )


@pytest.mark.django_db
def test_chains_that_share_ancestors_count_once(world, cats):
    play(world, cats)
    fold()
    units, _people = folded()
    u = world.units
    # Every case of subdistrict A lies in grid A1: its grid, community and subdistrict agree …
    assert totals(units, u["grid_a1"].pk) == totals(units, u["com_a1"].pk) == totals(units, u["sub_a"].pk)
    # … and the county, on both the territory chain and the department's chain, counts each round once.
    county = totals(units, u["county"].pk)
    assert county["rounds"] == 18 and county["orders"] == 19 and county["due"] == 15
    # The department sees the rounds it led, in both subdistricts (c3 round 1, c9 in B …).
    assert totals(units, u["dept_cg"].pk)["rounds"] == 14
    assert totals(units, u["dept_sc"].pk)["rounds"] == 3


@pytest.mark.django_db
def test_refolding_changes_nothing_and_batch_size_does_not_matter(world, cats):
    play(world, cats)
    fold()
    first = folded()
    assert fold().steps == 0
    assert folded() == first
    report = rebuild(batch_size=3)
    assert report.batches == math.ceil(CaseStep.objects.count() / 3)
    assert folded() == first
    cursor = MeasureCursor.objects.get(name=CURSOR)
    assert cursor.folded == CaseStep.objects.count() and cursor.gaps == {}


@pytest.mark.django_db
def test_a_step_committed_late_is_folded_when_it_appears(world, cats, monkeypatch):
    numbers = play(world, cats)
    fold()
    with time_machine.travel(T(16, 10), tick=False):
        actions.rate_case(numbers["c16"], by=world.users["resident"], satisfaction="satisfied", resolved=True)
        actions.urge_case(numbers["c15"], by=world.users["dispatcher_a"], note="请加快")
    late, later = CaseStep.objects.order_by("-pk").values_list("pk", flat=True)[:2][::-1]
    # The rating's transaction has not committed yet when the fold runs: the fold sees only the urge.
    monkeypatch.setattr(
        fold_module, "CaseStep", types.SimpleNamespace(objects=CaseStep.objects.exclude(pk=late))
    )
    assert fold().steps == 1
    assert MeasureCursor.objects.get(name=CURSOR).high == later
    assert set(MeasureCursor.objects.get(name=CURSOR).gaps) == {str(late)}
    assert folded() != brute_force()
    monkeypatch.undo()
    assert fold().steps == 1
    assert folded() == brute_force()
    assert MeasureCursor.objects.get(name=CURSOR).gaps == {}


@pytest.mark.django_db
def test_an_id_that_never_appears_is_forgotten(world, cats, monkeypatch):
    numbers = play(world, cats)
    fold()
    actions.urge_case(numbers["c15"], by=world.users["dispatcher_a"])
    actions.urge_case(numbers["c7"], by=world.users["dispatcher_a"])
    hidden = CaseStep.objects.order_by("-pk").values_list("pk", flat=True)[1]
    monkeypatch.setattr(
        fold_module, "CaseStep", types.SimpleNamespace(objects=CaseStep.objects.exclude(pk=hidden))
    )
    fold()
    assert MeasureCursor.objects.get(name=CURSOR).gaps.keys() == {str(hidden)}
    fold()
    assert MeasureCursor.objects.get(name=CURSOR).gaps.keys() == {str(hidden)}
    with time_machine.travel(timedelta(seconds=GAP_SECONDS + 60)):
        fold()
    assert MeasureCursor.objects.get(name=CURSOR).gaps == {}


def test_histogram_buckets_and_percentile():
    assert buckets.bucket(0) == 0 and buckets.bucket(899) == 0 and buckets.bucket(900) == 1
    for k in range(1, buckets.LAST):
        assert buckets.bucket(buckets.lower(k)) == k
        assert buckets.bucket(buckets.upper(k) - 0.001) == k
    assert buckets.bucket(10**9) == buckets.LAST
    rng = random.Random(7)
    for _ in range(20):
        times = [rng.lognormvariate(11, 1.2) for _ in range(rng.randint(1, 400))]
        histogram = [0] * (buckets.LAST + 1)
        for t in times:
            histogram[buckets.bucket(t)] += 1
        exact = sorted(times)[math.ceil(0.9 * len(times)) - 1]
        estimate = buckets.percentile(histogram, 0.9)
        assert estimate is not None
        k = buckets.bucket(exact)
        assert buckets.lower(k) <= estimate <= buckets.upper(k)
        assert abs(estimate / exact - 1) < 2 ** (1 / 3) - 1
    assert buckets.percentile([0] * 40, 0.9) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_folding_at_once_count_each_step_once():
    from civicgrid.cases.tests.factories import make_categories
    from civicgrid.testing import build_world

    world = build_world()
    play(world, make_categories(world))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            fold(batch_size=7)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    fold()
    assert folded() == brute_force()
    assert MeasureDay.objects.exists()
