"""The lifecycle benchmarks' CPU accounting and callgrind parsing (the rest of them runs as
`civicgrid bench api-lifecycle` and `civicgrid bench api-instructions`)."""

import os
import sys
import time

import pytest

from civicgrid.cases.bench import _cpu_seconds, cpu_ratio


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cpu_seconds_count_this_process_and_skip_gone_ones():
    before = _cpu_seconds([os.getpid()])
    started = time.process_time()
    while time.process_time() - started < 0.3:
        sum(range(10_000))
    spent = _cpu_seconds([os.getpid()]) - before
    assert 0.2 <= spent <= 1.0
    assert _cpu_seconds([2**22 + 12345]) == 0  # above Linux's largest pid: no such process


def test_the_cpu_ratio_is_a_bare_requests_cpu_over_a_steps():
    bare = {"server": 1.7, "postgres": 0.26, "client": 0.24}  # seconds over 1,000 requests: 2.2 ms each
    step = {"server": 4.65, "postgres": 2.01, "client": 0.44}  # over 1,000 steps: 7.1 ms each
    assert cpu_ratio(bare, 1000, step, 1000) == 0.31
    assert cpu_ratio(bare, 1000, step, 2000) == 0.62  # twice as many steps in that CPU: each costs half


def test_a_callgrind_dump_gives_its_name_and_its_instruction_total():
    from civicgrid.cases.bench_instructions import totals

    dump = (
        "version: 1\ncmd: python -m x\npart: 2\ndesc: Trigger: dump steps\n"
        "events: Ir\nsummary: 1\ntotals: 364316443\n"
    )
    assert totals(dump) == ("steps", 364316443)
    with pytest.raises(ValueError):
        totals("version: 1\n")


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_scale_fill_still_fits_the_case_table(world, cats):
    """cases-scale writes its million rows in SQL of its own: a new column without a database default
    must be named there too, or the benchmark fails only when somebody next runs it."""
    from django.db import connection

    from civicgrid.cases.bench import _ASSIGN, _FILL
    from civicgrid.cases.models import Case, CaseAssignment

    with connection.cursor() as cursor:
        cursor.execute(_FILL, {"n": 200})
        cursor.execute(_ASSIGN)
    filled = Case.objects.filter(number__startswith="CB")
    assert filled.count() == 200 and filled.filter(offered_at__isnull=False).count() == 2
    assert (
        CaseAssignment.objects.filter(case__in=filled.exclude(lead_unit=None)).count()
        == filled.exclude(lead_unit=None).count()
    )
