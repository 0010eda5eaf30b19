"""Training the routing classifier on the installation's own cases, and knowing when to retrain.

The examples are the cases whose category a person settled: closed cases (their final category, after
any correction on the way) and open cases a dispatcher re-categorised (routing.RoutingCorrection).
Labels are the categories' codes; the text is what engine.text_of reads. Per-category thresholds for
automatic dispatch come from classifier.thresholds_for_precision on cross-validated predictions at
the configured precision, and are stored with the model version.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from civicgrid.cases.models import Case, Status
from civicgrid.core.errors import DomainError
from civicgrid.routing import conf, registry
from civicgrid.routing.models import RoutingCorrection, RoutingModel

if TYPE_CHECKING:
    from civicgrid.people.models import User

logger = logging.getLogger(__name__)

# The newest this many examples are used: enough for a char n-gram linear model, bounded memory.
MAX_EXAMPLES = 200_000
# A category with fewer examples cannot be cross-validated; its cases wait for a dispatcher.
MIN_PER_LABEL = 3


class NotEnoughData(DomainError):
    status = 409
    code = "not_enough_data"


@dataclass
class TrainingSet:
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    corrections: int = 0
    dropped_labels: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)


def _examples() -> QuerySet[Case]:
    corrected = RoutingCorrection.objects.filter(category_changed=True).values("case_id")
    return Case.objects.filter(
        Q(status=Status.CLOSED) | (Q(pk__in=corrected) & ~Q(status__in=[Status.REJECTED, Status.MERGED])),
        category__isnull=False,
        category__is_active=True,
    )


def example_count() -> int:
    return _examples().count()


def training_data(limit: int = MAX_EXAMPLES) -> TrainingSet:
    """The newest `limit` settled cases as (text, category code), without categories too rare to learn."""
    from civicgrid.routing.engine import model_text, text_of

    corrected = set(RoutingCorrection.objects.filter(category_changed=True).values_list("case_id", flat=True))
    rows = list(
        _examples().order_by("-created_at", "-id").values_list("pk", "description", "category__code")[:limit]
    )
    counts = Counter(code for _, _, code in rows)
    data = TrainingSet()
    for pk, description, code in rows:
        if counts[code] < MIN_PER_LABEL:
            continue
        text = text_of(Case(description=description))
        if not text.strip():
            continue
        data.texts.append(model_text(text))
        data.labels.append(code)
        data.corrections += pk in corrected
    data.dropped_labels = {code: n for code, n in counts.items() if n < MIN_PER_LABEL}
    return data


def _thresholds(raw: Any) -> dict[str, float | None]:
    """thresholds_for_precision's answer as {label: threshold or None} (None: never automatic)."""
    if raw is None:
        return {}
    items = raw.items() if isinstance(raw, dict) else raw
    out: dict[str, float | None] = {}
    for label, value in items:
        if value is None:
            out[str(label)] = None
            continue
        value = float(value)
        out[str(label)] = value if value <= 1.0 else None
    return out


def _scores(model: Any) -> dict[str, Any]:
    """The cross-validated figures the classifier measured while training (docs/routing.md)."""
    metadata = getattr(model, "metadata", None) or {}
    cv = metadata.get("cross_validation") or {}
    scores = {key: value for key, value in cv.items() if isinstance(value, int | float | bool)}
    if "label_counts" in metadata:
        scores["label_counts"] = metadata["label_counts"]
    return scores


def train_from_cases(
    *,
    by: User | None = None,
    min_examples: int | None = None,
    activate: bool = True,
    note: str = "",
    limit: int = MAX_EXAMPLES,
    **options: Any,
) -> RoutingModel:
    """Trains on the settled cases, measures thresholds and registers (and activates) a new version."""
    started = time.perf_counter()
    data = training_data(limit)
    needed = conf.min_training() if min_examples is None else min_examples
    labels = sorted(set(data.labels))
    if len(data) < needed or len(labels) < 2:
        raise NotEnoughData(
            _("已办结的工单太少，暂不能训练模型"),
            details={"examples": len(data), "needed": needed, "labels": len(labels)},
        )
    from civicgrid.routing import classifier

    model = classifier.train(data.texts, data.labels, **options)
    trained = time.perf_counter()
    raw = classifier.thresholds_for_precision(model, data.texts, data.labels, target=conf.target_precision())
    thresholds = _thresholds(raw)
    scores = {
        **_scores(model),
        "target_precision": conf.target_precision(),
        "auto_labels": sum(1 for v in thresholds.values() if v is not None),
        "train_seconds": round(trained - started, 2),
        "threshold_seconds": round(time.perf_counter() - trained, 2),
    }
    if data.dropped_labels:
        scores["dropped_labels"] = data.dropped_labels
    row = registry.register(
        model,
        data_size=len(data),
        corrections=data.corrections,
        labels=labels,
        scores=scores,
        thresholds=thresholds,
        by=by,
        note=note,
        activate=activate,
    )
    logger.info(
        "routing model v%s: %d examples, %d labels, %.1f s", row.version, len(data), len(labels),
        time.perf_counter() - started,
    )  # fmt: skip
    return row


def retrain_due() -> tuple[bool, str]:
    """Whether the nightly job should train now, and why (or why not)."""
    latest = RoutingModel.objects.order_by("-version").first()
    count = example_count()
    if latest is None:
        if count >= conf.min_training():
            return True, f"尚无模型，已有 {count} 个样本"
        return False, f"样本 {count} 个，少于 {conf.min_training()} 个"
    corrections = RoutingCorrection.objects.filter(at__gt=latest.trained_at).count()
    new = max(0, count - latest.data_size) + corrections
    if new >= conf.retrain_min_new():
        return True, f"上次训练后新增 {new} 个样本（含 {corrections} 个纠正）"
    return False, f"上次训练后新增 {new} 个样本，少于 {conf.retrain_min_new()} 个"


def retrain_if_due() -> RoutingModel | None:
    due, why = retrain_due()
    if not due:
        logger.info("routing retrain skipped: %s", why)
        return None
    logger.info("routing retrain: %s", why)
    try:
        return train_from_cases(note=f"定时训练：{why}")
    except NotEnoughData as exc:
        logger.info("routing retrain skipped: %s %s", exc.message, exc.details)
        return None
