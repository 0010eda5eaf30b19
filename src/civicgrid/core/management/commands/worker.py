"""`civicgrid worker`: periodic jobs plus the django-tasks queue, in one loop.

Run as many as you like (one per machine is plenty): jobs and queued tasks are claimed, never
done twice.
"""

from __future__ import annotations

import os
import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from civicgrid.core import jobs


class Command(BaseCommand):
    help = "Runs periodic jobs (time limits, notifications, retraining) and queued background tasks."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=5.0, help="seconds to sleep when idle")
        parser.add_argument(
            "--once", action="store_true", help="one round of jobs and queued tasks, then exit"
        )
        parser.add_argument(
            "--exit-with-parent",
            action="store_true",
            help="exit when the process that started this one has ended (civicgrid demo)",
        )

    def handle(self, *args, interval: float, once: bool, exit_with_parent: bool, **options):
        registry = jobs.discover()
        self.stdout.write(f"worker: {len(registry)} periodic jobs: {', '.join(sorted(registry)) or '-'}")
        self.running = True
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        # An ended parent's children are adopted by another process: the parent id changes.
        parent = os.getppid() if exit_with_parent else None
        while self.running and (parent is None or os.getppid() == parent):
            close_old_connections()
            for name in jobs.run_due(registry):
                self.stdout.write(f"worker: ran {name}")
            queue = Worker(
                queue_names=["*"],
                interval=0,
                batch=True,
                backend_name="default",
                startup_delay=False,
                max_tasks=100,
                worker_id=get_random_string(12),
                excluded_queue_names=[],
            )
            queue.run()
            if once:
                break
            time.sleep(interval)

    def _stop(self, signum, frame):
        self.running = False
