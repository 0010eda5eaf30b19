"""Near-duplicates: open cases of the same category, close in place and time, with similar text.

Candidates come from the database (same category, open, filed in the last 14 days, inside a box around
the point, one indexed query); Python then measures the great-circle distance (≤ 300 m) and the
cosine of character 1–2-gram counts of the two texts. Chinese has no spaces, and residents write the
same thing in different words ("垃圾桶满了没人清运" / "垃圾没人收"), so characters and their pairs
match better than words here. With text to compare, a candidate must be at least
SIMILARITY_MIN alike; without (the report page asks before the resident has written much), place and
time alone decide. The score ranks the candidates: mostly text, then nearness, then recency.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from civicgrid.cases.models import OPEN_STATUSES, Case, Category
from civicgrid.core import geo

RADIUS_M = 300
DAYS = 14
SIMILARITY_MIN = 0.3
CANDIDATES = 200
_DEG_PER_M = 1 / 110_574.0
# Punctuation, spaces, digits and Latin letters say little about what a complaint is about.
_NOISE = re.compile(r"[\W\d_a-zA-Z]+", re.UNICODE)
# Words every complaint uses: counting their characters would make any two complaints look alike.
_COMMON = re.compile("社区|小区|网格|街道|反映|问题|希望|请|尽快|处理|解决|没有|已经|演示")


@dataclass(frozen=True)
class Duplicate:
    case: Case
    distance_m: float
    similarity: float  # text cosine in [0, 1]; 0 when there was no text to compare
    score: float


def grams(text: str) -> Counter[str]:
    """Character unigrams and bigrams of the text's Chinese (and other word) characters."""
    cleaned = _NOISE.sub(" ", _COMMON.sub(" ", text or ""))
    counts: Counter[str] = Counter()
    for run in cleaned.split():
        counts.update(run)
        counts.update(run[i : i + 2] for i in range(len(run) - 1))
    return counts


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(n * b.get(g, 0) for g, n in a.items())
    if not dot:
        return 0.0
    return dot / (math.sqrt(sum(n * n for n in a.values())) * math.sqrt(sum(n * n for n in b.values())))


def _text(case: Case) -> str:
    title = case.title if case.title and case.title not in case.description else ""
    return f"{title} {case.description}"


def candidates(
    category: Category, lat: float, lng: float, *, around: datetime, exclude: Iterable[int] = ()
) -> QuerySet[Case]:
    """Open cases of the category in a box around the point, filed within DAYS of `around`."""
    d_lat = RADIUS_M * _DEG_PER_M
    d_lng = d_lat / max(math.cos(math.radians(lat)), 0.01)
    window = timedelta(days=DAYS)
    return (
        Case.objects.filter(
            category=category,
            created_at__range=(around - window, around + window),
            status__in=OPEN_STATUSES,
            lat__range=(lat - d_lat, lat + d_lat),
            lng__range=(lng - d_lng, lng + d_lng),
        )
        .exclude(pk__in=list(exclude))
        .select_related("category", "lead_unit")
        .order_by("-created_at")
    )


def find(
    category: Category | None,
    lat: float | None,
    lng: float | None,
    text: str = "",
    *,
    limit: int = 5,
    exclude: Iterable[int] = (),
    within: QuerySet[Case] | None = None,
    around: datetime | None = None,
) -> list[Duplicate]:
    """Open cases that are probably the same thing, best first; `within` narrows to a user's scope.

    `around` is when the thing was reported (now for a report being written).
    """
    if category is None or lat is None or lng is None:
        return []
    around = around or timezone.now()
    rows = candidates(category, lat, lng, around=around, exclude=exclude)
    if within is not None:
        rows = rows.filter(pk__in=within.values("pk"))
    mine = grams(text)
    found = []
    for case in rows[:CANDIDATES]:
        if case.lat is None or case.lng is None:
            continue
        distance = geo.haversine_m(lat, lng, case.lat, case.lng)
        if distance > RADIUS_M:
            continue
        similarity = cosine(mine, grams(_text(case))) if mine else 0.0
        if mine and similarity < SIMILARITY_MIN:
            continue
        nearness = 1 - distance / RADIUS_M
        age = abs((around - case.created_at).total_seconds()) / timedelta(days=DAYS).total_seconds()
        recency = max(0.0, 1 - age)
        score = (
            0.6 * similarity + 0.3 * nearness + 0.1 * recency if mine else 0.75 * nearness + 0.25 * recency
        )
        found.append(Duplicate(case, distance, round(similarity, 3), round(score, 3)))
    found.sort(key=lambda d: (-d.score, d.distance_m))
    return found[:limit]


def similar_open_cases(
    category: Category | None, lat: float | None, lng: float | None, text: str = "", limit: int = 5
) -> list[Duplicate]:
    """The signature intake.queries.similar_open_cases keeps: what the report page shows the resident."""
    return find(category, lat, lng, text, limit=limit)


def of_case(case: Case, *, within: QuerySet[Case] | None = None, limit: int = 5) -> list[Duplicate]:
    """Duplicates of a filed case (itself and cases merged into it left out), for the dispatcher."""
    return find(
        case.category,
        case.lat,
        case.lng,
        _text(case),
        limit=limit,
        exclude=[case.pk],
        within=within,
        around=case.created_at,
    )
