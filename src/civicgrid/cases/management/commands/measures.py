"""`civicgrid measures fold|rebuild|status|bench`: the measures rollups by hand.

The worker folds new steps every 30 seconds (job cases.measures); these are for operators:
`fold` catches up now, `rebuild` recomputes every rollup from the timeline (after a change of
definitions or of the unit tree), `status` shows the cursor, `bench` measures a synthetic year.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Folds, rebuilds or benchmarks the measures rollups (docs/measures.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("what", choices=["fold", "rebuild", "status", "bench"])
        parser.add_argument("--cases", type=int, default=100_000, help="bench: how many cases to generate")

    def handle(self, *args, what: str, cases: int, **options) -> None:
        from civicgrid.cases.measure_models import MeasureCursor, MeasureDay, PersonMeasureDay
        from civicgrid.cases.measures import fold

        if what == "fold":
            report = fold.fold(max_seconds=None)
            self.stdout.write(
                f"folded {report.steps} steps in {report.seconds:.1f} s; {report.gaps} open gaps"
            )
        elif what == "rebuild":
            report = fold.rebuild()
            self.stdout.write(f"rebuilt from {report.steps} steps in {report.seconds:.1f} s")
        elif what == "status":
            cursor = MeasureCursor.objects.filter(name=fold.CURSOR).first()
            if cursor is None:
                self.stdout.write("nothing folded yet")
                return
            self.stdout.write(
                f"folded {cursor.folded} steps up to id {cursor.high}; {len(cursor.gaps)} open gaps; "
                f"last run {cursor.updated_at}; {MeasureDay.objects.count()} unit rows, "
                f"{PersonMeasureDay.objects.count()} person rows"
            )
        else:
            from civicgrid.cases.measures import bench

            try:
                figures = bench.run(cases, self.stdout.write)
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc
            for key, value in figures.items():
                self.stdout.write(f"  {key:28} {value}")
