"""`civicgrid demo` folds its history into the measures and serves with the worker beside the server."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from civicgrid.cases.measure_models import MeasureDay
from civicgrid.cases.measures.fold import fold
from civicgrid.cases.models import CasePhoto
from civicgrid.demo.history import load_history
from civicgrid.demo.management.commands import demo

pytestmark = pytest.mark.django_db


def test_the_history_is_in_the_measures_before_any_worker_runs(monkeypatch):
    monkeypatch.setattr(demo, "load_history", lambda: load_history(days=20, per_weekday=8, seed=3))
    monkeypatch.setattr(demo, "setup_routing", lambda: None)  # its own tests: routing/tests
    out = StringIO()
    call_command("demo", "--no-serve", stdout=out)
    assert "考核指标：已汇总" in out.getvalue()
    assert "演示照片已载入" in out.getvalue() and CasePhoto.objects.exists()
    assert MeasureDay.objects.filter(orders__gt=0).exists()
    assert fold().steps == 0  # every step of the history is folded


class FakeWorker:
    def __init__(self, args):
        self.args, self.pid, self.stopped = args, 4242, False

    def terminate(self):
        self.stopped = True

    def wait(self, timeout=None):
        return 0


def test_the_worker_runs_for_as_long_as_the_server(monkeypatch):
    started: list[FakeWorker] = []
    monkeypatch.setattr(
        demo.subprocess, "Popen", lambda args: started.append(FakeWorker(args)) or started[-1]
    )
    served = []

    def call(name, *args, **kwargs):
        if name != "runserver":
            return call_command(name, *args, **kwargs)
        served.append(args)
        assert started and not started[0].stopped  # the worker is up while the server runs
        raise KeyboardInterrupt  # Ctrl-C stops the server

    monkeypatch.setattr(demo, "call_command", call)
    with pytest.raises(KeyboardInterrupt):
        call_command("demo", "--no-history", "--port", "8123", stdout=StringIO())
    assert served == [("127.0.0.1:8123",)]
    assert started[0].args[-2:] == ["worker", "--exit-with-parent"] and started[0].stopped
