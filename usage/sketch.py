"""Latency percentiles from mergeable log-bucketed histograms (the DDSketch idea).

A latency x >= 1 ms falls in bucket i = ceil(log_gamma(x)), the interval (gamma^(i-1), gamma^i],
with gamma = (1 + ALPHA) / (1 - ALPHA); a latency of 0 ms has its own bucket, -1. A bucket is
represented by 2 * gamma^i / (gamma + 1), which is within ALPHA (relative) of every value in the
bucket. Histograms merge by adding counts, so the rollup folds new events into a stored row
without reading the old events again, and a window's percentile is read from the sum of its days.

The estimate of a nearest-rank percentile (the k-th smallest latency, k = ceil(n * p / 100)) is
the representative of the bucket holding that k-th latency: it is within ALPHA of the exact
percentile, plus at most 0.5 ms from rounding to whole milliseconds.
"""

import math

ALPHA = 0.02  # the stated relative error: 2 %
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LN_GAMMA = math.log(GAMMA)
ZERO_BUCKET = -1

Histogram = dict[int, int]


def bucket_of(latency_ms: int) -> int:
    if latency_ms <= 0:
        return ZERO_BUCKET
    return math.ceil(math.log(latency_ms) / LN_GAMMA)


def value_of(bucket: int) -> int:
    """The bucket's representative latency, in whole milliseconds."""
    if bucket == ZERO_BUCKET:
        return 0
    return round(2 * GAMMA**bucket / (GAMMA + 1))


def merge(*histograms: dict) -> Histogram:
    """Sum of histograms; keys may be text (as stored in JSON) or integers."""
    total: Histogram = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            key = int(bucket)
            total[key] = total.get(key, 0) + int(count)
    return total


def quantile(histogram: dict, percent: int) -> int:
    """Nearest-rank percentile estimate (0 for an empty histogram)."""
    return quantiles(histogram, (percent,))[0]


def quantiles(histogram: dict, percents: tuple[int, ...]) -> tuple[int, ...]:
    """Nearest-rank estimates of several percentiles, in one pass over the sorted buckets."""
    counts = merge(histogram)
    n = sum(counts.values())
    if not n:
        return tuple(0 for _ in percents)
    ranks = [-(-n * percent // 100) for percent in percents]  # ceil, in integers
    found: dict[int, int] = {}
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        for rank in ranks:
            if rank not in found and seen >= rank:
                found[rank] = value_of(bucket)
        if len(found) == len(set(ranks)):
            return tuple(found[rank] for rank in ranks)
    raise AssertionError("unreachable: the ranks add up to n")


def bucket_sql(column: str) -> str:
    """SQL for bucket_of(column), the same on PostgreSQL and SQLite (Django provides LN there).

    Floating-point rounding can put a value lying exactly on a bucket edge into the neighbour
    bucket; both representatives are within ALPHA of it, so the bound holds either way.
    """
    return (
        f"CASE WHEN {column} <= 0 THEN {ZERO_BUCKET} "
        f"ELSE CAST(CEILING(LN({column}) / {LN_GAMMA!r}) AS INTEGER) END"
    )


def value_sql(bucket: str) -> str:
    """SQL for value_of(bucket)."""
    return (
        f"CASE WHEN {bucket} IS NULL OR {bucket} = {ZERO_BUCKET} THEN 0 "
        f"ELSE CAST(ROUND(2 * EXP({bucket} * {LN_GAMMA!r}) / {GAMMA + 1!r}) AS INTEGER) END"
    )
