"""The case-category classifier: what a message is about, with a confidence fit for a threshold.

Features: character 1–2-gram TF-IDF of the whole message, plus the same of its subject line at half
weight. Each category gets a linear SVM over the features scaled by naive-Bayes log-count ratios
(NBSVM, Wang & Manning 2012); the scaling is folded into one weight matrix, so predicting is one
sparse product. A softmax with a single temperature, fitted on cross-validated scores, turns the
margins into calibrated probabilities. CPU only, no network, about a millisecond per message.

A message is one text whose first line is the subject (留言主题) and the rest the body; build it
with `message_text(title, description)`. A text of one line has no subject.

Model files are `.npz` archives of plain arrays and JSON metadata, read with `allow_pickle=False`
(no code runs when loading), and carry a format version: a file of another version is refused.
"""

from __future__ import annotations

import json
import os
import platform
import re
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import accuracy_score, f1_score, precision_recall_curve
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.svm import LinearSVC

FORMAT = "civicgrid.routing.classifier"
FORMAT_VERSION = 1

_WHITESPACE = re.compile(r"\s+")  # str patterns: also U+3000, NBSP and the scraped \n\t runs


class IncompatibleModelError(ValueError):
    """The file is not a routing model this code can read."""


def normalise(text: str) -> str:
    """Collapses every run of whitespace (\\n\\t…, U+3000, NBSP) into one space and strips the ends."""
    return _WHITESPACE.sub(" ", text).strip()


def message_text(title: str, description: str) -> str:
    """The classifier's input for one message: its subject, a newline, its body."""
    return f"{normalise(title)}\n{normalise(description)}"


def split_message(text: str) -> tuple[str, str]:
    """(subject, whole message), both normalised; the subject is the first line of a multi-line text."""
    text = text.lstrip()
    head, newline, _ = text.partition("\n")
    return (normalise(head) if newline else ""), normalise(text)


@dataclass
class _Block:
    """One TF-IDF feature block over character n-grams, stored as plain data."""

    part: str  # "message" or "subject"
    terms: list[str]
    idf: np.ndarray
    ngram_range: tuple[int, int]
    weight: float
    _counter: CountVectorizer | None = field(default=None, repr=False, compare=False)

    def _counting(self) -> CountVectorizer:
        if self._counter is None:
            vocabulary = {term: index for index, term in enumerate(self.terms)}
            self._counter = CountVectorizer(
                analyzer="char", ngram_range=self.ngram_range, vocabulary=vocabulary, dtype=np.float64
            )
        return self._counter

    def transform(self, docs: Sequence[str]) -> sp.csr_matrix:
        if not self.terms:
            return sp.csr_matrix((len(docs), 0))
        return _tfidf(self._counting().transform(docs), self.idf, self.weight)

    def features_of(self, doc: str) -> tuple[np.ndarray, np.ndarray]:
        """One text's row of `transform` as (columns, values), columns ascending: a filing classifies
        one message, and CountVectorizer.transform checked and built a sparse matrix for it at 0.3 ms,
        most of what predicting one cost. The n-grams come from the vectorizer's own analyzer."""
        counter = self._counting()
        vocabulary, counts = counter.vocabulary, Counter[int]()
        for gram in counter.build_analyzer()(doc):
            column = vocabulary.get(gram)
            if column is not None:
                counts[column] += 1
        columns = np.array(sorted(counts), dtype=np.intp)
        values = np.array([counts[c] for c in columns], dtype=np.float64) * self.idf[columns]
        norm = np.sqrt(np.dot(values, values))
        return columns, values * (self.weight / norm) if norm else values


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray, weight: float) -> sp.csr_matrix:
    """Raw counts times idf, each row scaled to length `weight` (as TfidfVectorizer, norm="l2")."""
    matrix = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    matrix.data *= idf[matrix.indices]
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    norms = np.sqrt(np.bincount(rows, weights=matrix.data**2, minlength=matrix.shape[0]))
    norms[norms == 0] = 1.0
    matrix.data *= (weight / norms)[rows]
    return matrix


@dataclass
class _Counts:
    """Character n-gram counts of some texts (one part of each: message or subject), all n-grams kept."""

    terms: np.ndarray
    matrix: sp.csr_matrix


def _count(docs: Sequence[str], ngram_range: tuple[int, int]) -> _Counts:
    counter = CountVectorizer(analyzer="char", ngram_range=ngram_range, dtype=np.float64)
    try:
        matrix = counter.fit_transform(docs)
    except ValueError:  # not one n-gram (e.g. no text has a subject line)
        return _Counts(np.array([], dtype=str), sp.csr_matrix((len(docs), 0)))
    return _Counts(counter.get_feature_names_out().astype(str), sp.csr_matrix(matrix))


@dataclass
class _Fitted:
    blocks: list[_Block]
    kept: list[np.ndarray]  # per block, the columns of the corpus counts it uses
    coef: np.ndarray
    intercept: np.ndarray


class _Corpus:
    """Texts to learn from, counted once, so that every fold of a cross-validation only slices them."""

    def __init__(self, texts: Sequence[str], unlabeled: Sequence[str], options: Options) -> None:
        pairs = [split_message(text) for text in [*texts, *unlabeled]]
        self.options = options
        self.unlabeled_rows = np.arange(len(texts), len(pairs))
        self.parts = [
            (part, weight, _count([pair[column] for pair in pairs], options.ngram_range))
            for part, column, weight in (("message", 1, 1.0), ("subject", 0, options.subject_weight))
        ]

    def fit(self, rows: np.ndarray, targets: np.ndarray, n_labels: int) -> _Fitted:
        """Vocabulary (n-grams in at least min_df of `rows`), idf (`rows` + unlabeled), weights."""
        options = self.options
        blocks, kept, matrices = [], [], []
        for part, weight, counts in self.parts:
            ours = counts.matrix[rows]
            frequency = np.bincount(ours.indices, minlength=counts.matrix.shape[1])
            keep = np.flatnonzero(frequency >= options.min_df)
            frequency = frequency[keep].astype(float)
            n_docs = len(rows)
            if len(self.unlabeled_rows):
                theirs = sp.csr_matrix(counts.matrix[self.unlabeled_rows][:, keep])
                frequency += np.bincount(theirs.indices, minlength=len(keep))
                n_docs += len(self.unlabeled_rows)
            idf = np.log((1.0 + n_docs) / (1.0 + frequency)) + 1.0
            blocks.append(_Block(part, counts.terms[keep].tolist(), idf, options.ngram_range, weight))
            kept.append(keep)
            matrices.append(_tfidf(ours[:, keep], idf, weight))
        features = sp.csr_matrix(sp.hstack(matrices, format="csr"))
        coef, intercept = _fit_weights(features, targets, n_labels, options)
        return _Fitted(blocks, kept, coef, intercept)

    def scores(self, fitted: _Fitted, rows: np.ndarray) -> np.ndarray:
        """Margins of the texts at `rows` under a model fitted on other rows of this corpus."""
        matrices = [
            _tfidf(counts.matrix[rows][:, keep], block.idf, block.weight)
            for (_, _, counts), keep, block in zip(self.parts, fitted.kept, fitted.blocks, strict=True)
        ]
        features = sp.csr_matrix(sp.hstack(matrices, format="csr"))
        return np.asarray(features @ fitted.coef.T) + fitted.intercept


@dataclass(frozen=True)
class Options:
    """The training hyper-parameters (fixed, chosen on a development split: see docs/routing.md)."""

    ngram_range: tuple[int, int] = (1, 2)
    min_df: int = 2
    subject_weight: float = 0.5
    C: float = 1.0  # SVM regularisation
    nb_alpha: float = 1.0  # smoothing of the naive-Bayes ratios
    random_state: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ngram_range": list(self.ngram_range),
            "min_df": self.min_df,
            "subject_weight": self.subject_weight,
            "C": self.C,
            "nb_alpha": self.nb_alpha,
            "random_state": self.random_state,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Options:
        values = dict(values)
        values["ngram_range"] = tuple(values["ngram_range"])
        return cls(**values)


class Model:
    """A trained classifier: `predict_proba`, `predict`, `save`; build with `train`, read with `load`."""

    def __init__(
        self,
        *,
        labels: list[str],
        blocks: list[_Block],
        coef: np.ndarray,
        intercept: np.ndarray,
        temperature: float,
        options: Options,
        metadata: dict[str, Any],
    ) -> None:
        self.labels = labels
        self.blocks = blocks
        self.coef = coef
        self._coef_by_feature = np.ascontiguousarray(coef.T)
        self.intercept = intercept
        self.temperature = temperature
        self.options = options
        self.metadata = metadata

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Raw margins, one column per label (in `self.labels` order)."""
        pairs = [split_message(text) for text in _as_list(texts)]
        if len(pairs) == 1:
            return self._margins_of_one(pairs[0])[np.newaxis, :]
        scores = np.tile(self.intercept, (len(pairs), 1))
        offset = 0
        for block in self.blocks:
            width = len(block.terms)
            if width:
                features = block.transform([pair[block.part == "message"] for pair in pairs])
                scores += features @ self._coef_by_feature[offset : offset + width]
            offset += width
        return scores

    def _margins_of_one(self, pair: tuple[str, str]) -> np.ndarray:
        """decision_function of one text without sparse matrices (Block.features_of)."""
        scores = self.intercept.astype(np.float64, copy=True)
        offset = 0
        for block in self.blocks:
            if block.terms:
                columns, values = block.features_of(pair[block.part == "message"])
                scores += values @ self._coef_by_feature[offset + columns]
            offset += len(block.terms)
        return scores

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text, one column per label (in `self.labels` order)."""
        return _softmax(self.decision_function(texts), self.temperature)

    def predict_proba(self, texts: Sequence[str], top_k: int | None = None) -> list[list[tuple[str, float]]]:
        """For each text, (label, probability) pairs best first; the `top_k` best, or all labels."""
        probabilities = self.probabilities(texts)
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, :top_k]
        return [
            [(self.labels[j], float(row[j])) for j in ranking]
            for row, ranking in zip(probabilities, order, strict=True)
        ]

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most likely label of each text."""
        best = self.decision_function(texts).argmax(axis=1)
        return [self.labels[j] for j in best]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the model as a versioned `.npz` archive (atomically: a reader never sees half a file)."""
        arrays: dict[str, np.ndarray] = {
            "format": np.array(FORMAT),
            "format_version": np.array(FORMAT_VERSION),
            "metadata": np.array(json.dumps(self.metadata, ensure_ascii=False)),
            "state": np.array(
                json.dumps(
                    {
                        "labels": self.labels,
                        "temperature": self.temperature,
                        "options": self.options.as_dict(),
                        "blocks": [
                            {"part": b.part, "ngram_range": list(b.ngram_range), "weight": b.weight}
                            for b in self.blocks
                        ],
                    },
                    ensure_ascii=False,
                )
            ),
            "coef": self.coef,
            "intercept": self.intercept,
        }
        for index, block in enumerate(self.blocks):
            arrays[f"terms_{index}"] = np.array(block.terms, dtype=str)
            arrays[f"idf_{index}"] = block.idf
        target = Path(path)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez_compressed(out, allow_pickle=False, **arrays)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """Reads a file written by `save`; raises IncompatibleModelError for any other file or version."""
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise IncompatibleModelError(f"{path}: not a routing model file ({error})") from error
        with archive:
            if "format" not in archive.files or str(archive["format"]) != FORMAT:
                raise IncompatibleModelError(f"{path}: not a routing model file")
            version = int(archive["format_version"])
            if version != FORMAT_VERSION:
                raise IncompatibleModelError(
                    f"{path}: routing model format version {version}, but this code reads version "
                    f"{FORMAT_VERSION}; train the model again with this version"
                )
            metadata = json.loads(str(archive["metadata"]))
            state = json.loads(str(archive["state"]))
            blocks = [
                _Block(
                    info["part"],
                    [str(term) for term in archive[f"terms_{index}"]],
                    archive[f"idf_{index}"],
                    (int(info["ngram_range"][0]), int(info["ngram_range"][1])),
                    float(info["weight"]),
                )
                for index, info in enumerate(state["blocks"])
            ]
            return cls(
                labels=list(state["labels"]),
                blocks=blocks,
                coef=archive["coef"],
                intercept=archive["intercept"],
                temperature=float(state["temperature"]),
                options=Options.from_dict(state["options"]),
                metadata=metadata,
            )


def load(path: str | os.PathLike[str]) -> Model:
    """Reads a model written by `Model.save`."""
    return Model.load(path)


def _as_list(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("pass a list of texts, not one string")
    return list(texts)


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    scaled = scores / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exponentials = np.exp(scaled)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def _fit_weights(
    features: sp.csr_matrix, targets: np.ndarray, n_labels: int, options: Options
) -> tuple[np.ndarray, np.ndarray]:
    """One NBSVM per label (one-vs-rest), folded into a weight matrix and intercepts."""
    present = features.copy()
    present.data[:] = 1.0
    coef = np.zeros((n_labels, features.shape[1]))
    intercept = np.zeros(n_labels)
    for label in range(n_labels):
        inside = targets == label
        p = options.nb_alpha + np.asarray(present[inside].sum(axis=0)).ravel()
        q = options.nb_alpha + np.asarray(present[~inside].sum(axis=0)).ravel()
        ratios = np.log(p / p.sum()) - np.log(q / q.sum())
        svm = LinearSVC(C=options.C, random_state=options.random_state, max_iter=5000)
        svm.fit(sp.csr_matrix(features @ sp.diags(ratios)), inside.astype(int))
        coef[label] = svm.coef_[0] * ratios
        intercept[label] = svm.intercept_[0]
    return coef, intercept


def _splitter(targets: np.ndarray, groups: Sequence[Any] | None, folds: int, seed: int) -> Any:
    """Stratified (and grouped, when groups are given) k-fold, k cut down to what the data allows."""
    folds = min(folds, int(np.bincount(targets).min()))
    if groups is not None:
        folds = min(folds, len(set(groups)))
    if folds < 2:
        return None
    if groups is not None:
        return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)


def cross_validated_scores(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    groups: Sequence[Any] | None = None,
    folds: int = 5,
    unlabeled: Sequence[str] = (),
    options: Options | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray, list[np.ndarray]]:
    """Out-of-fold margins: (label list, labels as indices into it, margins, test rows of each fold).

    Stratified k-fold, grouped when `groups` are given, with k cut down to the smallest class; rows
    no fold tested stay NaN, and with fewer than two possible folds nothing is tested.
    """
    options = options or Options()
    corpus = _Corpus(_as_list(texts), _as_list(unlabeled), options)
    return _cross_validate(corpus, labels, groups, folds)


def _cross_validate(
    corpus: _Corpus, labels: Sequence[str], groups: Sequence[Any] | None, folds: int
) -> tuple[list[str], np.ndarray, np.ndarray, list[np.ndarray]]:
    label_list = sorted(set(labels))
    targets = np.array([label_list.index(label) for label in labels])
    scores = np.full((len(targets), len(label_list)), np.nan)
    splitter = _splitter(targets, groups, folds, corpus.options.random_state)
    tests: list[np.ndarray] = []
    if splitter is None:
        return label_list, targets, scores, tests
    for train_rows, test_rows in splitter.split(np.zeros(len(targets)), targets, groups):
        fitted = corpus.fit(train_rows, targets[train_rows], len(label_list))
        scores[test_rows] = corpus.scores(fitted, test_rows)
        tests.append(test_rows)
    return label_list, targets, scores, tests


def _fit_temperature(scores: np.ndarray, targets: np.ndarray) -> float:
    """The softmax temperature that minimises the log-loss of the cross-validated margins."""

    def log_loss(log_temperature: float) -> float:
        probabilities = _softmax(scores, float(np.exp(log_temperature)))
        picked = probabilities[np.arange(len(targets)), targets]
        return float(-np.log(np.clip(picked, 1e-12, None)).mean())

    result = minimize_scalar(log_loss, bounds=(-6.0, 3.0), method="bounded")
    return float(np.exp(result.x))


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    groups: Sequence[Any] | None = None,
    unlabeled: Sequence[str] = (),
    calibration_folds: int = 5,
    **options: Any,
) -> Model:
    """Trains on messages (see `message_text`) and their labels.

    `groups` (e.g. the reporting user) keep related messages on one side of each calibration fold;
    `unlabeled` messages only add to the document frequencies (idf); `options` are `Options` fields.
    The cross-validated margins fit the probability temperature and are summarised in the metadata.
    """
    started = time.perf_counter()
    settings = Options(**options)
    messages = _as_list(texts)
    if len(messages) != len(labels):
        raise ValueError(f"{len(messages)} texts but {len(labels)} labels")
    label_list = sorted(set(labels))
    if len(label_list) < 2:
        raise ValueError("training needs at least two different labels")
    targets = np.array([label_list.index(label) for label in labels])

    cv: dict[str, Any] | None = None
    temperature = 1.0
    if groups is not None and len(groups) != len(messages):
        raise ValueError(f"{len(messages)} texts but {len(groups)} groups")
    corpus = _Corpus(messages, _as_list(unlabeled), settings)
    _, _, scores, tests = _cross_validate(corpus, labels, groups, calibration_folds)
    if tests:
        seen = np.concatenate(tests)
        temperature = _fit_temperature(scores[seen], targets[seen])
        predicted = scores.argmax(axis=1)
        fold_f1 = [float(f1_score(targets[t], predicted[t], average="macro")) for t in tests]
        fold_accuracy = [float(accuracy_score(targets[t], predicted[t])) for t in tests]
        cv = {
            "folds": len(tests),
            "grouped": groups is not None,
            "macro_f1": float(np.mean(fold_f1)),
            "macro_f1_std": float(np.std(fold_f1)),
            "accuracy": float(np.mean(fold_accuracy)),
            "accuracy_std": float(np.std(fold_accuracy)),
        }

    fitted = corpus.fit(np.arange(len(messages)), targets, len(label_list))
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_train": len(messages),
        "n_unlabeled": len(unlabeled),
        "labels": label_list,
        "label_counts": {label: int((targets == i).sum()) for i, label in enumerate(label_list)},
        "n_features": int(fitted.coef.shape[1]),
        "options": settings.as_dict(),
        "temperature": temperature,
        "cross_validation": cv,
        "train_seconds": round(time.perf_counter() - started, 3),
        "versions": versions(),
    }
    return Model(
        labels=label_list,
        blocks=fitted.blocks,
        coef=fitted.coef,
        intercept=fitted.intercept,
        temperature=temperature,
        options=settings,
        metadata=metadata,
    )


def thresholds_for_precision(
    model: Model,
    texts: Sequence[str],
    labels: Sequence[str],
    target: float = 0.95,
    *,
    groups: Sequence[Any] | None = None,
    folds: int = 5,
) -> dict[str, float | None]:
    """Per label, the lowest probability at which its top-1 predictions reach `target` precision.

    Measured on cross-validated predictions of `texts` (models trained with `model`'s options, margins
    turned into probabilities with `model`'s temperature): a message whose best label is L with a
    probability of at least thresholds[L] is right with that precision. None: never reached.
    """
    label_list, targets, scores, tests = cross_validated_scores(
        texts, labels, groups=groups, folds=folds, options=model.options
    )
    if label_list != model.labels:
        raise ValueError(f"labels {label_list} differ from the model's {model.labels}")
    if not tests:
        return {label: None for label in model.labels}
    seen = np.concatenate(tests)
    probabilities = _softmax(scores[seen], model.temperature)
    truth = targets[seen]
    best = probabilities.argmax(axis=1)
    thresholds: dict[str, float | None] = {}
    for index, label in enumerate(model.labels):
        chosen = best == index
        if not chosen.any():
            thresholds[label] = None
            continue
        correct = truth[chosen] == index
        if correct.all():  # precision 1 from the lowest score on
            thresholds[label] = float(probabilities[chosen, index].min()) if target <= 1.0 else None
            continue
        if not correct.any():
            thresholds[label] = None
            continue
        precision, _, cut = precision_recall_curve(correct, probabilities[chosen, index])
        reaching = cut[precision[:-1] >= target]
        thresholds[label] = float(reaching.min()) if len(reaching) else None
    return thresholds
