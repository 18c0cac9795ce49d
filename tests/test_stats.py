import pytest

from fastvlm.stats import Latency, median_ci_ranks


@pytest.mark.parametrize("n, lo, hi", [(10, 2, 9), (20, 6, 15), (7, 1, 7), (30, 10, 21)])
def test_median_ci_ranks_match_binomial_tables(n, lo, hi):
    r_lo, r_hi, coverage = median_ci_ranks(n)
    assert (r_lo, r_hi) == (lo, hi)
    assert coverage >= 0.95


def test_small_samples_report_lower_coverage():
    lo, hi, coverage = median_ci_ranks(4)
    assert (lo, hi) == (1, 4) and coverage < 0.95


def test_latency_stats_keep_samples_and_count_outliers():
    lat = Latency.from_samples([10, 11, 10.5, 10.2, 50, 10.1, 10.4])
    assert lat.median_ms == 10.4 and lat.min_ms == 10
    assert lat.outliers == 1 and lat.n == 7
    assert lat.ci_low_ms <= lat.median_ms <= lat.ci_high_ms
    assert Latency.from_dict(lat.to_dict()) == lat


def test_empty_samples_rejected():
    with pytest.raises(ValueError):
        Latency.from_samples([])
