"""Case numbers people can read aloud: CG + local date + a per-day sequence (CG20261127-0042)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from civicgrid.cases.models import CaseSequence

PREFIX = "CG"


def next_number(now: datetime | None = None) -> str:
    """Takes the next number of the local day; must run inside the transaction that saves the case.

    The day's row stays locked (select_for_update) until that transaction ends, so two creators never
    get the same number; a rolled-back case gives its number back.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_number must run inside the transaction that creates the case")
    day = timezone.localdate(now or timezone.now())
    row = CaseSequence.objects.select_for_update().filter(day=day).first()
    if row is None:
        try:
            with transaction.atomic():
                row = CaseSequence.objects.create(day=day, last=0)
        except IntegrityError:
            # Another creator made the day's row first; wait for its lock like everybody else.
            row = CaseSequence.objects.select_for_update().get(day=day)
        else:
            row = CaseSequence.objects.select_for_update().get(pk=row.pk)
    row.last += 1
    row.save(update_fields=["last"])
    return f"{PREFIX}{day:%Y%m%d}-{row.last:04d}"
