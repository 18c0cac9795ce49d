"""Studies side by side, e.g. one search space swept on two devices: the configurations every
study measured with their TTFT in each, how much faster each device is and whether it orders
the configurations the same way, and the configurations that stay on every front.

    fastvlm-explore compare --study quick-laptop --study quick-server

Pure (StudyFrames and front rows in, rows out): the CLI's `compare` and the dashboard's
Compare page use these functions.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .results import Budgets, StudyFrame, config_key, first_per_config


def study_labels(pairs: list[tuple[str, str | None]]) -> list[str]:
    """Each (study, storage URL)'s name, with its storage where the name repeats: the same
    study file swept on two machines, each into its own results file ("quick (laptop.db)")."""
    from collections import Counter

    from .storage import storage_labels

    names = [name for name, _ in pairs]
    twice = {name for name, k in Counter(names).items() if k > 1}
    where = storage_labels([url for _, url in pairs])
    out = [f"{name} ({w})" if name in twice else name for name, w in zip(names, where)]
    return out if len(set(out)) == len(out) else [f"{o} #{i + 1}" for i, o in enumerate(out)]


def common_front(fronts: dict[str, list[dict]]) -> set[str]:
    """Configuration keys on the front of every study in `fronts` (empty if fewer than two)."""
    if len(fronts) < 2:
        return set()
    return set.intersection(*({config_key(r) for r in rows} for rows in fronts.values()))


def on_every_front(fronts: dict[str, list[dict]]) -> list[dict]:
    """One row per configuration on every front: its summary, then each study's trial number
    and TTFT; by the first study's TTFT."""
    common = common_front(fronts)
    by_key = {name: {config_key(r): r for r in rows} for name, rows in fronts.items()}
    first = next(iter(by_key.values()), {})
    out = []
    for key in sorted(common, key=lambda k: first[k]["ttft_ms"]):
        row = {"configuration": first[key].get("summary")}
        for name, rows in by_key.items():
            row[f"{name} trial"] = rows[key]["number"]
            row[f"{name} TTFT ms"] = rows[key]["ttft_ms"]
        out.append(row)
    return out


def common_configs(frames: list[StudyFrame]) -> list[dict]:
    """Configurations measured (complete) in every study, with each study's TTFT and its
    ratio to the first study's: how much faster or slower the same configuration is elsewhere.
    Sorted by the first study's TTFT; the first trial of a configuration counts."""
    if len(frames) < 2:
        return []
    per = []
    for f in frames:
        rows = first_per_config([r for r in f.rows if r["state"] == "COMPLETE"
                                 and isinstance(r.get("ttft_ms"), (int, float))])
        per.append({config_key(r): r for r in rows})
    keys = set.intersection(*(set(p) for p in per))
    out = []
    for key in sorted(keys, key=lambda k: per[0][k]["ttft_ms"]):
        first = per[0][key]
        row = {"configuration": first.get("summary")}
        for f, p in zip(frames, per):
            row[f"{f.study_name} TTFT ms"] = p[key]["ttft_ms"]
        for f, p in zip(frames[1:], per[1:]):
            row[f"ratio {f.study_name} / {frames[0].study_name}"] = (p[key]["ttft_ms"]
                                                                    / first["ttft_ms"])
        for f, p in zip(frames, per):
            row[f"{f.study_name} trial"] = p[key]["number"]
        out.append(row)
    return out


def one_for_all(frames: list[StudyFrame], budgets: list[Budgets], ties: bool = True) -> dict:
    """One configuration for every study (say, one model shipped to two devices): among the
    configurations within each study's own budgets on its own device, the `recommend` rule on
    the first study's trials (the highest proxy, proxy ties going to the fastest there).

    Returns {"choice": {"configuration", "proxy", "proxy_unc", "trials": {study: number},
    "ttft_ms": {study: ms}} or None, "measured_everywhere", "within_every_budget", "reason"}."""
    from .recommend import proxy_label, recommend

    feasible, measured = [], []
    for f, b in zip(frames, budgets):
        rows = f.complete()
        keys = [config_key(r) for r in rows]  # once per row: ~20 us each, 10,000s of rows
        first: dict[str, dict] = {}
        for i in f.feasible_index(b):
            first.setdefault(keys[i], rows[i])  # the first trial of a configuration counts
        feasible.append(first)
        measured.append(set(keys))
    everywhere = set.intersection(*measured)
    joint = set.intersection(*(set(p) for p in feasible))
    base = frames[0]
    rec = recommend(dataclasses.replace(base, rows=[r for k, r in feasible[0].items()
                                                    if k in joint]), Budgets(), ties)
    out = {"choice": None, "measured_everywhere": len(everywhere),
           "within_every_budget": len(joint)}
    if rec.choice is None:
        out["reason"] = (f"none of the {len(everywhere)} configurations measured in every study "
                         "meets every study's budgets")
        return out
    key, c = base.proxy_key, rec.choice
    trials = {f.study_name: p[config_key(c)] for f, p in zip(frames, feasible)}
    out["choice"] = {"configuration": c.get("summary"), "proxy": c[key],
                     "proxy_unc": c.get(f"{key}_unc"),
                     "trials": {n: r["number"] for n, r in trials.items()},
                     "ttft_ms": {n: r["ttft_ms"] for n, r in trials.items()}}
    rule = ("the highest proxy (ties within its uncertainty go to the fastest on "
            f"{base.study_name})" if ties else "the highest proxy")
    out["reason"] = (f"{proxy_label(key, c)} {c[key]:.3f} +- "
                     f"{c.get(f'{key}_unc') or 0:.3f} ({base.study_name}'s trial); TTFT "
                     + ", ".join(f"{r['ttft_ms']:,.0f} ms in {n} (trial {r['number']})"
                                 for n, r in trials.items())
                     + f"; {rule} of the {len(joint)} configuration(s) within every study's "
                     f"budgets ({len(everywhere)} measured in all)")
    return out


def shared_columns(names: list[str]) -> list[str]:
    """The columns of `common_configs`' rows for studies `names` (a CSV of none has them too)."""
    return (["configuration"] + [f"{n} TTFT ms" for n in names]
            + [f"ratio {n} / {names[0]}" for n in names[1:]] + [f"{n} trial" for n in names])


def shared_csv(rows: list[dict], names: list[str]) -> str:
    """`common_configs` rows as CSV (`compare --csv`, the Compare page's download)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=shared_columns(names), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def speed_summary(rows: list[dict], names: list[str]) -> list[dict]:
    """For each study after the first, over the `common_configs` rows: the geometric mean of
    its TTFT ratio to the first study (0.5: twice as fast), the lowest and highest ratio, and
    Spearman's rank correlation of the two TTFTs (1: the same order, so a front found on one
    device keeps its order on the other). Empty without shared configurations."""
    if not rows:
        return []
    base = np.array([r[f"{names[0]} TTFT ms"] for r in rows], dtype=float)
    out = []
    for name in names[1:]:
        other = np.array([r[f"{name} TTFT ms"] for r in rows], dtype=float)
        ratio = other / base
        out.append({"study": name, "versus": names[0], "configs": len(rows),
                    "ratio_geomean": float(np.exp(np.mean(np.log(ratio)))),
                    "ratio_min": float(ratio.min()), "ratio_max": float(ratio.max()),
                    "rank_correlation": spearman(base, other)})
    return out


def speed_line(s: dict) -> str:
    """One `speed_summary` entry in words, e.g. "quick-gpu: 0.12x the TTFT of quick-cpu
    (geometric mean over 8 configurations; 0.09x to 0.15x), rank correlation 0.98"."""
    rho = s["rank_correlation"]
    order = ("rank correlation n/a (too few)" if rho is None
             else f"rank correlation {rho:.2f} (Spearman; 1 = same order)")
    return (f"{s['study']}: {s['ratio_geomean']:.2f}x the TTFT of {s['versus']} (geometric "
            f"mean over {s['configs']} configuration{'s' * (s['configs'] != 1)}; "
            f"{s['ratio_min']:.2f}x to {s['ratio_max']:.2f}x), {order}")


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rho (ties get their average rank); None with fewer than 3 pairs or when one
    side is constant."""
    if len(a) < 3:
        return None
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    rho = float(np.corrcoef(ra, rb)[0, 1])
    return rho if math.isfinite(rho) else None


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    rank = np.empty(len(x))
    rank[order] = np.arange(len(x), dtype=float)
    _, group, size = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(group, weights=rank) / size)[group]
