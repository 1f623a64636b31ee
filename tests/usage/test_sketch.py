"""The latency sketch: hand-computed buckets, merges that add, and the stated error bound."""

import random

import pytest

from usage import sketch

# gamma = 1.02 / 0.98 = 1.0408163..., ln(gamma) = 0.0400053...


@pytest.mark.parametrize(
    ("latency", "bucket", "read_as"),
    [
        (0, -1, 0),  # zero has its own bucket
        (1, 0, 1),  # ln 1 = 0; 2 * 1 / 2.0408 = 0.98 -> 1
        (2, 18, 2),  # ln 2 / 0.0400053 = 17.33 -> 18; 2 * e^(18 * 0.0400053) / 2.0408 = 2.01
        (100, 116, 102),  # 115.11 -> 116; 2 * 103.62 / 2.0408 = 101.5 -> 102
        (1000, 173, 993),  # 172.67 -> 173; 2 * 1013.25 / 2.0408 = 993.0
        # The largest latency accepted: 377.36 -> 378; 2 * 3.6934e6 / 2.0408 = 3.6194e6 (+0.5 %)
        (3_600_000, 378, 3_619_382),
    ],
)
def test_buckets_and_representatives_by_hand(latency, bucket, read_as):
    assert sketch.bucket_of(latency) == bucket
    assert sketch.value_of(bucket) == read_as


def test_every_accepted_latency_reads_back_within_the_stated_error():
    for latency in [*range(0, 20_000), *range(20_000, 3_600_001, 997)]:
        read = sketch.value_of(sketch.bucket_of(latency))
        assert abs(read - latency) <= sketch.ALPHA * latency + 0.5, latency


def test_merge_adds_counts_whatever_the_key_type():
    stored = {"173": 2, "18": 1}  # as read back from JSON
    fresh = {173: 1, -1: 4}
    assert sketch.merge(stored, fresh) == {173: 3, 18: 1, -1: 4}
    assert sketch.merge() == {}


def test_quantiles_use_the_nearest_rank_by_hand():
    histogram = {-1: 4, 18: 1, 173: 3}  # four 0 ms, one 2 ms, three ~1000 ms: n = 8
    assert sketch.quantile(histogram, 50) == 0  # rank ceil(4.0) = 4: the last 0 ms
    assert sketch.quantile(histogram, 60) == 2  # rank ceil(4.8) = 5: the 2 ms
    assert sketch.quantile(histogram, 95) == 993  # rank ceil(7.6) = 8
    assert sketch.quantile({}, 95) == 0


def test_a_merged_histogram_gives_the_percentiles_of_all_its_events():
    rng = random.Random(7)
    days = [
        [int(rng.lognormvariate(6, 1.2)) for _ in range(rng.randrange(1, 400))] for _ in range(30)
    ]
    per_day = [sketch.merge({sketch.bucket_of(v): 1}) for day in days for v in day]
    merged = sketch.merge(*per_day)
    everything = sorted(v for day in days for v in day)
    for percent in (50, 90, 95, 99):
        exact = everything[-(-len(everything) * percent // 100) - 1]
        estimate = sketch.quantile(merged, percent)
        assert abs(estimate - exact) <= sketch.ALPHA * exact + 0.5, (percent, estimate, exact)


def test_several_percentiles_in_one_pass_match_each_alone():
    # 0 ms x4, 2 ms x1, 10 ms x2, 1000 ms x1: ranks of p50/p60/p95 are 4, 5 and 8.
    histogram = {sketch.ZERO_BUCKET: 4, sketch.bucket_of(2): 1, sketch.bucket_of(10): 2}
    histogram[sketch.bucket_of(1000)] = 1
    assert sketch.quantiles(histogram, (95, 50, 60)) == (993, 0, 2)
    assert sketch.quantiles({}, (50, 95)) == (0, 0)
