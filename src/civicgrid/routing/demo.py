"""Routing for the demo: a few staff rules to show how they work, and a first model from the history.

`setup()` is idempotent and quick (the demo's ~4,000 closed cases train in a few seconds). The demo's
texts are two templates per category, so its model is surer than a real installation's would be.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from civicgrid.cases.models import Category
from civicgrid.routing import training
from civicgrid.routing.models import KeywordRule, LeadPlace, RoutingModel, UnitRule

logger = logging.getLogger(__name__)

# (phrase, category code, priority, note)
KEYWORD_RULES = [
    ("燃气", "0703", 10, "演示：闻到燃气味一律按燃气泄漏处理，最快派遣"),
    ("井盖", "0202", 5, "演示：井盖问题直接派市政"),
]
# (category code, lead place, note): events a community settles itself (PRODUCT.md: 事件 place first).
UNIT_RULES = [
    ("0901", LeadPlace.COMMUNITY, "演示：邻里矛盾由属地社区调解"),
    ("1003", LeadPlace.COMMUNITY, "演示：独居老人关爱由属地社区负责"),
]


def seed_rules() -> int:
    """The demo's rules, once (a rule already there, by phrase or category, is left as it is)."""
    made = 0
    categories = {
        c.code: c
        for c in Category.objects.filter(code__in=[r[1] for r in KEYWORD_RULES] + [r[0] for r in UNIT_RULES])
    }
    with transaction.atomic():
        for phrase, code, priority, note in KEYWORD_RULES:
            if code in categories and not KeywordRule.objects.filter(phrase=phrase).exists():
                KeywordRule.objects.create(
                    phrase=phrase, category=categories[code], priority=priority, note=note
                )
                made += 1
        for code, place, note in UNIT_RULES:
            if code in categories and not UnitRule.objects.filter(category=categories[code]).exists():
                UnitRule.objects.create(category=categories[code], lead_place=place, note=note)
                made += 1
    return made


def setup(*, train: bool = True) -> dict[str, Any]:
    """Seeds the demo's rules and trains the first model when there is none and the history allows."""
    report: dict[str, Any] = {"rules": seed_rules(), "model": None}
    if train and not RoutingModel.objects.exists():
        try:
            row = training.train_from_cases(note="演示：用一年的演示工单训练")
        except training.NotEnoughData as exc:
            logger.info("demo routing model not trained: %s", exc.details)
        else:
            report["model"] = row.version
            report["data_size"] = row.data_size
    return report
