"""`civicgrid routing evaluate` on small synthetic CSV files, and on the real data when it is there."""

import csv
import io
import json
import os
import random
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from civicgrid.routing import evaluate
from civicgrid.routing.tests.test_classifier import OPENINGS, PLACES, TOPICS

HEADER = ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "一级标签"]
KEYS = {"accuracy", "macro_f1", "per_class", "train_seconds", "ms_per_message", "confusion", "labels"}
KEYS |= {"n_train", "n_test", "folds", "macro_f1_std", "accuracy_std", "calibration", "machine"}


def write_messages(path: Path, per_label: int, seed: int, *, labeled: bool = True) -> Path:
    """A CSV in the layout of the labeled Teddy Cup file: quoted multi-line bodies, scraped whitespace."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER if labeled else HEADER[:-1])
        number = 0
        for label, topics in TOPICS.items():
            for _ in range(per_label):
                number += 1
                topic, place = rng.choice(topics), rng.choice(PLACES)
                body = (
                    f"\n\t\t\t\t\t\n\t\t\t\t\t{rng.choice(OPENINGS)}{place}{topic}，"
                    f"\u3000\u3000希望尽快处理。\n\t\t\t\t\t{rng.choice(topics)}\n\t\t\t\t"
                )
                user = f"U{seed}{number % 9:04d}"
                row = [str(number), user, f"{place}{topic}", "2019-01-01 10:00:00", body]
                writer.writerow([*row, label] if labeled else row)
    return path


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("routing", *args, stdout=out)
    return out.getvalue()


def test_read_messages_keeps_multiline_cells_and_drops_duplicate_bodies(tmp_path):
    path = write_messages(tmp_path / "train.csv", per_label=4, seed=1)
    messages = evaluate.read_messages(path)
    assert len(messages) == 12 and messages[0].body.startswith("\n\t")
    assert "\n" in messages[0].body and messages[0].label in TOPICS
    doubled = [*messages, messages[0]]
    assert len(evaluate.deduplicate(doubled)) == len(evaluate.deduplicate(messages))


def test_groups_join_one_user_and_one_subject():
    def message(user: str, subject: str) -> evaluate.Message:
        return evaluate.Message(subject=subject, body="正文", user=user, label="甲")

    pairs = [("u1", "一"), ("u2", "二"), ("u1", "三"), ("u3", "二 "), ("u4", "四")]
    groups = evaluate.group_ids([message(user, subject) for user, subject in pairs])
    assert groups[0] == groups[2] and groups[1] == groups[3]
    assert len({groups[0], groups[1], groups[4]}) == 3


def test_evaluate_with_a_test_file(tmp_path):
    train = write_messages(tmp_path / "train.csv", per_label=12, seed=1)
    test = write_messages(tmp_path / "test.csv", per_label=5, seed=2)
    figures = json.loads(run("evaluate", "--train", str(train), "--test", str(test), "--json"))
    assert set(figures) >= KEYS
    assert figures["mode"] == "test" and len(figures["folds"]) == 1
    assert figures["labels"] == sorted(TOPICS)
    assert figures["n_train"] == 36 and 0 < figures["n_test"] <= 15
    assert figures["macro_f1"] >= 0.8 and figures["accuracy"] >= 0.8
    assert set(figures["per_class"]) == set(TOPICS)
    assert {"precision", "recall", "f1", "support"} <= set(figures["per_class"]["交通运输"])
    assert sum(map(sum, figures["confusion"])) == figures["n_test"]
    assert figures["ms_per_message"] > 0 and figures["train_seconds"] > 0


def test_evaluate_by_cross_validation_with_unlabeled_text(tmp_path):
    train = write_messages(tmp_path / "train.csv", per_label=12, seed=1)
    extra = write_messages(tmp_path / "extra.csv", per_label=4, seed=3, labeled=False)
    figures = json.loads(
        run("evaluate", "--train", str(train), "--cv", "3", "--unlabeled", str(extra), "--json")
    )
    assert set(figures) >= KEYS
    assert figures["mode"] == "cross-validation" and len(figures["folds"]) == 3
    assert figures["n_test"] == figures["n_messages"] == 36 and figures["n_unlabeled"] == 12
    assert sum(map(sum, figures["confusion"])) == 36
    assert 0.0 <= figures["macro_f1"] <= 1.0


def test_the_text_report(tmp_path):
    train = write_messages(tmp_path / "train.csv", per_label=12, seed=1)
    report = run("evaluate", "--train", str(train), "--cv", "3")
    for words in ["macro-F1", "accuracy", "confusion", "ms per message", "train seconds", "交通运输"]:
        assert words in report


def test_unusable_files_are_command_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(CommandError, match="missing column"):
        run("evaluate", "--train", str(bad))
    small = write_messages(tmp_path / "small.csv", per_label=2, seed=1)
    with pytest.raises(CommandError, match="at least 5 messages"):
        run("evaluate", "--train", str(small), "--cv", "5")
    with pytest.raises(CommandError):
        run("evaluate", "--train", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError):
        run("nonsense")


def complaints_dir() -> Path:
    """The evaluation data: $CIVICGRID_COMPLAINTS_DIR, or ../shared/data/complaints beside the repository."""
    if os.environ.get("CIVICGRID_COMPLAINTS_DIR"):
        return Path(os.environ["CIVICGRID_COMPLAINTS_DIR"])
    repository = Path(__file__).resolve().parents[4]
    return repository.parent / "shared" / "data" / "complaints"


def test_grouped_cross_validation_on_the_real_messages():
    labeled = complaints_dir() / "teddycup2020c_attach2_labeled.csv"
    if not labeled.is_file():
        pytest.skip(f"evaluation data not found at {labeled}")
    figures = json.loads(run("evaluate", "--train", str(labeled), "--cv", "5", "--json"))
    assert len(figures["folds"]) == 5 and figures["n_test"] > 1600
    assert figures["macro_f1"] >= 0.88, figures["folds"]
    assert figures["ms_per_message"] <= 5.0
    assert figures["train_seconds"] < 60.0
