"""Routing settings, read from Django settings with defaults (each also an environment variable).

settings.py does not have to name them; an installation sets them there or in the environment:

- CIVICGRID_ROUTING_AUTO (on): dispatch at once when sure; off makes every case wait with suggestions.
- CIVICGRID_ROUTING_MIN_CONFIDENCE (0.8): the lowest score that may ever dispatch by itself, whatever
  threshold the model measured for the category.
- CIVICGRID_ROUTING_DEFAULT_THRESHOLD (0.9): the threshold for a model file that carries none.
- CIVICGRID_ROUTING_PRECISION (0.95): the precision the per-category thresholds are set for at training.
- CIVICGRID_ROUTING_AUTO_CHANNELS (all): channels whose cases the system may register and dispatch.
- CIVICGRID_ROUTING_MODEL_DIR (VAR_DIR/models): where model files go (never under MEDIA_ROOT).
- CIVICGRID_ROUTING_MIN_TRAINING (100): the fewest labelled cases to train a first model from.
- CIVICGRID_ROUTING_RETRAIN_MIN_NEW (50): new labelled cases or corrections that make a retrain due.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings

from civicgrid.cases.models import Channel


def _get(name: str, default: str) -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return str(value)


def _float(name: str, default: float) -> float:
    return float(_get(name, str(default)))


def _int(name: str, default: int) -> int:
    return int(_get(name, str(default)))


def auto_enabled() -> bool:
    return _get("CIVICGRID_ROUTING_AUTO", "on").strip().lower() not in {"0", "off", "false", "no"}


def min_confidence() -> float:
    return _float("CIVICGRID_ROUTING_MIN_CONFIDENCE", 0.8)


def default_threshold() -> float:
    return _float("CIVICGRID_ROUTING_DEFAULT_THRESHOLD", 0.9)


def target_precision() -> float:
    return _float("CIVICGRID_ROUTING_PRECISION", 0.95)


def auto_channels() -> frozenset[str]:
    value = getattr(settings, "CIVICGRID_ROUTING_AUTO_CHANNELS", None)
    if value is None:
        raw = os.environ.get("CIVICGRID_ROUTING_AUTO_CHANNELS", "")
        value = [v.strip() for v in raw.split(",") if v.strip()] or list(Channel.values)
    return frozenset(value)


def model_dir() -> Path:
    value = getattr(settings, "CIVICGRID_ROUTING_MODEL_DIR", None) or os.environ.get(
        "CIVICGRID_ROUTING_MODEL_DIR"
    )
    return Path(value) if value else Path(settings.VAR_DIR) / "models"


def min_training() -> int:
    return _int("CIVICGRID_ROUTING_MIN_TRAINING", 100)


def retrain_min_new() -> int:
    return _int("CIVICGRID_ROUTING_RETRAIN_MIN_NEW", 50)
