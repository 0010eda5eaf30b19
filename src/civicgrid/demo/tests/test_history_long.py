"""Over months of history, only 缓办 keeps a case open, and not always (its own load: test_history's
is 40 days)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from civicgrid.cases.jobs import supervise_all
from civicgrid.cases.models import Case, CaseStep, Status
from civicgrid.demo.history import load_history
from civicgrid.demo.load import load_world


@pytest.mark.django_db
def test_only_deferred_cases_stay_open_for_months():
    # A handler who asked for an extension once the deadline had passed used to leave the case signed
    # for the rest of the year. The slowest case the odds allow (15 working days, late, reworked
    # twice) runs about six weeks; 75 days leaves room.
    load_world()
    assert load_history(days=150, per_weekday=6, seed=11) > 500
    old = Case.objects.filter(created_at__lt=timezone.now() - timedelta(days=75))
    stale = old.exclude(status__in=[Status.CLOSED, Status.REJECTED, Status.DEFERRED])
    assert old.count() > 200 and list(stale.values_list("number", "status")) == []
    # And 缓办 is not forever either: some deferred matters are fed back and closed later.
    assert old.filter(deferred=True, status=Status.CLOSED).exists()
    held = old.filter(deferred=True, status=Status.DEFERRED)
    assert held.exists()
    # Each still deferred names a day to come, reviewed (deferred again) on the days before it, so the
    # worker's first run does not resume months of them at once.
    today = timezone.localdate()
    assert not held.filter(resume_on__lte=today).exists() and not held.filter(resume_on=None).exists()
    assert supervise_all()["resume"] == 0
    assert CaseStep.objects.filter(case__in=held, action="defer", note="资金仍未落实，继续缓办").exists()
    fed = Case.objects.exclude(status=Status.DEFERRED)
    assert not fed.exclude(resume_on=None).exists()
