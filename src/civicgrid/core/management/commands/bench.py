"""`civicgrid bench NAME …`, `civicgrid bench all`, `civicgrid bench --list`."""

from __future__ import annotations

import importlib
import importlib.util

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from civicgrid import benchmarking


def load_benchmarks() -> dict[str, benchmarking.Benchmark]:
    """Imports `civicgrid.<app>.bench` of every installed app that has one, filling the registry."""
    for app in apps.get_app_configs():
        module = f"{app.name}.bench"
        # find_spec first, so a bench module that fails to import is an error, not "absent".
        if app.name.startswith("civicgrid.") and importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return benchmarking.registered()


class Command(BaseCommand):
    help = "Runs the named benchmarks (or all) and prints their figures and the machine."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="benchmark names, or 'all'")
        parser.add_argument(
            "--list", action="store_true", dest="list_only", help="list the benchmarks and exit"
        )

    def handle(self, *args, names: list[str], list_only: bool, **options) -> None:
        known = load_benchmarks()
        if list_only:
            for bench in known.values():
                self.stdout.write(f"{bench.name:20} {bench.doc}")
            return
        if not names:
            raise CommandError("name a benchmark, 'all' or --list")
        chosen = known if names == ["all"] else {}
        if not chosen:
            unknown = [n for n in names if n not in known]
            if unknown:
                raise CommandError(f"unknown benchmark(s): {', '.join(unknown)}; try --list")
            chosen = {n: known[n] for n in names}
        for key, value in benchmarking.machine().items():
            self.stdout.write(f"{key:10} {value}")
        for bench in chosen.values():
            self.stdout.write(self.style.MIGRATE_HEADING(f"\n== {bench.name}: {bench.doc}"))
            figures = bench.fn(self.stdout.write)
            for key, value in figures.items():
                self.stdout.write(f"  {key:32} {_shown(value)}")


def _shown(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else value
