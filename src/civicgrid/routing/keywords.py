"""A few keywords per case (jieba TF-IDF) for the analysis pages (hotspots, the month's top issue).

jieba takes about a second to load its dictionary, so keywords are not computed while a resident
waits: the worker's `routing.keywords` job fills CaseKeywords for new cases every minute. Place names
(the units' own names) and a small list of words that every complaint uses are left out, so what
remains says what the case is about.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max, QuerySet

from civicgrid.cases.models import Case, Category
from civicgrid.routing import places
from civicgrid.routing.models import CaseKeywords

logger = logging.getLogger(__name__)

TOP_K = 5
BATCH = 500
# Cases committed out of id order (concurrent filings) are caught by looking back this many ids.
LOOKBACK_IDS = 2000

# Words nearly every case uses, and the places and people around them; none says what the case is about.
# fmt: off
STOP_WORDS = frozenset(
    [
        "社区", "小区", "街道", "网格", "村", "楼", "号楼", "单元", "门口", "附近", "旁边",
        "对面", "周边", "路口", "这里", "那里", "地方", "位置", "反映", "问题", "情况", "群众",
        "居民", "市民", "业主", "本人", "我们", "他们", "大家", "有人", "希望", "请求", "要求",
        "建议", "麻烦", "尽快", "及时", "相关", "部门", "单位", "处理", "解决", "整改", "协调",
        "核实", "帮助", "需要", "没有", "已经", "现在", "今天", "昨天", "晚上", "早上", "白天",
        "每天", "一直", "经常", "多次", "时间", "一天", "三天", "一周", "半个", "个月", "影响",
        "严重", "非常", "特别", "比较", "很大", "不能", "无法", "不到", "不了", "一下", "进行",
        "存在", "出现", "发现", "造成", "导致", "演示",
    ]
)
# fmt: on


class _Jieba:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.analyse: Any = None
        self.words_key: Any = None


_jieba = _Jieba()


def _analyse() -> Any:
    """jieba.analyse, loaded once per process, with the categories' names as words of their own."""
    with _jieba.lock:
        if _jieba.analyse is None:
            import jieba
            import jieba.analyse

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba.analyse = jieba.analyse
        names = list(Category.objects.filter(is_active=True).values_list("name", flat=True))
        key = hash(tuple(names))
        if key != _jieba.words_key:
            import jieba

            for name in names:
                if len(name) >= 2:
                    jieba.add_word(name, freq=2000)
            _jieba.words_key = key
        return _jieba.analyse


def _place_words() -> set[str]:
    return {e.name for e in places.names()}


def extract(text: str, *, top_k: int = TOP_K, exclude: Iterable[str] = ()) -> list[str]:
    """The text's top keywords, best first, without stop words, numbers, single characters or places."""
    analyse = _analyse()
    excluded = set(exclude)
    words = []
    for word in analyse.extract_tags(text or "", topK=top_k * 4):
        word = word.strip()
        if len(word) < 2 or word in STOP_WORDS or word in excluded or word.isdigit():
            continue
        if any(ch.isdigit() for ch in word) and len(word) <= 3:
            continue  # 3号, 2栋 …
        words.append(word)
        if len(words) >= top_k:
            break
    return words


def _text(case: Case) -> str:
    title = case.title if case.title and case.title not in case.description else ""
    return f"{title} {case.description}".strip()


def store(cases: Iterable[Case]) -> int:
    """Writes keywords for the cases (replacing what was there); returns how many were written."""
    exclude = _place_words()
    rows = [
        CaseKeywords(
            case=case,
            words=extract(_text(case), exclude=exclude),
            case_created_at=case.created_at,
            territory_path=case.territory_path,
            category_id=case.category_id,
        )
        for case in cases
    ]
    with transaction.atomic():
        CaseKeywords.objects.filter(case__in=[r.case for r in rows]).delete()
        CaseKeywords.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)


def pending(limit: int = BATCH) -> list[Case]:
    """Cases without keywords yet: above the last one done (with a look-back for late commits)."""
    last = CaseKeywords.objects.aggregate(m=Max("case_id"))["m"] or 0
    start = max(0, last - LOOKBACK_IDS)
    done = CaseKeywords.objects.filter(case_id__gt=start).values("case_id")
    return list(
        Case.objects.filter(pk__gt=start)
        .exclude(pk__in=done)
        .order_by("pk")
        .only("id", "title", "description", "created_at", "territory_path", "category_id")[:limit]
    )


def fill(max_batches: int = 20) -> int:
    """The job's work: keywords for up to max_batches × BATCH new cases; returns how many."""
    total = 0
    for _ in range(max_batches):
        batch = pending()
        if not batch:
            break
        total += store(batch)
    return total


def top_keywords(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    territory_path: str = "",
    category: Category | None = None,
    limit: int = 20,
) -> list[tuple[str, int]]:
    """The commonest keywords of the cases filed in a period and place (for the analysis pages)."""
    rows: QuerySet[CaseKeywords] = CaseKeywords.objects.all()
    if since is not None:
        rows = rows.filter(case_created_at__gte=since)
    if until is not None:
        rows = rows.filter(case_created_at__lt=until)
    if territory_path:
        rows = rows.filter(territory_path__startswith=territory_path)
    if category is not None:
        rows = rows.filter(category=category)
    counts: Counter[str] = Counter()
    for words in rows.values_list("words", flat=True).iterator(chunk_size=5000):
        counts.update(set(words or []))
    return counts.most_common(limit)


def for_case(case: Case) -> list[str]:
    row = CaseKeywords.objects.filter(case=case).values_list("words", flat=True).first()
    return list(row or [])
