"""Routing's periodic jobs, run by `civicgrid worker` (docs/worker.md, docs/routing-engine.md).

- routing.retrain: once a day, trains a new model version when enough new settled cases or
  dispatcher corrections exist since the last one (training.retrain_due); the first model of an
  installation is trained as soon as it has enough closed cases.
- routing.keywords: every minute, keywords for the cases filed since the last run.
"""

from __future__ import annotations

from civicgrid.core.jobs import periodic
from civicgrid.routing import keywords, training


@periodic("routing.retrain", every_seconds=24 * 3600, lease_seconds=3600)
def retrain() -> object:
    return training.retrain_if_due()


@periodic("routing.keywords", every_seconds=60, lease_seconds=600)
def fill_keywords() -> int:
    return keywords.fill()
