"""Pareto math on hand-written tables: ties, inf/NaN, single points, k > 2."""

import numpy as np
import pytest

from explorer.pareto import (default_reference, hypervolume_2d, hypervolume_history,
                             knee_index, nondominated_rank, pareto_mask, to_losses)


def brute_mask(x):
    return np.array([not any(np.all(x[j] <= x[i]) and np.any(x[j] < x[i])
                             for j in range(len(x))) for i in range(len(x))])


def test_small_front_with_duplicates_and_ties():
    x = np.array([[1, 2], [2, 1], [2, 2], [1, 2], [1, 3]], dtype=float)
    assert pareto_mask(x).tolist() == [True, True, False, True, False]
    assert nondominated_rank(x).tolist() == [0, 0, 1, 0, 1]


def test_single_point_and_empty():
    assert pareto_mask(np.array([[3.0, 4.0]])).tolist() == [True]
    assert pareto_mask(np.zeros((0, 2))).tolist() == []
    assert hypervolume_2d(np.array([[1.0, 1.0]]), [2, 3]) == 2.0


def test_inf_and_nan_are_worst():
    x = np.array([[1, np.nan], [np.inf, 0], [2, 2]], dtype=float)
    assert pareto_mask(x).tolist() == [False, True, True]


def test_directions_flip_maximised_objectives():
    losses = to_losses([[100, 0.5], [200, 0.7], [300, 0.6]], ["minimize", "maximize"])
    assert pareto_mask(losses).tolist() == [True, True, False]
    with pytest.raises(ValueError, match="valid: minimize, maximize"):
        to_losses([[1]], ["min"])


def test_three_objectives_match_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(50):
        x = rng.integers(0, 4, (25, 3)).astype(float)
        assert (pareto_mask(x) == brute_mask(x)).all()


def test_two_objectives_match_brute_force():
    rng = np.random.default_rng(2)
    for _ in range(100):
        x = rng.integers(0, 5, (30, 2)).astype(float)
        assert (pareto_mask(x) == brute_mask(x)).all()


def test_hypervolume_by_hand():
    x = np.array([[1, 3], [2, 2], [3, 1], [3, 3]], dtype=float)
    # staircase under reference (4, 4): 3x1 + 2x1 + 1x1 = 6
    assert hypervolume_2d(x, [4, 4]) == 6.0
    assert hypervolume_2d(x, [1, 1]) == 0.0  # nothing better than the reference
    assert hypervolume_history(x, [4, 4]).tolist() == [3.0, 5.0, 6.0, 6.0]
    assert hypervolume_history(x, [4, 4], feasible=[1, 0, 1, 1]).tolist() == [3, 3, 5, 5]


def test_knee_is_the_bend():
    x = np.array([[0, 10], [1, 2], [2, 1.5], [10, 0]], dtype=float)
    assert knee_index(x) == 1
    with pytest.raises(ValueError):
        knee_index(np.array([[np.inf, 1.0]]))


def test_default_reference_is_beyond_the_worst():
    ref = default_reference(np.array([[1, 5], [3, 2]], dtype=float))
    assert ref[0] > 3 and ref[1] > 5
