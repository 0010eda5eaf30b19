"""`civicgrid routing evaluate --train FILE [--test FILE] [--cv K] [--unlabeled FILE]… [--json]`."""

from __future__ import annotations

import json
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from civicgrid.routing import evaluate


class Command(BaseCommand):
    help = "Routing classifier tools; `evaluate` measures it on labeled message files."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        measure = actions.add_parser(
            "evaluate",
            help="train and test, or grouped cross-validation, on labeled CSV files",
            description=evaluate.__doc__,
        )
        measure.add_argument(
            "--train", required=True, metavar="FILE.csv", help="labeled messages to train on"
        )
        measure.add_argument(
            "--test", metavar="FILE.csv", help="labeled messages to test on (default: cross-validation)"
        )
        measure.add_argument(
            "--cv", type=int, default=5, metavar="K", help="folds of grouped cross-validation (default 5)"
        )
        measure.add_argument(
            "--unlabeled",
            action="append",
            default=[],
            metavar="FILE.csv",
            help="unlabeled messages whose text adds to the document frequencies (repeatable)",
        )
        measure.add_argument("--seed", type=int, default=0, help="shuffling seed of the folds (default 0)")
        measure.add_argument("--json", action="store_true", help="print one JSON object")
        # `routing train` is the routing_train command under its documented name.
        train = actions.add_parser(
            "train", help="train a new model version from closed cases and corrections"
        )
        train.add_argument("--min", type=int, default=None, help="fewest labelled cases")
        train.add_argument(
            "--no-activate", action="store_true", help="register the version, do not activate it"
        )
        train.add_argument("--if-due", action="store_true", help="only when enough new examples exist")
        train.add_argument("--demo", action="store_true", help="demo rules, and a first model if none")
        train.add_argument("--note", default="", help="a note for the version")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "evaluate":
            self.evaluate(options)
        elif options["action"] == "train":
            keys = ["min", "no_activate", "if_due", "demo", "note"]
            call_command("routing_train", stdout=self.stdout, **{k: options[k] for k in keys})

    def evaluate(self, options: dict[str, Any]) -> None:
        try:
            figures = evaluate.evaluate(
                options["train"],
                test_path=options["test"],
                folds=options["cv"],
                unlabeled_paths=options["unlabeled"],
                seed=options["seed"],
            )
        except evaluate.DataError as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(figures, ensure_ascii=False))
        else:
            self.stdout.write(evaluate.format_report(figures), ending="")
