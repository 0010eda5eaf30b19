"""The routing decision (系统自动转): category from the text, place from the point or address, unit from
both, and whether the system dispatches at once or the case waits for a dispatcher with suggestions.

The order, as PRODUCT.md ("Routing") and docs/routing-engine.md describe it:

1. Category. A staff keyword rule that matches decides (score 1.0). Otherwise the active classifier's
   best category with its score. The filer's own choice counts as agreement when the decided category
   is the same or one of its 小类; a rule overrides the filer, the model does not.
2. Place: the point's grid or community; without a point, the address text (places.match_address);
   else the territory create_case gave the case.
3. Unit: unit rules by category and place (facilities owner first, events place first), then the
   category's default lead unit, then its 大类's.
4. Sure when a model is active, and a rule decided or the model's score reaches the category's
   threshold (measured at training for the target precision, never below the global minimum); and
   the filer agrees; and a valid unit was found; and the case is routable (received or registered,
   by a channel allowed to skip a person's registration). Sure: the system registers and dispatches
   it (actor "系统", the scores in the step). Otherwise the case waits for a dispatcher with the top
   three categories and the unit as suggestions.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from civicgrid.cases import rules as case_rules
from civicgrid.cases import transitions
from civicgrid.cases.models import Case, Category
from civicgrid.core import rows
from civicgrid.core.models import Unit, UnitKind
from civicgrid.routing import conf, places, registry, state
from civicgrid.routing import rules as routing_rules
from civicgrid.routing.models import RoutingSuggestion, Source

logger = logging.getLogger(__name__)

TOP = 3


def text_of(case: Case) -> str:
    """What the classifier reads: the description, which is what every channel has.

    Titles are left out: the demo's are the category names themselves and the report page's repeat
    the description's first line, so training on them would teach the model to read the answer.
    """
    return case.description or ""


def model_text(text: str) -> str:
    """The classifier's input for a case text: a message without a subject line (see text_of)."""
    from civicgrid.routing.classifier import message_text

    return message_text("", text)


@dataclass
class Scored:
    category: Category
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category.code, "name": str(self.category), "score": round(self.score, 4)}


@dataclass
class Decision:
    scores: list[Scored] = field(default_factory=list)
    category: Category | None = None
    confidence: float = 0.0
    threshold: float | None = None
    source: str = Source.NONE
    rule_id: int | None = None
    place: Unit | None = None
    place_method: str = ""
    lead_unit: Unit | None = None
    unit_reason: str = ""
    automatic: bool = False
    wait_reason: str = ""
    model_version: int | None = None

    def scores_json(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.scores]


class _Categories:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: Any = None
        self.by_code: dict[str, Category] = {}
        self.by_id: dict[int, Category] = {}


_categories = _Categories()


def categories(key: Any) -> tuple[dict[str, Category], dict[int, Category]]:
    """Every category by code and by id, with its parent, kept per process until the table changes."""
    if _categories.key != key:
        with _categories.lock:
            every = list(Category.objects.select_related("parent"))
            _categories.by_code = {c.code: c for c in every}
            _categories.by_id = {c.pk: c for c in every}
            _categories.key = key
    return _categories.by_code, _categories.by_id


def reset() -> None:
    with _categories.lock:
        _categories.key, _categories.by_code, _categories.by_id = None, {}, {}


def threshold_for(active: registry.Active, label: str) -> float | None:
    """The score that label needs to dispatch by itself; None when the model may never do so.

    A model trained with thresholds has one per label that reached the target precision in cross-
    validation; a label missing from them (or None) never reached it. A model without any falls back to
    the default. Either way the global minimum is the floor.
    """
    if active.thresholds:
        value = active.thresholds.get(label)
        if value is None:
            return None
        return max(float(value), conf.min_confidence())
    return max(conf.default_threshold(), conf.min_confidence())


def _agrees(filed: Category | None, decided: Category | None) -> bool:
    if filed is None or decided is None:
        return True
    return decided.pk == filed.pk or decided.parent_id == filed.pk


def _valid_target(case: Case, unit: Unit) -> str:
    """Why the system may not dispatch to this unit ("" when it may): the dispatcher's own limits."""
    if unit.kind not in case_rules.DISPATCH_TARGET_KINDS or not unit.is_active:
        return "建议的主办单位不能直接派遣"
    if unit.kind == UnitKind.DEPARTMENT:
        return ""
    within = case.subdistrict.path if case.subdistrict_id and case.subdistrict else case.territory_path
    if not within or not unit.path.startswith(within):
        return "建议的主办单位不在本辖区"
    return ""


def routable(case: Case) -> str:
    """Why the system may not dispatch this case whatever it decides ("" when it may)."""
    if not conf.auto_enabled():
        return "自动派遣已关闭"
    if case.status not in transitions.AUTO_DISPATCHABLE:
        return "当前状态不自动派遣"
    if case.channel not in conf.auto_channels():
        return "该渠道的工单须人工受理"
    return ""


def decide(case: Case) -> Decision:
    """What routing makes of the case; reads, writes nothing."""
    d = Decision()
    text = text_of(case)
    now = state.current()
    active = registry.active(now.model)
    by_code, by_id = categories(now.categories)
    predicted: list[tuple[str, float]] = []
    if active is not None:
        d.model_version = active.version
        predicted = list(active.model.predict_proba([model_text(text)])[0][: TOP + 2])
    scored = [
        Scored(by_code[label], float(score))
        for label, score in predicted
        if label in by_code and by_code[label].is_active
    ]
    rule = routing_rules.match_rule(text, routing_rules.keyword_rules(now.keyword_rules))
    rule_category = by_id.get(rule.category_id) if rule is not None else None
    if rule is not None and rule_category is not None and rule_category.is_active:
        d.category, d.confidence, d.source, d.rule_id = rule_category, 1.0, Source.RULE, rule.id
        others = [s for s in scored if s.category.pk != rule_category.pk]
        d.scores = [Scored(rule_category, 1.0), *others][:TOP]
    elif scored:
        best = scored[0]
        d.category, d.confidence, d.source = best.category, best.score, Source.MODEL
        d.threshold = threshold_for(active, best.category.code) if active is not None else None
        d.scores = scored[:TOP]
    elif case.category_id is not None:
        d.category, d.source = by_id.get(case.category_id, case.category), Source.FILER
    filed = by_id.get(case.category_id, case.category) if case.category_id else None
    agree = _agrees(filed, d.category)

    place = places.place_of(case)
    d.place, d.place_method = place.unit, place.method
    unit_category = d.category if (agree or d.source == Source.RULE) else filed
    choice = routing_rules.choose_unit(unit_category, place.unit, rules_key=now.unit_rules)
    d.lead_unit, d.unit_reason = choice.unit, choice.reason

    d.wait_reason = _wait_reason(case, d, active, agree)
    d.automatic = not d.wait_reason
    return d


def _wait_reason(case: Case, d: Decision, active: registry.Active | None, agree: bool) -> str:
    if active is None:
        return "尚无分类模型，由人工派遣"
    if d.category is None:
        return "无法判断分类"
    if d.source == Source.MODEL:
        if d.threshold is None:
            return "该分类的模型准确率不足以自动派遣"
        if d.confidence < d.threshold:
            return f"置信度 {d.confidence:.3f} 低于阈值 {d.threshold:.3f}"  # 0.996 < 0.998, not 1.00 < 1.00
        if not agree:
            return "与提交人所选分类不一致"
    elif d.source != Source.RULE:
        return "无法判断分类"
    if d.lead_unit is None:
        return d.unit_reason or "没有找到主办单位"
    invalid = _valid_target(case, d.lead_unit)
    if invalid:
        return invalid
    return routable(case)


def _store(case: Case, d: Decision, elapsed_ms: float, *, new: bool) -> RoutingSuggestion:
    values = {
        "created_at": timezone.now(),
        "model_version": d.model_version,
        "source": d.source,
        "rule_id": d.rule_id,
        "scores": d.scores_json(),
        "category": d.category,
        "confidence": round(d.confidence, 4),
        "threshold": d.threshold,
        "place": d.place,
        "place_method": d.place_method,
        "lead_unit": d.lead_unit,
        "unit_reason": d.unit_reason[:100],
        "decided_automatically": d.automatic,
        "wait_reason": d.wait_reason[:100],
        "duration_ms": round(elapsed_ms, 3),
    }
    if new:  # every filing writes one: a statement built once (core.rows)
        return rows.insert(RoutingSuggestion(case=case, **values))
    suggestion, _ = RoutingSuggestion.objects.update_or_create(case=case, defaults=values)
    return suggestion


def route(case: Case, *, new: bool = True) -> RoutingSuggestion:
    """Decides, stores the suggestion and, when sure, has the system register and dispatch the case.

    Runs inside the transaction that filed the case (the intake hook: `new`), so a case is never seen
    half-routed; `new=False` re-routes a case that was filed earlier (and locks it to dispatch it).
    """
    from civicgrid.cases.actions.routing import auto_dispatch

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("route() runs inside the transaction that filed or locked the case")
    started = time.perf_counter()
    d = decide(case)
    suggestion = _store(case, d, (time.perf_counter() - started) * 1e3, new=new)
    if d.automatic and d.lead_unit is not None and d.category is not None:
        auto_dispatch(
            case,
            lead_unit=d.lead_unit,
            category=d.category,
            scores=d.scores_json(),
            confidence=d.confidence,
            threshold=d.threshold,
            source=d.source,
            model_version=d.model_version,
            rule_id=d.rule_id,
            fresh=new,
        )
    return suggestion
