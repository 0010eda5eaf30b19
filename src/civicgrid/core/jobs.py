"""Periodic jobs: registered by each app's `jobs` module, run by `civicgrid worker`.

Several workers may run at once; a job runs in one of them at a time because it is claimed with a
conditional UPDATE on its lease row (ARCHITECTURE.md, habit 2). A lease that outlives a crashed
worker expires, so the job is taken up again.
"""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.db.models import Q
from django.utils import timezone

from civicgrid.core.models import JobLease

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[], object]
    lease: timedelta


REGISTRY: dict[str, Job] = {}


def periodic(name: str, *, every_seconds: float, lease_seconds: float = 300) -> Callable:
    """Registers a function to run every so often; it must be idempotent and safe to repeat."""

    def register(func: Callable[[], object]) -> Callable[[], object]:
        REGISTRY[name] = Job(name, timedelta(seconds=every_seconds), func, timedelta(seconds=lease_seconds))
        return func

    return register


def discover() -> dict[str, Job]:
    """Imports `civicgrid.<app>.jobs` for every installed app that has one."""
    for config in apps.get_app_configs():
        if config.name.startswith("civicgrid."):
            try:
                importlib.import_module(f"{config.name}.jobs")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.jobs":
                    raise
    return REGISTRY


def claim(job: Job) -> bool:
    """True when this process has taken the job's lease; False when it is not due or held elsewhere."""
    now = timezone.now()
    JobLease.objects.get_or_create(name=job.name, defaults={"next_run_at": now})
    return (
        JobLease.objects.filter(name=job.name, next_run_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + job.lease, last_started_at=now)
        == 1
    )


def run_due(jobs: dict[str, Job] | None = None) -> list[str]:
    """Runs every due job this process could claim; returns their names."""
    ran = []
    for job in (jobs if jobs is not None else REGISTRY).values():
        if not claim(job):
            continue
        error = ""
        try:
            job.run()
        except Exception:  # one failing job must not stop the others; the error is kept on its lease
            error = traceback.format_exc()[-4000:]
            logger.exception("periodic job %s failed", job.name)
        finished = timezone.now()
        JobLease.objects.filter(name=job.name).update(
            locked_until=None, last_finished_at=finished, next_run_at=finished + job.every, last_error=error
        )
        ran.append(job.name)
    return ran
