"""The model registry: save a trained classifier as a new version, activate it, roll back, load it once.

Each process keeps the active model in memory keyed by (version, file). Routing asks for it on every
case with one indexed query for the active row (about 0.1 ms), so an activation or a rollback in
another process shows on the next case, and a test database never sees another test's model; the file
is read only when that key changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core import audit
from civicgrid.core.errors import InvalidTransition, NotFound
from civicgrid.routing import conf
from civicgrid.routing.models import RoutingModel

if TYPE_CHECKING:
    from civicgrid.people.models import User

logger = logging.getLogger(__name__)


class TextModel(Protocol):
    """What routing needs of a classifier model (civicgrid.routing.classifier.Model)."""

    def predict_proba(self, texts: list[str]) -> list[list[tuple[str, float]]]: ...

    def save(self, path: str | Path) -> Any: ...


@dataclass
class Active:
    """The active model as routing uses it: its version, thresholds per label and the model."""

    version: int
    model: TextModel
    thresholds: dict[str, float | None] = field(default_factory=dict)


def load_file(path: str | Path) -> TextModel:
    """Reads a model file written by classifier.Model.save."""
    from civicgrid.routing import classifier

    return classifier.load(path)


def file_path(row: RoutingModel) -> Path:
    path = Path(row.path)
    return path if path.is_absolute() else conf.model_dir() / path


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: tuple[int, str] | None = None
        self.active: Active | None = None
        self.pinned: Active | None = None
        self.is_pinned = False


_cache = _Cache()


_UNKNOWN = object()


def active(key: Any = _UNKNOWN) -> Active | None:
    """The active model of the installation, loaded once per process and version; None when none.

    `key` is the active (version, file) when the caller has read it already (routing.state).
    """
    if _cache.is_pinned:
        return _cache.pinned
    if key is _UNKNOWN:
        key = RoutingModel.objects.filter(is_active=True).values_list("version", "path").first()
    if key is None:
        return None
    version, path = key
    key = (version, path)
    if _cache.key == key and _cache.active is not None:
        return _cache.active
    with _cache.lock:
        if _cache.key != key or _cache.active is None:
            started = time.perf_counter()
            thresholds = (
                RoutingModel.objects.filter(version=version).values_list("thresholds", flat=True).first()
            )
            try:
                model = load_file(file_path(RoutingModel(version=version, path=path)))
            except Exception:  # a missing or broken file: route by rules only, and say so in the log
                logger.exception("routing model v%s (%s) could not be loaded", version, path)
                return None
            _cache.active = Active(version, model, dict(thresholds or {}))
            _cache.key = key
            logger.info("routing model v%s loaded in %.0f ms", version, (time.perf_counter() - started) * 1e3)
        return _cache.active


def invalidate() -> None:
    with _cache.lock:
        _cache.key, _cache.active = None, None


@contextmanager
def pinned(
    model: TextModel | None, *, version: int = 0, thresholds: dict[str, float | None] | None = None
) -> Iterator[None]:
    """Serves `model` as the active one without the database (tests and benchmarks); None: no model."""
    with _cache.lock:
        saved = (_cache.pinned, _cache.is_pinned)
        _cache.pinned = Active(version, model, dict(thresholds or {})) if model is not None else None
        _cache.is_pinned = True
    try:
        yield
    finally:
        with _cache.lock:
            _cache.pinned, _cache.is_pinned = saved


def next_version() -> int:
    return (RoutingModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1


def register(
    model: TextModel,
    *,
    data_size: int,
    corrections: int = 0,
    labels: list[str],
    scores: dict[str, Any],
    thresholds: dict[str, float | None],
    by: User | None = None,
    note: str = "",
    activate: bool = True,
) -> RoutingModel:
    """Saves the model file as the next version and records it (and activates it unless told not to)."""
    folder = conf.model_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with transaction.atomic():
        # The lock on the newest row serialises two trainings finishing at once.
        list(RoutingModel.objects.select_for_update().order_by("-version")[:1])
        version = next_version()
        name = f"routing-v{version:04d}.model"
        model.save(folder / name)
        row = RoutingModel.objects.create(
            version=version,
            path=name,
            trained_at=timezone.now(),
            data_size=data_size,
            corrections=corrections,
            labels=labels,
            scores=scores,
            thresholds=thresholds,
            trained_by=by if by is not None and by.pk else None,
            note=note[:200],
        )
        audit.record(by, "routing.train", row, after={"version": version, "data_size": data_size})
        if activate:
            _activate(row, by)
    return row


def _activate(row: RoutingModel, by: User | None) -> None:
    current = RoutingModel.objects.select_for_update().filter(is_active=True).first()
    if current is not None and current.pk == row.pk:
        return
    RoutingModel.objects.filter(is_active=True).update(is_active=False)
    row.is_active = True
    row.activated_at = timezone.now()
    row.save(update_fields=["is_active", "activated_at"])
    audit.record(
        by,
        "routing.activate",
        row,
        before={"version": current.version if current else None},
        after={"version": row.version},
    )
    transaction.on_commit(invalidate)


@transaction.atomic
def activate(version: int, *, by: User | None = None) -> RoutingModel:
    """Makes a registered version the active one (its file must still exist)."""
    row = RoutingModel.objects.select_for_update().filter(version=version).first()
    if row is None:
        raise NotFound(_("模型版本不存在"), details={"version": version})
    if not file_path(row).exists():
        raise InvalidTransition(_("该版本的模型文件已不存在"), details={"version": version})
    _activate(row, by)
    return row


@transaction.atomic
def rollback(*, by: User | None = None) -> RoutingModel:
    """Goes back to the newest version older than the active one whose file still exists."""
    current = RoutingModel.objects.select_for_update().filter(is_active=True).first()
    if current is None:
        raise InvalidTransition(_("当前没有启用的模型"))
    for row in RoutingModel.objects.filter(version__lt=current.version).order_by("-version"):
        if file_path(row).exists():
            _activate(row, by)
            return row
    raise InvalidTransition(_("没有可以回滚到的早先版本"), details={"version": current.version})


def deactivate(*, by: User | None = None) -> None:
    """No model at all: every case waits for a dispatcher (rules still suggest)."""
    with transaction.atomic():
        current = RoutingModel.objects.select_for_update().filter(is_active=True).first()
        if current is None:
            return
        RoutingModel.objects.filter(pk=current.pk).update(is_active=False)
        audit.record(by, "routing.deactivate", current, before={"version": current.version})
        transaction.on_commit(invalidate)
