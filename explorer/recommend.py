"""Pick the best configuration under budgets, and say why (pure; used by CLI and dashboard).

Best = the highest proxy accuracy among complete trials within the budgets (the fastest of
equals). Proxy differences smaller than the combined uncertainty are ties; among the trials tied
with the best the fastest wins, so the recommendation never pays latency for noise. Candidates
are the trials no other feasible trial beats on both TTFT and proxy: a tie is not transitive,
and a noisy trial that ties with the best can still be slower *and* less accurate than a precise
one that does not. With `ties=False` (`recommend --most-accurate`) the highest proxy wins
outright: the uncertainty is mostly the calibration's, which nearby configurations largely
share, so an architect may trust a difference smaller than it. The explanation names what the
choice beats and what the next-better option (over budget) would cost. `ladder` lists the
choice at every TTFT budget where it changes (`recommend --ladder`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from fastvlm.proxy.result import family_label

from .pareto import pareto_mask
from .results import Budgets, StudyFrame, first_per_config


@dataclass
class Recommendation:
    choice: dict | None
    budgets: Budgets
    proxy_key: str
    feasible: int
    tied_with: list[dict] = field(default_factory=list)
    fastest: dict | None = None  # fastest feasible trial, for comparison
    most_accurate: dict | None = None  # highest proxy within budget (the choice, or ties it)
    next_better: dict | None = None  # best accuracy gain beyond the budget, cheapest first
    # beyond the budget, more accurate by less than the uncertainty and cheaper than next_better
    closer: dict | None = None
    # skipped by the sweep as predicted over its (smaller) TTFT budget, but might fit this one
    unmeasured: list[dict] = field(default_factory=list)
    reason: str = ""
    points: list[str] = field(default_factory=list)  # the reason's parts, for a bulleted list
    ties: bool = True  # proxy differences within the uncertainty tie (the fastest tied wins)

    def to_dict(self) -> dict:
        pick = lambda r: trial_summary(r, self.proxy_key)  # noqa: E731
        return {"choice": pick(self.choice), "budgets": self.budgets.__dict__,
                "proxy": self.proxy_key, "feasible_trials": self.feasible,
                "tied_with": [pick(r) for r in self.tied_with], "fastest": pick(self.fastest),
                "most_accurate": pick(self.most_accurate),
                "next_better": pick(self.next_better),
                "more_accurate_within_uncertainty": pick(self.closer),
                "unmeasured_within_budget": self.unmeasured,
                "reason": self.reason,
                "ties": self.ties}


def trial_summary(row: dict | None, proxy_key: str) -> dict | None:
    """What the JSON outputs say about a trial they name."""
    return None if row is None else {
        k: row.get(k) for k in ("number", "summary", "ttft_ms", "memory_mb", "memory_source",
                                proxy_key, f"{proxy_key}_unc", "proxy_tier", "reference",
                                "values", "unstable", "confirmed_ttft_ms", "confirmed_spread",
                                "confirmed_processes")}


@dataclass(frozen=True)
class Step:
    """One step of the `ladder`: the choice from TTFT budget `from_ms` up to the next step's."""

    from_ms: float
    choice: dict
    most_accurate: dict  # the highest proxy within `from_ms`: the choice, or what it ties with


def recommend(frame: StudyFrame, budgets: Budgets, ties: bool = True) -> Recommendation:
    """The recommendation under `budgets`; `ties=False` counts only equal proxies as ties.

    Vectorised over the frame's columns: the dashboard calls it on every slider step, and a
    loop over 10,000 row dicts cost 30 ms of each (benchmarks/bench_dashboard.py)."""
    key = frame.proxy_key
    rows = frame.complete()
    ttft, proxy = frame.column("ttft_ms"), frame.column(key)
    unc = np.nan_to_num(frame.column(f"{key}_unc"))  # no uncertainty recorded: counts as 0

    def same(i: int) -> np.ndarray:
        """Which rows tie with row i: within the combined uncertainty, or equal."""
        if not ties:
            return proxy == proxy[i]
        return np.abs(proxy - proxy[i]) <= np.hypot(unc, unc[i])

    idx = frame.feasible_index(budgets)
    idx = idx[~np.isnan(proxy[idx])]
    rec = Recommendation(None, budgets, key, len(idx), ties=ties,
                         unmeasured=frame.unmeasured_within(budgets.max_ttft_ms))
    if not idx.size:
        _set_reason(rec, [_nothing_fits(frame, budgets, key)])
        return rec
    most = idx[proxy[idx] == proxy[idx].max()]
    # the fastest of equals (then the first): always on the front, so the ties it sets do not
    # depend on a slower duplicate's uncertainty, and only front trials move the `ladder`
    top = most[np.argmin(ttft[most])]
    undominated = idx[pareto_mask(np.column_stack([ttft[idx], -proxy[idx]]))]
    # the fastest of the undominated trials tying with the best; repeats count once
    tied = undominated[same(top)[undominated]]
    tied = tied[np.lexsort((frame.column("number")[tied], ttft[tied]))]
    tied_rows = first_per_config([rows[i] for i in tied])
    choice = tied[0]  # the first is never a repeat: first_per_config keeps it
    rec.choice, rec.tied_with = rows[choice], tied_rows[1:]
    rec.fastest = rows[idx[np.argmin(ttft[idx])]]
    rec.most_accurate = rows[top]
    # the fastest clearly-better trial outside the budgets (first in row order among equals)
    outside = np.ones(len(rows), dtype=bool)
    outside[idx] = False
    with np.errstate(invalid="ignore"):
        higher, tie = outside & (proxy > proxy[choice]), same(choice)
    better, close = np.flatnonzero(higher & ~tie), np.flatnonzero(higher & tie)
    if better.size:
        rec.next_better = rows[better[np.argmin(ttft[better])]]
        close = close[ttft[close] < rec.next_better["ttft_ms"]]
    if close.size:  # what a slightly bigger budget buys: more proxy, but not beyond its noise
        rec.closer = rows[close[np.argmin(ttft[close])]]
    _set_reason(rec, _explain(rec, key, rec.most_accurate))
    return rec


def _set_reason(rec: Recommendation, points: list[str]) -> None:
    """One sentence of `points` (then the unmeasured note); `points` keeps them apart."""
    note = _unmeasured_note(rec)
    rec.reason = "; ".join(points) + "." + (f" {note}" if note else "")
    rec.points = points + ([note] if note else [])


def _unmeasured_note(rec: Recommendation) -> str:
    """Said when the budget is bigger than the sweep's: what the skip rule never measured."""
    u = rec.unmeasured
    if not u:
        return ""
    bounds = (f"{u[0]['lower_ms']:,.0f} ms" if len(u) == 1 else
              f"{u[0]['lower_ms']:,.0f}-{u[-1]['lower_ms']:,.0f} ms")
    of = f" of {u[0]['max_ttft_ms']:,.0f} ms" if u[0]["max_ttft_ms"] else ""
    return (f"Not measured: {len(u)} configuration(s) the sweep skipped as predicted over its "
            f"TTFT budget{of} have lower bounds within this one "
            f"({bounds}; first: trial {u[0]['number']}); sweep a study with this budget to "
            "measure them.")


def ladder(frame: StudyFrame, budgets: Budgets, ties: bool = True) -> list[Step]:
    """The recommendation at every TTFT budget where it changes, cheapest budget first: each
    holds from its `from_ms` up to the next one's. The other budgets apply as given;
    `budgets.max_ttft_ms` (if set) ends the ladder.

    Only a budget that admits a trial of the feasible (TTFT, proxy) front can change the
    recommendation: a trial dominated among those within a budget is dominated by one that is
    no slower. With ties, a bigger budget often changes nothing: what it buys is within the
    proxy's uncertainty; that is the point of the ladder."""
    key = frame.proxy_key
    ttft, proxy = frame.column("ttft_ms"), frame.column(key)
    idx = frame.feasible_index(dataclasses.replace(budgets, max_ttft_ms=None))
    idx = idx[~np.isnan(proxy[idx]) & ~np.isnan(ttft[idx])]
    if budgets.max_ttft_ms is not None:
        idx = idx[ttft[idx] <= budgets.max_ttft_ms]
    if not idx.size:
        return []
    front = idx[pareto_mask(np.column_stack([ttft[idx], -proxy[idx]]))]
    # For the same reason the choice, and the most accurate trial it ties with, are front
    # trials (the fastest of equals), so each budget is tried on the front's rows alone
    # (10,000 trials, ~21 budgets: 13 ms instead of 40 in one run; equal by test to the whole
    # study's)
    rows = frame.complete()
    front_only = dataclasses.replace(frame, rows=[rows[i] for i in front])
    steps: list[Step] = []
    for limit in np.unique(ttft[front]):  # ascending
        rec = recommend(front_only, dataclasses.replace(budgets, max_ttft_ms=float(limit)), ties)
        if not steps or rec.choice["number"] != steps[-1].choice["number"]:
            steps.append(Step(float(limit), rec.choice, rec.most_accurate))
    return steps


def ladder_note(ties: bool, unmeasured: list[dict] = ()) -> str:
    """How to read a ladder's table (the CLI, the dashboard and the HTML page say the same);
    `unmeasured`: `StudyFrame.unmeasured_within` the ladder's TTFT range."""
    note = "Each choice holds from its budget up to the next step's."
    if ties:
        note += (" 'ties with': the most accurate trial that budget admits, which the choice "
                 "matches within the proxy's uncertainty at less TTFT. A bigger budget between "
                 "two steps buys nothing the proxy can tell apart (--most-accurate: every step "
                 "of the front).")
    if unmeasured:
        note += (f" Steps above the study's TTFT budget leave out {len(unmeasured)} "
                 "configuration(s) the sweep skipped as predicted over it (lower bounds from "
                 f"{unmeasured[0]['lower_ms']:,.0f} ms), never measured.")
    return note


def proxy_label(key: str, row: dict) -> str:
    """E.g. "proxy accuracy (text-rich, tier 1)" for `key` = "proxy_text_rich"."""
    family = key.removeprefix("proxy_")
    tier = row.get("proxy_tier")
    try:
        return family_label(family, "?" if tier is None else int(tier))
    except KeyError:  # not a proxy family this version knows
        return key.replace("_", " ")


def _explain(rec: Recommendation, key: str, top: dict) -> list[str]:
    c, f = rec.choice, rec.fastest
    value = lambda r: f"{r[key]:.3f} +- {r.get(f'{key}_unc') or 0:.3f}"  # noqa: E731
    if c is top or c[key] >= top[key]:
        lines = [f"trial {c['number']} ({c['summary']}) has the highest {proxy_label(key, c)} "
                 f"{value(c)} of the {rec.feasible} trials within budget, at "
                 f"{c['ttft_ms']:,.0f} ms TTFT"]
    else:
        lines = [f"trial {c['number']} ({c['summary']}), {proxy_label(key, c)} {value(c)} at "
                 f"{c['ttft_ms']:,.0f} ms TTFT, ties within the proxy's uncertainty with the "
                 f"most accurate of the {rec.feasible} trials within budget (trial "
                 f"{top['number']}, {value(top)} at {top['ttft_ms']:,.0f} ms) and is "
                 f"{top['ttft_ms'] - c['ttft_ms']:,.0f} ms faster"]
    if rec.tied_with:
        lines.append(f"{len(rec.tied_with)} other configuration(s) on the front tie with the "
                     "best; it is the fastest of them")
    if f is not None and f is not c:
        lines.append(f"it beats the fastest feasible option (trial {f['number']}, "
                     f"{f['ttft_ms']:,.0f} ms) by {c[key] - f[key]:+.3f} proxy for "
                     f"{c['ttft_ms'] - f['ttft_ms']:+,.0f} ms")
    n = rec.next_better
    if n is not None:
        cost = [f"{n['ttft_ms'] - c['ttft_ms']:+,.0f} ms TTFT"]
        if n.get("memory_mb") is not None and c.get("memory_mb") is not None:
            cost.append(f"{n['memory_mb'] - c['memory_mb']:+,.0f} MB")
        clearly = " (more accurate beyond the proxy's uncertainty)" if rec.ties else ""
        lines.append(f"the next better option{clearly}, trial {n['number']} ({n['summary']}), "
                     f"gains {n[key] - c[key]:+.3f} proxy but costs {', '.join(cost)} "
                     "(outside the budget)")
    else:
        lines.append("no trial beyond the budget is clearly more accurate")
    if rec.closer is not None:
        x = rec.closer
        lines.append(f"trial {x['number']} ({x['summary']}), beyond the budget, is "
                     f"{x[key] - c[key]:+.3f} proxy for {x['ttft_ms'] - c['ttft_ms']:+,.0f} ms: "
                     "within the proxy's uncertainty, so not counted as better")
    return lines


def _nothing_fits(frame: StudyFrame, budgets: Budgets, key: str) -> str:
    done = [r for r in frame.complete() if r.get("ttft_ms") is not None]
    if not done:
        return "no complete trials in this study yet"
    fastest = min(done, key=lambda r: r["ttft_ms"])
    leanest = min(done, key=lambda r: r.get("memory_mb") or math.inf)
    return (f"no complete trial meets the budgets ({budget_text(budgets, key)}); the "
            f"fastest is trial "
            f"{fastest['number']} at {fastest['ttft_ms']:,.0f} ms and the leanest trial "
            f"{leanest['number']} at {leanest.get('memory_mb') or 0:,.0f} MB")


def budget_text(budgets: Budgets, key: str) -> str:
    """E.g. "TTFT <= 2,000 ms, memory <= 4,096 MB" (the limits that are set)."""
    parts = []
    if budgets.max_ttft_ms is not None:
        parts.append(f"TTFT <= {budgets.max_ttft_ms:,.0f} ms")
    if budgets.max_memory_mb is not None:
        parts.append(f"memory <= {budgets.max_memory_mb:,.0f} MB")
    if budgets.min_proxy is not None:
        parts.append(f"{key.replace('_', ' ')} >= {budgets.min_proxy:.3f}")
    return ", ".join(parts) or "none set"
