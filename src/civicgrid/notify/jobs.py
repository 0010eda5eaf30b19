"""The periodic job that empties the outbox: retries, and anything the on-commit delivery missed."""

from __future__ import annotations

import time

from civicgrid.core.jobs import periodic
from civicgrid.notify.actions import DeliveryReport, deliver_due_report

BATCH = 100
# Well inside the job's five-minute lease, so that a long backlog never outlives it.
MAX_SECONDS = 60


@periodic("notify.deliver", every_seconds=10)
def deliver() -> DeliveryReport:
    """Sends due messages in batches until none is left or a minute has passed."""
    total = DeliveryReport()
    deadline = time.monotonic() + MAX_SECONDS
    while True:
        report = deliver_due_report(BATCH)
        total.sent += report.sent
        total.retrying += report.retrying
        total.failed += report.failed
        if report.attempted < BATCH or time.monotonic() > deadline:
            return total
