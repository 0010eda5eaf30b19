"""`civicgrid deliver_notifications [--loop] [--interval S]`: sends what the outbox holds."""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections, connection

from civicgrid.notify.actions import DeliveryReport, deliver_due_report

logger = logging.getLogger("civicgrid.notify")


class Command(BaseCommand):
    help = "投递到期的通知（站内、邮件、企业微信、短信）；--loop 持续运行，可多进程同时运行。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep running until stopped (SIGTERM/Ctrl-C)")
        parser.add_argument(
            "--interval", type=float, default=10.0, help="seconds to wait when nothing is due"
        )
        parser.add_argument("--limit", type=int, default=100, help="messages per batch")

    def handle(self, *args: Any, loop: bool, interval: float, limit: int, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        previous = {}
        if loop:
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, stop)
        try:
            while True:
                if not connection.in_atomic_block:  # (tests run the command inside a transaction)
                    # A long-running worker drops connections that broke or outlived CONN_MAX_AGE.
                    close_old_connections()
                try:
                    report = deliver_due_report(limit)
                except DatabaseError:
                    if not loop:
                        raise
                    # The database is away for a moment: keep the worker alive and try again.
                    logger.exception("deliver_notifications: database error, retrying in %ss", interval)
                    report = DeliveryReport()
                if report.attempted or not loop:
                    self.stdout.write(
                        f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}"
                    )
                if not loop or stopping:
                    return
                if report.attempted < limit:
                    # Sleep in short steps so that a stop signal ends the loop promptly.
                    deadline = time.monotonic() + interval
                    while not stopping and time.monotonic() < deadline:
                        time.sleep(min(0.5, interval))
                    if stopping:
                        return
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
