"""Measures the classifier on labeled message files: a train/test split or grouped cross-validation.

Files are CSV in the layout of the 2020 Teddy Cup problem C data: UTF-8, a header row with the
Chinese column names, quoted multi-line cells. The text is 留言主题 (subject) + 留言详情 (body); the
label is 一级标签; 留言用户 (the user) groups related messages. Unlabeled files need only the text.
"""

from __future__ import annotations

import csv
import os
import platform
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedGroupKFold
from threadpoolctl import threadpool_limits

from civicgrid.routing import classifier

SUBJECT = "留言主题"
BODY = "留言详情"
LABEL = "一级标签"
USER = "留言用户"


class DataError(ValueError):
    """A message file that cannot be used."""


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    user: str
    label: str

    @property
    def text(self) -> str:
        return classifier.message_text(self.subject, self.body)


def read_messages(path: str | os.PathLike[str], *, labeled: bool = True) -> list[Message]:
    """The messages of one CSV file; rows without a label are skipped when `labeled`."""
    needed = [SUBJECT, BODY, *([LABEL] if labeled else [])]
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in needed if column not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
            messages = [
                Message(
                    subject=row[SUBJECT] or "",
                    body=row[BODY] or "",
                    user=(row.get(USER) or "").strip(),
                    label=(row.get(LABEL) or "").strip(),
                )
                for row in reader
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: {error}") from error
    if labeled:
        messages = [message for message in messages if message.label]
    return messages


def deduplicate(messages: Sequence[Message]) -> list[Message]:
    """Drops every message whose normalised body was already seen (the first one stays)."""
    seen: set[str] = set()
    kept = []
    for message in messages:
        body = classifier.normalise(message.body)
        if body not in seen:
            seen.add(body)
            kept.append(message)
    return kept


def group_ids(messages: Sequence[Message]) -> list[int]:
    """Groups for splitting: messages of one user, or with one normalised subject, share a group.

    The subject link is stricter than the user alone: the data has reposts of one subject under two
    user ids (its two published subsets number users differently).
    """
    parent = list(range(len(messages)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for index, message in enumerate(messages):
        keys = [f"subject:{classifier.normalise(message.subject)}"]
        if message.user:
            keys.append(f"user:{message.user}")
        for key in keys:
            if key in first:
                parent[root(index)] = root(first[key])
            else:
                first[key] = index
    return [root(i) for i in range(len(messages))]


def ms_per_message(model: classifier.Model, texts: Sequence[str], *, repeat: int = 200) -> float:
    """Mean milliseconds to rank the labels of one message at a time, on one core."""
    sample = [texts[i % len(texts)] for i in range(repeat)]
    with threadpool_limits(limits=1):
        model.predict_proba(sample[:1])  # warm up: the vocabulary look-up is built on first use
        started = time.perf_counter()
        for text in sample:
            model.predict_proba([text], top_k=3)
        elapsed = time.perf_counter() - started
    return 1000.0 * elapsed / len(sample)


def _calibration(truth: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Log-loss and expected calibration error (top-1 confidence vs accuracy, 10 equal-width bins)."""
    picked = probabilities[np.arange(len(truth)), truth]
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    edges = np.minimum((confidence * bins).astype(int), bins - 1)
    ece = sum(
        abs(correct[edges == b].mean() - confidence[edges == b].mean()) * (edges == b).mean()
        for b in range(bins)
        if (edges == b).any()
    )
    return {"log_loss": float(-np.log(np.clip(picked, 1e-12, None)).mean()), "ece": float(ece)}


def _scores(labels: list[str], truth: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    predicted = probabilities.argmax(axis=1)
    everything = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=everything, zero_division=0
    )
    top2 = np.argsort(-probabilities, axis=1)[:, :2]
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, labels=everything, average="macro", zero_division=0)),
        "top2_accuracy": float((top2 == truth[:, None]).any(axis=1).mean()),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": confusion_matrix(truth, predicted, labels=everything).tolist(),
        "calibration": _calibration(truth, probabilities),
    }


def _run_fold(
    train: Sequence[Message], test: Sequence[Message], labels: list[str], unlabeled: Sequence[str]
) -> tuple[classifier.Model, np.ndarray, float]:
    """Trains on `train`: the model, its probabilities for `test` (columns as `labels`), the seconds."""
    started = time.perf_counter()
    model = classifier.train(
        [m.text for m in train], [m.label for m in train], groups=group_ids(train), unlabeled=unlabeled
    )
    seconds = time.perf_counter() - started
    probabilities = np.zeros((len(test), len(labels)))
    probabilities[:, [labels.index(label) for label in model.labels]] = model.probabilities(
        [m.text for m in test]
    )
    return model, probabilities, seconds


def evaluate(
    train_path: str | os.PathLike[str],
    *,
    test_path: str | os.PathLike[str] | None = None,
    folds: int = 5,
    unlabeled_paths: Sequence[str | os.PathLike[str]] = (),
    seed: int = 0,
) -> dict[str, Any]:
    """Trains and tests (on `test_path`, or by grouped `folds`-fold cross-validation) and returns the figures.

    Exact duplicate bodies are removed first (within the training file, and from the test file
    when they occur in the training file). Cross-validation is StratifiedGroupKFold over `group_ids`.
    """
    messages = deduplicate(read_messages(train_path))
    unlabeled = [m.text for path in unlabeled_paths for m in read_messages(path, labeled=False)]
    if test_path is not None:
        known = {classifier.normalise(m.body) for m in messages}
        test = [m for m in deduplicate(read_messages(test_path)) if classifier.normalise(m.body) not in known]
        if not messages or not test:
            raise DataError("the training and the test file both need labeled messages")
        labels = sorted({m.label for m in messages} | {m.label for m in test})
        splits = [(messages, test)]
    else:
        labels = sorted({m.label for m in messages})
        targets = np.array([labels.index(m.label) for m in messages])
        if folds < 2:
            raise DataError("cross-validation needs at least 2 folds")
        if len(labels) < 2 or np.bincount(targets).min() < folds:
            raise DataError(f"every label needs at least {folds} messages for {folds}-fold cross-validation")
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = [
            ([messages[i] for i in train_rows], [messages[i] for i in test_rows])
            for train_rows, test_rows in splitter.split(np.zeros(len(messages)), targets, group_ids(messages))
        ]

    fold_figures = []
    all_truth, all_probabilities = [], []
    model: classifier.Model | None = None
    for number, (train, test) in enumerate(splits, start=1):
        model, probabilities, seconds = _run_fold(train, test, labels, unlabeled)
        truth = np.array([labels.index(m.label) for m in test])
        predicted = probabilities.argmax(axis=1)
        fold_figures.append(
            {
                "fold": number,
                "n_train": len(train),
                "n_test": len(test),
                "accuracy": float(accuracy_score(truth, predicted)),
                "macro_f1": float(f1_score(truth, predicted, average="macro")),
                "train_seconds": round(seconds, 3),
            }
        )
        all_truth.append(truth)
        all_probabilities.append(probabilities)
    assert model is not None

    pooled = _scores(labels, np.concatenate(all_truth), np.concatenate(all_probabilities))
    fold_f1 = [f["macro_f1"] for f in fold_figures]
    fold_accuracy = [f["accuracy"] for f in fold_figures]
    latency_texts = [m.text for m in splits[-1][1]]
    return {
        "mode": "test" if test_path is not None else "cross-validation",
        "labels": labels,
        "n_messages": len(messages) + (len(splits[0][1]) if test_path is not None else 0),
        "n_train": round(float(np.mean([f["n_train"] for f in fold_figures]))),
        "n_test": sum(f["n_test"] for f in fold_figures),
        "n_unlabeled": len(unlabeled),
        "accuracy": float(np.mean(fold_accuracy)),
        "accuracy_std": float(np.std(fold_accuracy)),
        "macro_f1": float(np.mean(fold_f1)),
        "macro_f1_std": float(np.std(fold_f1)),
        "pooled": {"accuracy": pooled["accuracy"], "macro_f1": pooled["macro_f1"]},
        "top2_accuracy": pooled["top2_accuracy"],
        "per_class": pooled["per_class"],
        "confusion": pooled["confusion"],
        "calibration": pooled["calibration"],
        "folds": fold_figures,
        "train_seconds": float(np.mean([f["train_seconds"] for f in fold_figures])),
        "ms_per_message": ms_per_message(model, latency_texts),
        "options": model.options.as_dict(),
        "seed": seed,
        "machine": machine(),
        "versions": classifier.versions(),
    }


def machine() -> dict[str, Any]:
    """What the timings were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count() or 0, "system": platform.platform(terse=True)}


def _columns(text: str) -> int:
    """Terminal columns `text` takes: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _padded(text: str, width: int) -> str:
    return text + " " * max(0, width - _columns(text))


def format_report(figures: dict[str, Any]) -> str:
    """The figures as a plain-text report."""
    labels = figures["labels"]
    width = max(_columns(label) for label in labels) + 2
    lines = [
        f"{figures['mode']}: {figures['n_messages']} messages, {len(figures['folds'])} fold(s), "
        f"{figures['n_train']} training / {figures['n_test']} tested"
        + (f", {figures['n_unlabeled']} unlabeled" if figures["n_unlabeled"] else ""),
        f"accuracy     {figures['accuracy']:.4f} ± {figures['accuracy_std']:.4f}",
        f"macro-F1     {figures['macro_f1']:.4f} ± {figures['macro_f1_std']:.4f}"
        f"   (pooled {figures['pooled']['macro_f1']:.4f})",
        f"top-2 acc.   {figures['top2_accuracy']:.4f}",
        f"log-loss     {figures['calibration']['log_loss']:.4f}   ECE {figures['calibration']['ece']:.4f}",
        "",
        f"{_padded('label', width)} precision  recall      F1  support",
    ]
    for label in labels:
        row = figures["per_class"][label]
        lines.append(
            f"{_padded(label, width)} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:7.3f}"
            f" {row['support']:8d}"
        )
    lines += ["", "confusion (rows: true, columns: predicted, in the order above)"]
    for label, row in zip(labels, figures["confusion"], strict=True):
        lines.append(_padded(label, width) + " ".join(f"{count:5d}" for count in row))
    lines += [
        "",
        "fold  n_train  n_test  accuracy  macro-F1  train s",
        *(
            f"{f['fold']:4d} {f['n_train']:8d} {f['n_test']:7d} {f['accuracy']:9.4f} {f['macro_f1']:9.4f}"
            f" {f['train_seconds']:8.1f}"
            for f in figures["folds"]
        ),
        "",
        f"train seconds     {figures['train_seconds']:.1f} (mean per fold, calibration folds included)",
        f"ms per message    {figures['ms_per_message']:.2f} (one message at a time, one core)",
        f"machine           {figures['machine']['cpu']}, {figures['machine']['cores']} cores",
    ]
    return "\n".join(lines) + "\n"
