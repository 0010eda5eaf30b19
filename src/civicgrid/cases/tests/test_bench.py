"""The lifecycle benchmark's CPU accounting (the rest of it runs as `civicgrid bench api-lifecycle`)."""

import os
import sys
import time

import pytest

from civicgrid.cases.bench import _cpu_seconds


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cpu_seconds_count_this_process_and_skip_gone_ones():
    before = _cpu_seconds([os.getpid()])
    started = time.process_time()
    while time.process_time() - started < 0.3:
        sum(range(10_000))
    spent = _cpu_seconds([os.getpid()]) - before
    assert 0.2 <= spent <= 1.0
    assert _cpu_seconds([2**22 + 12345]) == 0  # above Linux's largest pid: no such process
