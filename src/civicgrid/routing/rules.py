"""Staff rules: keyword rules (phrase → category, overriding the model) and unit rules (→ lead unit).

Both tables are small and read on every case, so each process keeps them in memory and re-reads them
when their fingerprint (row count and last change) moves: one aggregate query per table per case.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, Max
from django.utils import timezone

from civicgrid.cases.models import Case, Category, CategoryNature, Status
from civicgrid.core.models import Unit, UnitKind, path_ids
from civicgrid.core.queries import units_by_id
from civicgrid.routing.models import KeywordRule, LeadPlace, UnitRule

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower case, full-width spaces and line breaks folded, so a phrase matches however it was typed."""
    return _SPACE.sub(" ", (text or "").replace("\u3000", " ")).strip().lower()


# --- keyword rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledRule:
    id: int
    words: tuple[str, ...]
    category_id: int
    priority: int

    @property
    def length(self) -> int:
        return sum(len(w) for w in self.words)

    def matches(self, text: str) -> bool:
        return bool(self.words) and all(w in text for w in self.words)


def compile_rule(phrase: str, category_id: int, priority: int = 0, rule_id: int = 0) -> CompiledRule:
    return CompiledRule(
        rule_id, tuple(normalise(w) for w in phrase.split() if w.strip()), category_id, priority
    )


class _Table:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: Any = None
        self.rows: list[Any] = []


_keyword_rules = _Table()
_unit_rules = _Table()


def _fingerprint(model: type[KeywordRule] | type[UnitRule]) -> tuple[Any, ...]:
    row = model.objects.aggregate(n=Count("id"), last=Max("updated_at"))
    return (row["n"], row["last"])


def keyword_rules(key: Any = None) -> list[CompiledRule]:
    """Active keyword rules in the order they are tried: priority, then the longer phrase.

    `key` is the table's fingerprint when the caller has read it already (routing.state).
    """
    key = key if key is not None else ("orm", *_fingerprint(KeywordRule))
    if _keyword_rules.key != key:
        with _keyword_rules.lock:
            rows = KeywordRule.objects.filter(is_active=True).values_list(
                "id", "phrase", "category_id", "priority"
            )
            compiled = [compile_rule(phrase, cat, prio, pk) for pk, phrase, cat, prio in rows]
            _keyword_rules.rows = sorted(compiled, key=lambda r: (-r.priority, -r.length, r.id))
            _keyword_rules.key = key
    return _keyword_rules.rows


def match_rule(text: str, rules: list[CompiledRule] | None = None) -> CompiledRule | None:
    """The first rule (highest priority, then longest phrase) whose words all occur in the text."""
    text = normalise(text)
    for rule in keyword_rules() if rules is None else rules:
        if rule.matches(text):
            return rule
    return None


@dataclass
class DryRun:
    """What saving a rule would do to past cases."""

    matched: int  # past cases whose text contains the phrase
    changed: int  # of those, cases that would get another category than they ended with
    already: int  # cases that already have the rule's category
    shadowed: int  # matched, but an existing rule of higher priority wins there
    examples: list[dict[str, Any]]
    days: int
    scanned_limit_hit: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "changed": self.changed,
            "already": self.already,
            "shadowed": self.shadowed,
            "examples": self.examples,
            "days": self.days,
            "limit_hit": self.scanned_limit_hit,
        }

    def summary(self) -> str:
        return (
            f"近 {self.days} 天的工单中有 {self.matched} 件含该关键词；其中 {self.changed} 件将改变分类，"
            f"{self.already} 件已是该分类，{self.shadowed} 件由优先级更高的规则决定"
        )


DRY_RUN_DAYS = 365
DRY_RUN_LIMIT = 50_000


def dry_run(
    phrase: str,
    category: Category,
    *,
    priority: int = 0,
    exclude_rule: int | None = None,
    days: int = DRY_RUN_DAYS,
    examples: int = 10,
) -> DryRun:
    """Tests a rule on past cases: how many it matches and how many would change category.

    The database narrows to cases whose description holds every word (a LIKE per word) in the last
    `days`; Python then applies the other rules as routing would, so a case that a higher-priority
    rule already decides is counted as shadowed, not changed. Rejected and merged cases are left out.
    """
    # Saved, the rule gets the largest id: it loses ties with the rules that exist now.
    rule = compile_rule(phrase, category.pk, priority, exclude_rule or 2**62)
    if not rule.words:
        return DryRun(0, 0, 0, 0, [], days)
    since = timezone.now() - timedelta(days=days)
    cases = Case.objects.filter(created_at__gte=since, category__isnull=False).exclude(
        status__in=[Status.REJECTED, Status.MERGED]
    )
    for word in rule.words:
        cases = cases.filter(description__icontains=word)
    rows = list(
        cases.order_by("-created_at").values_list("number", "description", "category_id")[: DRY_RUN_LIMIT + 1]
    )
    limit_hit = len(rows) > DRY_RUN_LIMIT
    rows = rows[:DRY_RUN_LIMIT]
    others = [r for r in keyword_rules() if r.id != exclude_rule]
    ordered = sorted([*others, rule], key=lambda r: (-r.priority, -r.length, r.id))
    matched = changed = already = shadowed = 0
    sample: list[dict[str, Any]] = []
    names = dict(Category.objects.values_list("id", "name"))
    for number, description, category_id in rows:
        text = normalise(description)
        if not rule.matches(text):
            continue  # icontains folds case differently on some databases; the rule's own test decides
        matched += 1
        winner = match_rule(text, ordered)
        if winner is not rule:
            shadowed += 1
        elif category_id == category.pk:
            already += 1
        else:
            changed += 1
            if len(sample) < examples:
                sample.append(
                    {
                        "number": number,
                        "from": names.get(category_id, ""),
                        "to": category.name,
                        "text": description[:80],
                    }
                )
    return DryRun(matched, changed, already, shadowed, sample, days, limit_hit)


# --- unit rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledUnitRule:
    id: int
    category_id: int
    territory_path: str  # "" for everywhere
    territory_depth: int  # -1 for everywhere
    lead_unit_id: int | None
    lead_place: str
    priority: int


def unit_rules(key: Any = None) -> list[CompiledUnitRule]:
    key = key if key is not None else ("orm", *_fingerprint(UnitRule))
    if _unit_rules.key != key:
        with _unit_rules.lock:
            rows = UnitRule.objects.filter(is_active=True).values_list(
                "id",
                "category_id",
                "territory__path",
                "territory__depth",
                "lead_unit_id",
                "lead_place",
                "priority",
            )
            _unit_rules.rows = [
                CompiledUnitRule(pk, cat, path or "", depth if path else -1, lead, place, prio)
                for pk, cat, path, depth, lead, place, prio in rows
            ]
            _unit_rules.key = key
    return _unit_rules.rows


@dataclass(frozen=True)
class UnitChoice:
    unit: Unit | None
    reason: str
    rule_id: int | None = None


def _place_unit(place: Unit | None, kind: str) -> Unit | None:
    """The case's own community or grid (from the place's path), for rules that say "the place"."""
    if place is None:
        return None
    if place.kind == kind:
        return place
    found = [u for u in _active_units(path_ids(place.path)).values() if u.kind == kind]
    return max(found, key=lambda u: u.depth, default=None)


def _active_units(ids: list[int]) -> dict[int, Unit]:
    # Read now, not from a cache: a unit switched off must stop receiving cases at once.
    return {pk: unit for pk, unit in units_by_id(ids).items() if unit.is_active}


def choose_unit(category: Category | None, place: Unit | None, *, rules_key: Any = None) -> UnitChoice:
    """The lead unit for a category at a place: unit rules, else the category's default, else its 大类's.

    Facilities (部件) are owned: the most specific category wins first, then the most specific place.
    Events (事件) belong to a place: the most specific place wins first, then the category.
    """
    if category is None:
        return UnitChoice(None, "未确定分类")
    chain = [category.pk] + ([category.parent_id] if category.parent_id else [])
    path = place.path if place is not None else ""
    candidates = []
    for rule in unit_rules(rules_key):
        if rule.category_id not in chain:
            continue
        if rule.territory_path and not path.startswith(rule.territory_path):
            continue
        category_level = 2 if rule.category_id == category.pk else 1
        place_level = rule.territory_depth
        if category.nature == CategoryNature.FACILITY:
            key = (category_level, place_level, rule.priority, -rule.id)
        else:
            key = (place_level, category_level, rule.priority, -rule.id)
        candidates.append((key, rule))
    for _, rule in sorted(candidates, key=lambda c: c[0], reverse=True):
        if rule.lead_unit_id is not None:
            unit = _active_units([rule.lead_unit_id]).get(rule.lead_unit_id)
        else:
            kind = UnitKind.GRID if rule.lead_place == LeadPlace.GRID else UnitKind.COMMUNITY
            unit = _place_unit(place, kind)
        if unit is not None:
            return UnitChoice(unit, f"派遣规则 #{rule.id}", rule.id)
    parent = category.parent if category.parent_id else None
    defaults = [
        (category.default_lead_unit_id, "分类默认主办单位"),
        (parent.default_lead_unit_id if parent is not None else None, "大类默认主办单位"),
    ]
    wanted = [pk for pk, _ in defaults if pk]
    if wanted:
        units = _active_units(wanted)
        for pk, reason in defaults:
            if pk in units:
                return UnitChoice(units[pk], reason)
    return UnitChoice(None, "没有适用的派遣规则或默认主办单位")


def reset() -> None:
    for table in (_keyword_rules, _unit_rules):
        with table.lock:
            table.key, table.rows = None, []
