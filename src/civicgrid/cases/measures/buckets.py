"""Handling-time histogram: 40 fixed logarithmic buckets, and the percentile read from them.

Bucket 0 holds [0, 15 min); bucket k (1 … 38) holds [15 min · 2^((k−1)/3), 15 min · 2^(k/3)), three
buckets per doubling; bucket 39 holds everything from 15 min · 2^(38/3) ≈ 67.7 days on. Fixed bounds
make the histograms of days and units add up column by column, so a percentile over any period and
any unit is read from one SUM per column (docs/measures.md, "Handling time").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from civicgrid.cases.measure_models import HISTOGRAM_BUCKETS

BASE_SECONDS = 900.0
PER_DOUBLING = 3
LAST = HISTOGRAM_BUCKETS - 1


def lower(k: int) -> float:
    return 0.0 if k == 0 else BASE_SECONDS * 2 ** ((k - 1) / PER_DOUBLING)


def upper(k: int) -> float:
    return math.inf if k == LAST else BASE_SECONDS * 2 ** (k / PER_DOUBLING)


def bucket(seconds: float) -> int:
    """The bucket a handling time falls in (negative times, a clock mishap, count as 0)."""
    if seconds < BASE_SECONDS:
        return 0
    k = math.floor(PER_DOUBLING * math.log2(seconds / BASE_SECONDS)) + 1
    # Guard the float at an exact bound: the bucket must satisfy lower(k) <= seconds < upper(k).
    while k > 1 and seconds < lower(k):
        k -= 1
    while k < LAST and seconds >= upper(k):
        k += 1
    return min(k, LAST)


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """The q-quantile (0 < q ≤ 1, nearest rank) estimated from the histogram, in seconds.

    The exact nearest-rank value lies in the bucket found; within it the estimate is interpolated
    (linearly in bucket 0, geometrically above), so it is off by less than the bucket's width (a
    factor 2^(1/3) ≈ 1.26) and usually by a few percent. The last bucket has no upper end: a
    quantile in it is its lower bound, "at least ~67.7 days". None for an empty histogram.
    """
    n = sum(histogram)
    if n == 0:
        return None
    target = max(1, math.ceil(q * n))
    seen = 0
    for k, count in enumerate(histogram):
        if count and seen + count >= target:
            fraction = (target - seen - 0.5) / count
            lo, hi = lower(k), upper(k)
            if k == 0:
                return lo + (hi - lo) * fraction
            if k == LAST:
                return lo
            return lo * (hi / lo) ** fraction
        seen += count
    return None  # unreachable: the counts add up to n
