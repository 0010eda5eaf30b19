"""Over months of history, only 缓办 keeps a case open, and not always (its own load: test_history's
is 40 days)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from civicgrid.cases.models import Case, Status
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
    assert old.filter(deferred=True, status=Status.DEFERRED).exists()
