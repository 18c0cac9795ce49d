"""Pick the best configuration under budgets, and say why (pure; used by CLI and dashboard).

Best = the highest proxy accuracy among complete trials within the budgets. Proxy differences
smaller than the combined uncertainty are ties; among tied candidates the fastest wins, so the
recommendation never pays latency for noise. The explanation names what the choice beats and
what the next-better option (over budget) would cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .results import Budgets, StudyFrame, first_per_config


@dataclass
class Recommendation:
    choice: dict | None
    budgets: Budgets
    proxy_key: str
    feasible: int
    tied_with: list[dict] = field(default_factory=list)
    fastest: dict | None = None  # fastest feasible trial, for comparison
    next_better: dict | None = None  # best accuracy gain beyond the budget, cheapest first
    reason: str = ""

    def to_dict(self) -> dict:
        pick = lambda r: None if r is None else {  # noqa: E731
            k: r.get(k) for k in ("number", "summary", "ttft_ms", "memory_mb", self.proxy_key,
                                  f"{self.proxy_key}_unc", "reference", "values")}
        return {"choice": pick(self.choice), "budgets": self.budgets.__dict__,
                "proxy": self.proxy_key, "feasible_trials": self.feasible,
                "tied_with": [pick(r) for r in self.tied_with], "fastest": pick(self.fastest),
                "next_better": pick(self.next_better), "reason": self.reason}


def _tie(a: dict, b: dict, key: str) -> bool:
    unc = math.hypot(a.get(f"{key}_unc") or 0.0, b.get(f"{key}_unc") or 0.0)
    return abs(a[key] - b[key]) <= unc


def recommend(frame: StudyFrame, budgets: Budgets) -> Recommendation:
    key = frame.proxy_key
    feasible = [r for r in frame.feasible(budgets) if r.get(key) is not None]
    rec = Recommendation(None, budgets, key, len(feasible))
    if not feasible:
        rec.reason = _nothing_fits(frame, budgets, key)
        return rec
    top = max(feasible, key=lambda r: r[key])
    # the fastest of the trials tying with the best; repeats of a configuration count once
    tied = first_per_config(sorted((r for r in feasible if _tie(r, top, key)),
                                   key=lambda r: (r["ttft_ms"], r["number"])))
    choice = tied[0]
    rec.choice = choice
    rec.tied_with = tied[1:]
    rec.fastest = min(feasible, key=lambda r: r["ttft_ms"])
    inside = {r["number"] for r in feasible}
    # the fastest clearly-better trial outside the budgets: scan by speed, stop at the first
    by_speed = sorted(frame.complete(), key=lambda r: r["ttft_ms"])
    rec.next_better = next((r for r in by_speed if r.get(key) is not None
                            and r[key] > choice[key] and r["number"] not in inside
                            and not _tie(r, choice, key)), None)
    rec.reason = _explain(rec, key)
    return rec


def _explain(rec: Recommendation, key: str) -> str:
    c, f = rec.choice, rec.fastest
    lines = [f"trial {c['number']} ({c['summary']}) has the highest {key.replace('_', ' ')} "
             f"{c[key]:.3f} +- {c.get(f'{key}_unc') or 0:.3f} of the {rec.feasible} trials "
             f"within budget, at {c['ttft_ms']:,.0f} ms TTFT"]
    if rec.tied_with:
        lines.append(f"{len(rec.tied_with)} other configuration(s) tie within the proxy's "
                     "uncertainty; it is the fastest of them")
    if f is not None and f is not c:
        lines.append(f"it beats the fastest feasible option (trial {f['number']}, "
                     f"{f['ttft_ms']:,.0f} ms) by {c[key] - f[key]:+.3f} proxy for "
                     f"{c['ttft_ms'] - f['ttft_ms']:+,.0f} ms")
    n = rec.next_better
    if n is not None:
        cost = [f"{n['ttft_ms'] - c['ttft_ms']:+,.0f} ms TTFT"]
        if n.get("memory_mb") is not None and c.get("memory_mb") is not None:
            cost.append(f"{n['memory_mb'] - c['memory_mb']:+,.0f} MB")
        lines.append(f"the next better option, trial {n['number']} ({n['summary']}), gains "
                     f"{n[key] - c[key]:+.3f} proxy but costs {', '.join(cost)} "
                     "(outside the budget)")
    else:
        lines.append("no trial beyond the budget is clearly more accurate")
    return "; ".join(lines) + "."


def _nothing_fits(frame: StudyFrame, budgets: Budgets, key: str) -> str:
    done = [r for r in frame.complete() if r.get("ttft_ms") is not None]
    if not done:
        return "no complete trials in this study yet"
    fastest = min(done, key=lambda r: r["ttft_ms"])
    leanest = min(done, key=lambda r: r.get("memory_mb") or math.inf)
    return (f"no complete trial meets the budgets {budgets.__dict__}; the fastest is trial "
            f"{fastest['number']} at {fastest['ttft_ms']:,.0f} ms and the leanest trial "
            f"{leanest['number']} at {leanest.get('memory_mb') or 0:,.0f} MB")
