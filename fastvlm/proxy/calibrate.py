"""Fit the surrogate to the published points, validate it, store it as package data.

    fastvlm-explore proxy calibrate            # refit tiers 0 and 1, rewrite the JSON
    python -m fastvlm.proxy.calibrate          # the same without the CLI

Per family the free parameters are few and sign-constrained: beta (LLM size), one lambda per
benchmark (sensitivity to legibility x capacity), and for tier 0 the median text x-height m.
Per (recipe, benchmark) intercepts absorb training data differences. Errors are reported as
leave-one-out RMSE and grouped CV (leave one LLM size out, leave one resolution out), next to
the baseline that predicts each point from the other points of its recipe and benchmark.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from . import surrogate as S
from .published import (DATA_FILE, FAMILIES, FAMILY_BENCHMARKS, REFERENCE_GROUP, Point,
                        data_version, load_points)

CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "data" / "proxy_calibration.json"
SCHEMA = 1
Legibility = Callable[[int], float]  # tier 1: measured legibility at a resolution


@dataclass
class FamilyFit:
    family: str
    beta: float
    lam: dict[str, float]
    median_xheight: float | None          # tier 0 only
    alpha: dict[str, dict[str, float]]

    def to_dict(self) -> dict:
        return {"beta": self.beta, "lambda": self.lam, "median_xheight": self.median_xheight,
                "alpha": self.alpha}


def _quality(points: list[Point], family: str, m: float | None, leg: Legibility | None):
    res = np.array([p.resolution for p in points], dtype=float)
    tokens = np.array([p.tokens for p in points], dtype=float)
    if leg is None:
        legibility = S.analytic_legibility(res, m)
    else:
        legibility = np.array([leg(int(r)) for r in res])
    return legibility * S.capacity(tokens, family)


def fit_family(points: list[Point], family: str, leg: Legibility | None = None,
               start: np.ndarray | None = None, median_xheight: float | None = None
               ) -> tuple[FamilyFit, np.ndarray]:
    """Bounded least squares in accuracy units; returns the fit and its parameter vector.

    Tier 0 passes `median_xheight` (fixed: the published points cannot pin it down together
    with lambda -- the two trade off -- so it is chosen from a grid by held-out error)."""
    benches = FAMILY_BENCHMARKS[family]
    cells = sorted({(p.group, p.benchmark) for p in points})
    cell_idx = np.array([cells.index((p.group, p.benchmark)) for p in points])
    bench_idx = np.array([benches.index(p.benchmark) for p in points])
    ln_n = np.log([p.llm_b for p in points])
    acc = np.array([p.acc for p in points])
    n_shared = 1 + len(benches)
    ln_q = np.log(np.maximum(_quality(points, family, median_xheight, leg), 1e-4))

    def residuals(theta):
        beta, lam, alpha = theta[0], theta[1:n_shared], theta[n_shared:]
        z = alpha[cell_idx] + beta * ln_n + lam[bench_idx] * ln_q
        return S.sigmoid(z) - acc

    if start is None or len(start) != n_shared + len(cells):
        alpha0 = [float(S.logit(np.mean([p.acc for p in points if (p.group, p.benchmark) == c])))
                  for c in cells]
        start = np.array([0.2] + [0.5] * len(benches) + alpha0)
    lo = [0.0] * n_shared + [-15.0] * len(cells)
    hi = [3.0] + [10.0] * len(benches) + [15.0] * len(cells)
    start = np.clip(start, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
    sol = least_squares(residuals, start, bounds=(lo, hi), x_scale="jac")
    beta, lam, alpha = sol.x[0], sol.x[1:n_shared], sol.x[n_shared:]
    table: dict[str, dict[str, float]] = {}
    for (group, bench), a in zip(cells, alpha):
        table.setdefault(group, {})[bench] = float(a)
    fit = FamilyFit(family, float(beta), {b: float(v) for b, v in zip(benches, lam)},
                    median_xheight, table)
    return fit, sol.x


def predict_points(fit: FamilyFit, points: list[Point], leg: Legibility | None) -> np.ndarray:
    q = _quality(points, fit.family, fit.median_xheight, leg)
    d = fit.to_dict()
    return np.array([float(S.predict(d, p.group, p.benchmark, p.llm_b, qi))
                     for p, qi in zip(points, q)])


def _held_out_rmse(points, family, leg, m, folds) -> tuple[float | None, int]:
    """Refit without each fold and predict it; points whose intercept cell vanishes are skipped."""
    errors = []
    for fold in folds:
        train = [p for i, p in enumerate(points) if i not in fold]
        cells = {(p.group, p.benchmark) for p in train}
        test = [points[i] for i in fold if (points[i].group, points[i].benchmark) in cells]
        if not test:
            continue
        fit, _ = fit_family(train, family, leg, median_xheight=m)
        errors.extend(predict_points(fit, test, leg) - np.array([p.acc for p in test]))
    if not errors:
        return None, 0
    return float(np.sqrt(np.mean(np.square(errors)))), len(errors)


def _baseline_rmse(points) -> float:
    """Predict each point as the mean of the other points of its recipe and benchmark."""
    errs = []
    for i, p in enumerate(points):
        others = [q.acc for j, q in enumerate(points)
                  if j != i and (q.group, q.benchmark) == (p.group, p.benchmark)]
        errs.append(np.mean(others) - p.acc)
    return float(np.sqrt(np.mean(np.square(errs))))


# Candidate median x-heights (fraction of image height) for tier 0: from small print on a full
# page (0.002 = 2 px at 1024) to headline-sized text (0.03).
XHEIGHT_GRID = (0.002, 0.003, 0.005, 0.008, 0.012, 0.02, 0.03)


def calibrate_family(points: list[Point], family: str,
                     tier1_grid: dict[float, Legibility] | None = None) -> dict:
    """Fit one family. Tier 0 picks the median x-height from `XHEIGHT_GRID`, tier 1 the page
    text scale from `tier1_grid` (measured legibility per scale), each by leave-one-out error;
    the whole sensitivity curve is kept in the result."""
    pts = [p for p in points if p.family == family]
    loo_folds = [[i] for i in range(len(pts))]
    if tier1_grid is None:
        param, candidates = "median_xheight", {m: (m, None) for m in XHEIGHT_GRID}
    else:
        param, candidates = "text_scale", {s: (None, leg) for s, leg in tier1_grid.items()}
    sensitivity = {str(k): _held_out_rmse(pts, family, leg, m, loo_folds)[0]
                   for k, (m, leg) in candidates.items()}
    best = min(candidates, key=lambda k: sensitivity[str(k)])
    m, leg = candidates[best]
    fit, _ = fit_family(pts, family, leg, median_xheight=m)
    resid = predict_points(fit, pts, leg) - np.array([p.acc for p in pts])
    by = lambda key: [[i for i, p in enumerate(pts) if key(p) == v]  # noqa: E731
                      for v in sorted({key(p) for p in pts})]
    lolo, n_lolo = _held_out_rmse(pts, family, leg, m, by(lambda p: p.llm))
    loro, n_loro = _held_out_rmse(pts, family, leg, m, by(lambda p: p.resolution))
    out = {
        **fit.to_dict(), "n_points": len(pts), f"loo_rmse_by_{param}": sensitivity,
        "fit_rmse": float(np.sqrt(np.mean(resid ** 2))),
        "loo_rmse": sensitivity[str(best)], "baseline_loo_rmse": _baseline_rmse(pts),
        "leave_one_llm_out_rmse": lolo, "leave_one_llm_out_n": n_lolo,
        "leave_one_resolution_out_rmse": loro, "leave_one_resolution_out_n": n_loro,
    }
    if tier1_grid is not None:
        out["text_scale"] = best
    return out


def calibrate(data_file: Path = DATA_FILE,
              tier1_legibility: dict[str, dict[float, Legibility]] | None = None,
              tier1_info: dict | None = None) -> dict:
    """The full calibration document (tier 1 only when measured legibility is given)."""
    points, notes = load_points(data_file)
    doc = {
        "schema": SCHEMA,
        "data": {"file": data_file.name, "version": data_version(data_file),
                 "n_points": len(points), "notes": notes,
                 "points": [p.__dict__ for p in points]},
        "reference_group": REFERENCE_GROUP,
        "fixed": {"x50_px": S.X50_PX, "legibility_width": S.LEGIBILITY_WIDTH,
                  "text_log_sd": S.TEXT_LOG_SD, "text_tokens": S.TEXT_TOKENS,
                  "encoder_prior_slope": S.ENCODER_PRIOR_SLOPE},
        "tiers": {"0": {f: calibrate_family(points, f) for f in FAMILIES}},
        "command": "fastvlm-explore proxy calibrate",
    }
    if tier1_legibility:
        doc["tiers"]["1"] = {f: calibrate_family(points, f, tier1_legibility[f]) for f in FAMILIES}
        doc["tiers"]["1"]["measurement"] = tier1_info or {}
    return doc


def save(doc: dict, path: Path = CALIBRATION_FILE) -> Path:
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
    return Path(path)


_LOADED: dict[str, dict] = {}


def load(path: Path = CALIBRATION_FILE) -> dict:
    key = str(path)
    if key not in _LOADED:
        if not Path(path).exists():
            raise FileNotFoundError(f"no proxy calibration at {path}; run "
                                    "`fastvlm-explore proxy calibrate`")
        _LOADED[key] = json.loads(Path(path).read_text())
    return _LOADED[key]


# Resolutions of the published points; tier 1 measures legibility at each of them, for each
# candidate page text scale (the synthetic pages' font sizes vs the benchmarks' are unknown).
CALIBRATION_RESOLUTIONS = (256, 512, 768, 1024)
TEXT_SCALE_GRID = (1.0, 0.8, 0.6, 0.5)


def measure_tier1_legibility(seed: int = 0, progress=None) -> tuple[dict, dict]:
    """Measured legibility per family and text scale at the calibration resolutions (cached)."""
    from .legibility import measured_legibility

    grid, info = {}, {"seed": seed, "values": {}}
    total, done = len(FAMILIES) * len(TEXT_SCALE_GRID) * len(CALIBRATION_RESOLUTIONS), 0
    for family in FAMILIES:
        for scale in TEXT_SCALE_GRID:
            table = {}
            for r in CALIBRATION_RESOLUTIONS:
                m = measured_legibility(r, family, seed=seed, text_scale=scale)
                table[r] = m.value
                info["values"][f"{family}@{r}x{scale}"] = {"value": m.value, "stderr": m.stderr}
                info["reader"], info["pages"] = m.reader, m.n_pages
                done += 1
                if progress:
                    progress(f"{family} x{scale} @ {r}: {m.value:.3f}", done / total)
            grid.setdefault(family, {})[scale] = table.__getitem__
    return grid, info


def run(tier1: bool = True, out: Path = CALIBRATION_FILE, progress=None) -> dict:
    legibility, info = measure_tier1_legibility(progress=progress) if tier1 else (None, None)
    doc = calibrate(DATA_FILE, legibility, info)
    save(doc, out)
    _LOADED.pop(str(out), None)
    return doc


if __name__ == "__main__":
    import sys
    run(tier1="--tier0-only" not in sys.argv)
    print(f"wrote {CALIBRATION_FILE}")
