"""Pareto math, pure numpy, shared by the CLI and the dashboard (no Optuna, torch or I/O).

    python -c "import numpy as np; from explorer.pareto import pareto_mask; \
print(pareto_mask(np.array([[1, 2], [2, 1], [2, 2]])))"

Everything works on an (n, k) matrix of *losses* (lower is better); `to_losses` flips the
maximised objectives once. NaN counts as +inf (worst). Duplicated points are all on the front
(neither strictly dominates the other). 2-D fronts are O(n log n): 100,000 points take
milliseconds (benchmarks/bench_pareto.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

DIRECTIONS = ("minimize", "maximize")


def to_losses(values, directions: Sequence[str]) -> np.ndarray:
    """(n, k) values -> losses: maximised columns negated, NaN -> +inf."""
    v = np.asarray(values, dtype=float).reshape(len(values), len(directions))
    for d in directions:
        if d not in DIRECTIONS:
            raise ValueError(f"unknown direction {d!r}; valid: {', '.join(DIRECTIONS)}")
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    losses = v * sign
    losses[np.isnan(losses)] = np.inf
    return losses


def pareto_mask(losses) -> np.ndarray:
    """Boolean mask of the non-dominated rows of `losses`."""
    x = np.asarray(losses, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"losses must be 2-D (n, k), got shape {x.shape}")
    x = np.where(np.isnan(x), np.inf, x)
    n, k = x.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    if k == 1:
        return x[:, 0] == x[:, 0].min()
    if k == 2:
        return _pareto_mask_2d(x)
    return _pareto_mask_nd(x)


def _pareto_mask_2d(x: np.ndarray) -> np.ndarray:
    order = np.lexsort((x[:, 1], x[:, 0]))  # by f0, then f1
    f0, f1 = x[order, 0], x[order, 1]
    _, group_start = np.unique(f0, return_index=True)
    start = np.repeat(group_start, np.diff(np.append(group_start, len(f0))))
    running_min = np.minimum.accumulate(f1)
    best_before = np.where(start > 0, running_min[np.maximum(start - 1, 0)], np.inf)
    on_front = (f1 == f1[start]) & (f1 < best_before)
    mask = np.zeros(len(x), dtype=bool)
    mask[order] = on_front
    return mask


def _pareto_mask_nd(x: np.ndarray) -> np.ndarray:
    order = np.lexsort(x.T[::-1])  # lexicographic: no later point can dominate an earlier one
    front: list[int] = []
    for i in order:
        p = x[i]
        if front:
            f = x[front]
            if np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1)):
                continue
        front.append(i)
    mask = np.zeros(len(x), dtype=bool)
    mask[front] = True
    return mask


def nondominated_rank(losses) -> np.ndarray:
    """Front index of every row: 0 for the Pareto front, 1 for the next front, ..."""
    x = np.asarray(losses, dtype=float)
    rank = np.full(len(x), -1, dtype=int)
    remaining = np.arange(len(x))
    level = 0
    while remaining.size:
        front = pareto_mask(x[remaining])
        rank[remaining[front]] = level
        remaining = remaining[~front]
        level += 1
    return rank


def hypervolume_2d(losses, ref: Sequence[float]) -> float:
    """Area dominated by `losses` and bounded by the reference point `ref` (both minimised)."""
    x = np.asarray(losses, dtype=float).reshape(-1, 2)
    r = np.asarray(ref, dtype=float)
    x = x[np.all(x < r, axis=1)]
    if x.size == 0:
        return 0.0
    front = x[pareto_mask(x)]
    front = front[np.lexsort((front[:, 1], front[:, 0]))]
    f0, f1 = front[:, 0], front[:, 1]
    upper = np.concatenate(([r[1]], f1[:-1]))  # each point adds a slab below the previous f1
    return float(np.sum((r[0] - f0) * (upper - f1)))


def hypervolume_history(losses, ref: Sequence[float], feasible=None) -> np.ndarray:
    """Hypervolume of the (feasible) points seen so far, after each row in trial order.

    Keeps the 2-D front sorted (x ascending, y descending) and updates the area locally on
    each insertion: amortised O(log n) per point plus the points it removes.
    """
    x = np.asarray(losses, dtype=float).reshape(-1, 2)
    ok = np.ones(len(x), dtype=bool) if feasible is None else np.asarray(feasible, dtype=bool)
    r0, r1 = float(ref[0]), float(ref[1])
    xs: list[float] = []
    ys: list[float] = []

    def slab(k: int) -> float:  # area between point k and the next point (or the reference)
        nxt = xs[k + 1] if k + 1 < len(xs) else r0
        return (nxt - xs[k]) * (r1 - ys[k])

    out = np.zeros(len(x))
    hv = 0.0
    for n, (a, b) in enumerate(x.tolist()):
        if ok[n] and a < r0 and b < r1:  # NaN compares False: skipped
            i = bisect.bisect_right(xs, a)
            if not (i > 0 and ys[i - 1] <= b):  # not dominated by (or equal to) a front point
                j = bisect.bisect_left(xs, a)
                k = j
                while k < len(xs) and ys[k] >= b:  # the points p dominates: a contiguous run
                    k += 1
                lo = max(j - 1, 0)
                old = sum(slab(m) for m in range(lo, k))
                del xs[j:k], ys[j:k]
                xs.insert(j, a)
                ys.insert(j, b)
                hv += sum(slab(m) for m in range(lo, j + 1)) - old
        out[n] = hv
    return out


def knee_index(losses) -> int:
    """Row index of the front's knee: after scaling each objective to [0, 1] over the front,
    the point farthest from the line through its two extremes (2-D), or nearest the ideal
    point (k > 2 or fronts of 1-2 points)."""
    x = np.asarray(losses, dtype=float)
    idx = np.flatnonzero(pareto_mask(x) & np.all(np.isfinite(x), axis=1))
    if idx.size == 0:
        raise ValueError("no finite Pareto point to choose a knee from")
    f = x[idx]
    span = f.max(axis=0) - f.min(axis=0)
    z = (f - f.min(axis=0)) / np.where(span > 0, span, 1.0)
    if idx.size <= 2:
        return int(idx[np.argmin(np.linalg.norm(z, axis=1))])
    if x.shape[1] == 2:
        a, b = z[np.argmin(z[:, 0])], z[np.argmin(z[:, 1])]
        d = b - a
        dist = np.abs(d[0] * (a[1] - z[:, 1]) - d[1] * (a[0] - z[:, 0])) / (np.hypot(*d) or 1)
        return int(idx[np.argmax(dist)])
    return int(idx[np.argmin(np.linalg.norm(z, axis=1))])


def default_reference(losses, margin: float = 0.1) -> np.ndarray:
    """A reference point just beyond the worst finite value of each objective."""
    x = np.asarray(losses, dtype=float)
    finite = x[np.all(np.isfinite(x), axis=1)]
    if finite.size == 0:
        return np.zeros(x.shape[1])
    worst, best = finite.max(axis=0), finite.min(axis=0)
    return worst + margin * np.maximum(worst - best, np.abs(worst) * 1e-6 + 1e-12)
