"""`civicgrid routing_train`: train a routing model version from the installation's settled cases.

(To be folded into `civicgrid routing train`; the logic is routing.training.train_from_cases.)
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from civicgrid.routing import demo, training


class Command(BaseCommand):
    help = "用已办结（及经纠正）的工单训练新的分类模型版本，并默认启用。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min", type=int, default=None, help="最少样本数（默认 CIVICGRID_ROUTING_MIN_TRAINING）"
        )
        parser.add_argument("--no-activate", action="store_true", help="只登记新版本，不启用")
        parser.add_argument("--if-due", action="store_true", help="只有新增样本足够时才训练（同定时任务）")
        parser.add_argument("--demo", action="store_true", help="演示：补上演示规则，尚无模型时训练")
        parser.add_argument("--note", default="", help="版本说明")

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        if options["demo"]:
            report = demo.setup()
            self.stdout.write(
                f"演示规则新增 {report['rules']} 条；模型 {report['model'] or '未训练（已有或样本不足）'}"
            )
            return
        if options["if_due"]:
            due, why = training.retrain_due()
            if not due:
                self.stdout.write(f"无需训练：{why}")
                return
        try:
            row = training.train_from_cases(
                min_examples=options["min"], activate=not options["no_activate"], note=options["note"]
            )
        except training.NotEnoughData as exc:
            raise CommandError(f"{exc.message}：{exc.details}") from exc
        auto = sum(1 for v in row.thresholds.values() if v is not None)
        state = "已启用" if row.is_active else "未启用"
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"模型 v{row.version}：{row.data_size} 个样本（纠正 {row.corrections}），"
            f"{len(row.labels)} 个分类，{auto} 个分类可自动派遣；{state}（{seconds:.1f} 秒）"
        )
        for key, value in row.scores.items():
            if isinstance(value, int | float):
                self.stdout.write(f"  {key}: {value}")
