"""Routing figures: what routing adds to a filing (routing-overhead), on the demo world and its history.

Runs in a throw-away test database: the demo world and its year of history are loaded, a model is
trained on the history (routing.demo.setup, timed), then 500 new demo-like cases are filed through
create_case with routing switched off, and each is routed on its own in a transaction as the intake
hook would (route(case): the rules, the model, the place, the unit, the suggestion row and, when sure,
the system's register and dispatch steps with their notification rows). The same filings are also
timed end to end with routing on and off. Notifications are handed to the worker after commit
(CIVICGRID_NOTIFY_ON_COMMIT=enqueue, the production setting), so their sending is not counted.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from django.db import transaction
from django.test import override_settings

from civicgrid.benchmarking import Figures, Say, benchmark

CASES = 500


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _demo_cases(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Filings like the demo's: a community, a place, a problem text, a point in one of its grids."""
    import json

    from shapely.geometry import Point, shape

    from civicgrid.core.models import Unit, UnitKind
    from civicgrid.demo import history, world

    rng = random.Random(seed)
    grids = list(Unit.objects.filter(kind=UnitKind.GRID, code__startswith=world.SUBDISTRICT_CODE))
    problems = [(name, text) for name, texts in history.PROBLEMS.items() for text in texts]
    out = []
    for _ in range(count):
        grid = rng.choice(grids)
        polygon = shape(json.loads(grid.polygon))
        minx, miny, maxx, maxy = polygon.bounds
        while True:
            lng, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if polygon.contains(Point(lng, lat)):
                break
        community = grid.name.split("社区")[0]
        _, text = rng.choice(problems)
        out.append(
            {
                "description": f"{community}社区{rng.choice(history.PLACES)}{text}。",
                "lat": lat,
                "lng": lng,
                "reporter_name": "王先生",
                "reporter_phone": f"139{rng.randrange(10**8):08d}",
            }
        )
    return out


@benchmark("routing-overhead")
def routing_overhead(say: Say) -> Figures:
    """Time route(case) adds to a filing: p50/p95 over 500 demo-like cases, model trained on the demo."""
    from unittest import mock

    from civicgrid.cases.actions import create_case
    from civicgrid.cases.models import Status
    from civicgrid.demo.history import load_history
    from civicgrid.demo.load import load_world
    from civicgrid.intake.bench import scratch_database
    from civicgrid.people.models import User
    from civicgrid.routing import actions as routing_actions
    from civicgrid.routing import demo, engine, registry
    from civicgrid.routing.models import RoutingModel

    figures: Figures = {}
    # Notifications leave after commit through the worker, as in production (docs/configuration.md).
    with scratch_database(), override_settings(CIVICGRID_NOTIFY_ON_COMMIT="enqueue"):
        started = time.perf_counter()
        load_world()
        made = load_history()
        say(f"demo world and {made} history cases loaded in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        report = demo.setup()
        train_s = time.perf_counter() - started
        row = RoutingModel.objects.get(is_active=True)
        auto_labels = sum(1 for v in row.thresholds.values() if v is not None)
        say(
            f"model v{row.version} trained on {row.data_size} cases in {train_s:.1f} s "
            f"({len(row.labels)} labels, {auto_labels} with a threshold); rules added: {report['rules']}"
        )
        figures.update(
            {
                "history cases": made,
                "training examples": row.data_size,
                "train + thresholds s": round(train_s, 2),
                "labels with a threshold": f"{auto_labels}/{len(row.labels)}",
                "cv macro-F1": round(float(row.scores.get("macro_f1", 0.0)), 3),
            }
        )
        filer = User.objects.get(username="dispatcher1")
        filings = _demo_cases(CASES)
        registry.active()  # load the model once, as a warm process has it
        with mock.patch.object(routing_actions, "route_new_case", lambda case: None):
            cases = [create_case(by=filer, **f) for f in filings[:CASES]]
        timings: list[float] = []
        automatic = 0
        for case in cases:
            with transaction.atomic():
                t0 = time.perf_counter()
                suggestion = engine.route(case)
                timings.append((time.perf_counter() - t0) * 1e3)
            automatic += suggestion.decided_automatically
        figures.update(
            {
                "route p50 ms": round(statistics.median(timings), 2),
                "route p95 ms": round(_percentile(timings, 0.95), 2),
                "route max ms": round(max(timings), 2),
                "dispatched automatically": f"{automatic}/{len(cases)}",
            }
        )
        say(
            f"route(case): p50 {figures['route p50 ms']} ms, p95 {figures['route p95 ms']} ms; "
            f"{automatic} of {len(cases)} dispatched by the system"
        )
        # The other path: the case waits with its suggestion (automatic dispatch switched off).
        waiting: list[float] = []
        with mock.patch.object(routing_actions, "route_new_case", lambda case: None):
            more = [create_case(by=filer, **f) for f in _demo_cases(200, seed=9)]
        with override_settings(CIVICGRID_ROUTING_AUTO="off"):
            for case in more:
                with transaction.atomic():
                    t0 = time.perf_counter()
                    engine.route(case)
                    waiting.append((time.perf_counter() - t0) * 1e3)
        figures["route p50 ms (waits)"] = round(statistics.median(waiting), 2)
        figures["route p95 ms (waits)"] = round(_percentile(waiting, 0.95), 2)
        # End to end: the same filings through create_case, routing on, then off.
        ends: dict[str, list[float]] = {"on": [], "off": []}
        extra = _demo_cases(200, seed=8)
        for label in ("on", "off"):
            patch = mock.patch.object(routing_actions, "route_new_case", lambda case: None)
            if label == "on":
                patch = mock.patch.object(routing_actions, "route_new_case", routing_actions.route_new_case)
            with patch:
                for f in extra:
                    t0 = time.perf_counter()
                    case = create_case(by=filer, **f)
                    ends[label].append((time.perf_counter() - t0) * 1e3)
        p95_on, p95_off = _percentile(ends["on"], 0.95), _percentile(ends["off"], 0.95)
        figures.update(
            {
                "create_case p50 ms (routing on)": round(statistics.median(ends["on"]), 2),
                "create_case p95 ms (routing on)": round(p95_on, 2),
                "create_case p50 ms (routing off)": round(statistics.median(ends["off"]), 2),
                "create_case p95 ms (routing off)": round(p95_off, 2),
            }
        )
        open_left = sum(1 for c in cases if c.status in (Status.RECEIVED, Status.REGISTERED))
        say(f"create_case p95: {p95_on:.1f} ms with routing, {p95_off:.1f} ms without; {open_left} waiting")
    return figures
