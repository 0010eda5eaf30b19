"""`civicgrid demo`: migrate, load the demo world (idempotently), print the logins and serve, with the
worker beside the server so that clocks run, notices go out and the measures follow the steps."""

from __future__ import annotations

import subprocess
import sys
import time
import unicodedata

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from civicgrid.cases.measures.fold import fold
from civicgrid.core.models import Unit
from civicgrid.demo import world
from civicgrid.demo.history import load_history
from civicgrid.demo.load import load_world
from civicgrid.demo.photos import load_photos
from civicgrid.routing.demo import setup as setup_routing


def _width(text: str) -> int:
    """Columns a terminal gives the text (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


class Command(BaseCommand):
    help = "迁移数据库，载入演示数据（亦资街道（演示）），打印演示账号并在 http://127.0.0.1:8000 启动服务。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="端口（默认 8000）")
        parser.add_argument("--no-serve", action="store_true", help="只迁移和载入数据，不启动服务")
        parser.add_argument("--no-history", action="store_true", help="不载入一年的演示工单")

    def handle(self, *args, **options) -> None:
        verbosity = options["verbosity"]
        call_command("migrate", interactive=False, verbosity=max(0, verbosity - 1))
        report = load_world()
        if report.changed_anything:
            created = ", ".join(f"{kind} {n}" for kind, n in sorted(report.created.items()))
            updated = ", ".join(f"{kind} {n}" for kind, n in sorted(report.updated.items()))
            self.stdout.write(
                f"演示数据已载入（{report.seconds:.1f} 秒）：新建 {created or '无'}；更新 {updated or '无'}"
            )
        else:
            self.stdout.write(f"演示数据已是最新，无需改动（{report.seconds:.1f} 秒）。")
        if not options["no_history"]:
            started = time.perf_counter()
            made = load_history()
            if made:
                self.stdout.write(
                    f"演示工单已载入：{made} 件，近一年（{time.perf_counter() - started:.1f} 秒）"
                )
                started = time.perf_counter()
                photos = load_photos()
                seconds = time.perf_counter() - started
                self.stdout.write(
                    f"演示照片已载入：{photos} 张，近 60 天的群众和网格员上报（{seconds:.1f} 秒）"
                )
                # Keyword and unit rules for the demo, and a first routing model trained on the history.
                started = time.perf_counter()
                setup_routing()
                self.stdout.write(
                    f"自动分拨：演示规则和首个模型已就绪（{time.perf_counter() - started:.1f} 秒）"
                )
                # The measures read rollups that the worker folds from the timeline: folded now, the
                # measures page has the year's figures even before a worker has run (--no-serve).
                folded = fold(max_seconds=None)
                self.stdout.write(f"考核指标：已汇总 {folded.steps} 个办理步骤（{folded.seconds:.1f} 秒）")
        # Planner statistics for the rows just loaded: until autovacuum gets to them, PostgreSQL plans
        # for empty tables (a case's timeline then hashed every unit; API steps were ~20 % slower).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self._print_logins(options["port"])
        if not options["no_serve"]:
            self._serve(options["port"])

    def _serve(self, port: int) -> None:
        """The development server, and `civicgrid worker` beside it for as long as it runs."""
        # --exit-with-parent: the server can end without running `finally` (runserver leaves with
        # os._exit when the port is taken; a closed terminal or `kill`), and the worker must not stay.
        worker = subprocess.Popen([sys.executable, "-m", "civicgrid.cli", "worker", "--exit-with-parent"])
        self.stdout.write(f"后台任务：civicgrid worker 已启动（进程 {worker.pid}）")
        try:
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()

    def _print_logins(self, port: int) -> None:
        names = dict(
            Unit.objects.filter(code__in=[a.unit_code for a in world.DEMO_ACCOUNTS]).values_list(
                "code", "name"
            )
        )
        rows = [
            (a.username, str(a.role.label), names.get(a.unit_code, a.unit_code)) for a in world.DEMO_ACCOUNTS
        ]
        widths = [max(_width(row[i]) for row in [("用户名", "角色", "单位"), *rows]) for i in range(2)]
        self.stdout.write("")
        self.stdout.write(f"演示账号（密码均为 {world.PASSWORD}）：")
        for username, role, unit in [("用户名", "角色", "单位"), *rows]:
            self.stdout.write(f"  {_pad(username, widths[0])}  {_pad(role, widths[1])}  {unit}")
        self.stdout.write(f"\n登录：http://127.0.0.1:{port}/login/")
