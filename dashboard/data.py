"""What the dashboard shows, computed without Streamlit: studies, columns, fronts, labels.

    python -c "from dashboard.data import list_studies; print(list_studies(None))"

Everything here is pure (no Streamlit, no torch) so it is tested directly; `dashboard/cache.py`
keeps the slow parts in Streamlit's caches. Rows come from `explorer.results` and the Pareto math
from `explorer.pareto`, the same code the CLI's `pareto` and `recommend` use.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from explorer.compare import (common_configs, common_front, on_every_front, one_for_all,
                              speed_line, speed_summary)
from explorer.pareto import (default_reference, hypervolume_2d, hypervolume_history,
                             pareto_mask, to_losses)
from explorer.recommend import Recommendation, Step, ladder, recommend
from explorer.repeats import OVER_BUDGET_ATTR, OVER_BUDGET_STATE, REPEAT_ATTR, REPEATS_STATE
from explorer.results import (Budgets, StudyFrame, attach_confirmations, device_of,
                              first_per_config, rows_csv, study_frame)
from explorer.trial_reader import count_trials

FAMILIES = {"text_rich": "text-rich", "general": "general"}
SAMPLER_NAMES = {"nsga2": "NSGA-II", "tpe": "TPE", "gp": "GP", "random": "random sampling",
                 "grid": "grid search"}
NUMERIC = ("number", "n", "ttft_ms", "encoder_ms", "projector_ms", "prefill_ms", "memory_mb",
           "proxy_text_rich", "proxy_text_rich_unc", "proxy_general", "proxy_general_unc",
           "resolution", "visual_tokens", "attention_stages", "output_pool", "params_total")


class DashboardError(Exception):
    """Something the page states in one line instead of a traceback."""


@dataclass
class StudyData:
    """One study: the explorer's `StudyFrame` plus numpy columns aligned with `frame.rows`."""

    frame: StudyFrame
    cols: dict[str, np.ndarray]
    memo: dict = field(default_factory=dict, repr=False)  # derived arrays, computed once

    def memoised(self, key, fn):
        """`fn()` computed once per key (the app caches StudyData as a shared resource)."""
        if key not in self.memo:
            self.memo[key] = fn()
        return self.memo[key]

    @property
    def name(self) -> str:
        return self.frame.study_name

    @property
    def n(self) -> int:
        return len(self.frame.rows)

    @property
    def complete(self) -> np.ndarray:
        return self.cols["complete"]

    def proxy(self, family: str) -> np.ndarray:
        return self.cols[f"proxy_{family}"]

    def index_of(self, number: int) -> int:
        idx = np.flatnonzero(self.cols["number"] == number)
        if idx.size == 0:
            raise DashboardError(f"no trial {number} in study {self.name!r}")
        return int(idx[0])

    def device(self) -> str:
        return self.frame.device

    def description(self) -> str:
        return (self.frame.attrs.get("spec") or {}).get("description", "")

    def search_setup(self) -> str:
        """How the study searched, from its stored spec: 'NSGA-II (population 8, seed 0)'."""
        spec = self.frame.attrs.get("spec") or {}
        name = spec.get("sampler")
        if not name:
            return ""
        detail = []
        if name == "nsga2" and spec.get("population_size"):
            detail.append(f"population {spec['population_size']}")
        elif name in ("tpe", "gp") and spec.get("n_startup_trials"):
            detail.append(f"{spec['n_startup_trials']} random startup trials")
        if spec.get("seed") is not None:
            detail.append(f"seed {spec['seed']}")
        label = SAMPLER_NAMES.get(name, name)
        return label + (f" ({', '.join(detail)})" if detail else "")


def _storage(url: str | None):
    """The Optuna storage at `url`, opened once per URL: opening costs ~40 ms and the app
    counts the trials every 2 s. A SQLite file that has gone is reported, not created again."""
    from explorer.storage import default_storage_url, is_sqlite, open_storage, storage_file

    url = url or default_storage_url()
    try:
        if not is_sqlite(url):
            return _open_storage(url, None)
        path = storage_file(url)
        if not path.is_file():
            return open_storage(url, create=False)  # raises the one-line "no storage" error
        return _open_storage(url, path.stat().st_ino)  # a file made anew is opened anew
    except Exception as e:  # StudyError / UsageError carry a one-line message already
        raise DashboardError(str(e)) from None


@functools.lru_cache(maxsize=8)
def _open_storage(url: str, inode: int | None):
    from explorer.storage import open_storage

    return open_storage(url, create=False)  # thread-safe: SQLAlchemy pools the connections


def list_studies(url: str | None) -> dict[str, str]:
    """Study name -> what it was measured on ('' if unknown), sorted by name: the picker shows
    both, so the same study on two devices is told apart. Cheap: no trials are read. Or a
    `DashboardError`."""
    storage = _storage(url)
    try:
        found = storage.get_all_studies()
    except Exception as e:
        raise DashboardError(f"cannot read studies from the storage: {_first_line(e)}") from None
    return {s.study_name: device_of(s.user_attrs) or ""
            for s in sorted(found, key=lambda s: s.study_name)}


def trial_count(url: str | None, name: str) -> int:
    """Number of trials in study `name`, without reading them; it keys the app's cache of the
    study."""
    storage = _storage(url)
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        names = list_studies(url)
        raise DashboardError(f"no study {name!r} in this storage; available: "
                             f"{', '.join(names) if names else '(none)'}") from None
    try:
        return count_trials(storage, study_id)
    except Exception as e:
        raise DashboardError(f"cannot count the trials of {name!r}: {_first_line(e)}") from None


def confirmations(url: str | None, name: str) -> dict:
    """`fastvlm-explore confirm`'s records by trial number (as a string), read from the
    study's attributes alone: a confirmation adds no trial, so the cached study would not
    show it."""
    from explorer.confirm import CONFIRMATIONS_ATTR

    storage = _storage(url)
    try:
        attrs = storage.get_study_user_attrs(storage.get_study_id_from_name(name))
    except Exception as e:
        raise DashboardError(f"cannot read study {name!r}: {_first_line(e)}") from None
    return dict(attrs.get(CONFIRMATIONS_ATTR) or {})


def confirmation(url: str | None, name: str, number: int) -> dict | None:
    """The confirmation of trial `number` (None: never confirmed)."""
    return confirmations(url, name).get(str(number))


def with_confirmations(rows: list[dict], found: dict) -> list[dict]:
    """Copies of `rows` with the confirmed columns of `found` (`confirmations`)."""
    out = [dict(r) for r in rows]
    attach_confirmations(out, found)
    return out


def load_study_data(url: str | None, name: str) -> StudyData:
    """All trials of `name` as rows and columns (the slow step; cached by the app)."""
    from explorer.storage import load_study

    storage = _storage(url)
    try:
        study = load_study(name, storage)
        frame = study_frame(study)
    except DashboardError:
        raise
    except Exception as e:  # UsageError (unknown name) or a storage error
        raise DashboardError(_first_line(e)) from None
    return StudyData(frame, columns(frame.rows))


def columns(rows: list[dict]) -> dict[str, np.ndarray]:
    """Numeric columns as float arrays (None -> NaN), plus state, llm and reference."""
    cols = {k: np.array([_num(r.get(k)) for r in rows], dtype=float) for k in NUMERIC}
    cols["complete"] = np.array([r["state"] == "COMPLETE" and bool(r.get("values"))
                                 for r in rows], dtype=bool)
    for k in ("state", "llm", "reference", "summary", "depths", "widths"):
        cols[k] = np.array([r.get(k) or "" for r in rows], dtype=object)
    cols["unstable"] = np.array([bool(r.get("unstable")) for r in rows], dtype=bool)
    cols["extrapolated"] = np.array([bool(r.get("extrapolated")) for r in rows], dtype=bool)
    return cols


def _num(v) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


# ---- budgets and the front ----

def default_budgets(data: StudyData) -> Budgets:
    return data.frame.stored_budgets


def budget_mask(data: StudyData, budgets: Budgets, family: str) -> np.ndarray:
    """Complete trials within `budgets` (the rule of `Budgets.limits`, on the columns)."""
    ok = data.complete.copy()
    with np.errstate(invalid="ignore"):
        for limit, key, sign in budgets.limits(f"proxy_{family}"):
            ok &= sign * (data.cols[key] - limit) <= 0  # NaN (missing) never fits
    return ok


def plottable(data: StudyData, family: str) -> np.ndarray:
    """Complete trials that have both a TTFT and a proxy value of `family`."""
    return data.complete & np.isfinite(data.cols["ttft_ms"]) & np.isfinite(data.proxy(family))


def losses(data: StudyData, family: str) -> np.ndarray:
    """(n, 2) losses: TTFT (minimised), proxy accuracy (maximised)."""
    return to_losses(np.column_stack([data.cols["ttft_ms"], data.proxy(family)]),
                     ["minimize", "maximize"])


@dataclass
class FrontView:
    """The Pareto view under one set of budgets: what the sliders change."""

    family: str
    budgets: Budgets
    shown: np.ndarray  # bool: complete with TTFT and proxy (plotted)
    feasible: np.ndarray  # bool: shown and within budgets
    front: np.ndarray  # row indices of the feasible front, fastest first
    reference: np.ndarray  # hypervolume reference point in loss space (ttft, -proxy)
    hypervolume: float
    recommendation: Recommendation


def reference_point(data: StudyData, family: str) -> np.ndarray:
    """Fixed per study and family (beyond the worst complete trial) so that hypervolumes
    under different budgets stay comparable."""
    return data.memoised(("reference", family), lambda: _reference(data, family))


def _reference(data: StudyData, family: str) -> np.ndarray:
    x = losses(data, family)[plottable(data, family)]
    return default_reference(x) if len(x) else np.array([np.inf, 0.0])


def front_view(data: StudyData, family: str, budgets: Budgets, ties: bool = True) -> FrontView:
    """`ties` as in `explorer.recommend.recommend` (False: `recommend --most-accurate`)."""
    shown = plottable(data, family)
    feasible = shown & budget_mask(data, budgets, family)
    x = losses(data, family)
    idx = np.flatnonzero(feasible)
    front = idx[pareto_mask(x[idx])] if idx.size else idx
    front = front[np.lexsort((data.cols["number"][front], data.cols["ttft_ms"][front]))]
    kept = [r["number"] for r in first_per_config([data.frame.rows[i] for i in front])]
    front = front[np.isin(data.cols["number"][front], kept)]
    ref = reference_point(data, family)
    hv = hypervolume_2d(x[idx], ref) if idx.size else 0.0
    frame = data.memoised(("family_frame", family), lambda: family_frame(data.frame, family))
    return FrontView(family, budgets, shown, feasible, front, ref, hv,
                     recommend(frame, budgets, ties=ties))


def budget_ladder(data: StudyData, family: str, budgets: Budgets,
                  ties: bool = True) -> list[Step]:
    """`explorer.recommend.ladder` (`recommend --ladder`) across every TTFT budget under the
    other `budgets`. The latest one is kept: the TTFT slider, the one moved most, does not
    change it, and a rerun that changes nothing reuses it."""
    key = (family, dataclasses.replace(budgets, max_ttft_ms=None), ties)
    last = data.memo.get("ladder")
    if last is None or last[0] != key:
        frame = data.memoised(("family_frame", family), lambda: family_frame(data.frame, family))
        last = data.memo["ladder"] = (key, ladder(frame, key[1], ties=ties))
    return last[1]


def ladder_table(steps: list[Step], family: str,
                 max_ttft_ms: float | None) -> list[dict]:
    """The ladder for display, cheapest budget first; `now` marks the step in force under the
    TTFT budget `max_ttft_ms` (None: no limit, the last step)."""
    key = f"proxy_{family}"
    now = [s for s in steps if max_ttft_ms is None or s.from_ms <= max_ttft_ms]
    out, prev = [], None
    for s in steps:
        c, best = s.choice, s.most_accurate
        out.append({"now": "◀" if now and s is now[-1] else "",
                    "budget from ms": s.from_ms, "trial": c["number"],
                    "TTFT ms": c["ttft_ms"], f"proxy {FAMILIES[family]}": c.get(key),
                    "±": c.get(f"{key}_unc"),
                    "proxy gain vs step before": None if prev is None else c[key] - prev[key],
                    "ties with": "" if best["number"] == c["number"] else
                                 f"trial {best['number']} ({best[key]:.3f})",
                    "configuration": c.get("summary")})
        prev = c
    return out


def family_frame(frame: StudyFrame, family: str) -> StudyFrame:
    """The frame with `family` as its proxy objective (what `recommend` ranks by)."""
    return dataclasses.replace(frame, metric_names=["ttft_ms", f"proxy_{family}"],
                               directions=["minimize", "maximize"])


def hypervolume_over_trials(data: StudyData, family: str, budgets: Budgets):
    """(trial numbers, hypervolume after each) over the complete trials in trial order."""
    shown = plottable(data, family)
    idx = np.flatnonzero(shown)
    ok = budget_mask(data, budgets, family)[idx]
    hv = hypervolume_history(losses(data, family)[idx], reference_point(data, family), ok)
    return data.cols["number"][idx], hv


def front_rows(data: StudyData, view: FrontView) -> list[dict]:
    return [data.frame.rows[i] for i in view.front]


# ---- labels: proxies are proxies, with their tier and calibration error ----

def proxy_tier(data: StudyData) -> int | None:
    return data.memoised("tier", lambda: _proxy_tier(data))


def _proxy_tier(data: StudyData) -> int | None:
    tiers = Counter(r.get("proxy_tier") for r in data.frame.rows if r.get("proxy_tier") is not None)
    if tiers:
        return tiers.most_common(1)[0][0]
    return (data.frame.attrs.get("proxy") or {}).get("tier")


def calibration_rmse(data: StudyData, family: str) -> float | None:
    return data.memoised(("rmse", family), lambda: _rmse(data, family))


def _rmse(data: StudyData, family: str) -> float | None:
    vals = [r.get(f"calibration_rmse_{family}") for r in data.frame.rows]
    vals = [v for v in vals if isinstance(v, (int, float))]
    return float(np.median(vals)) if vals else None


def accuracy_label(data: StudyData, family: str, short: bool = False) -> str:
    """E.g. 'proxy accuracy (text-rich, tier 1) ±0.041 RMSE'; never a benchmark's name."""
    tier = proxy_tier(data)
    inner = FAMILIES[family] + ("" if tier is None else f", tier {tier}")
    rmse = calibration_rmse(data, family)
    label = f"proxy accuracy ({inner})"
    if rmse is not None and not short:
        label += f" ±{rmse:.3f} RMSE"
    return label


def ttft_label(data: StudyData) -> str:
    return f"TTFT (ms, measured on {data.device()}, log scale)"


# ---- failures ----

def failure_summary(data: StudyData, top: int = 5) -> list[tuple[str, int]]:
    """The most common reasons trials did not complete, with counts."""
    reasons = Counter(_reason(r) for r in data.frame.rows if r["state"] != "COMPLETE")
    return reasons.most_common(top)


def _reason(row: dict) -> str:
    if row.get(REPEAT_ATTR) is not None:
        return "skipped: a repeat of a configuration already evaluated"
    if row.get(OVER_BUDGET_ATTR) is not None:
        return "skipped: TTFT predicted over the budget (not measured)"
    err = str(row.get("error") or "no reason recorded").strip()
    return f"{row['state'].lower()}: {(err.splitlines() or [''])[0][:100]}"


def state_counts(data: StudyData) -> dict[str, int]:
    """Trials per state; the skipped (PRUNED: repeats, and samples predicted over the TTFT
    budget) are counted on their own, as `explorer.repeats.state_name` does."""
    return data.memoised("state_counts", lambda: dict(Counter(
        REPEATS_STATE if r.get(REPEAT_ATTR) is not None else
        OVER_BUDGET_STATE if r.get(OVER_BUDGET_ATTR) is not None else r["state"]
        for r in data.frame.rows)))


# ---- tables ----

def memory_header(rows: list[dict]) -> str:
    """'memory MB (predicted)' when every row's memory is the analytic prediction."""
    src = {r.get("memory_source") for r in rows if r.get("memory_mb") is not None}
    return "memory MB (predicted)" if src == {"predicted"} else "memory MB"


def front_table(rows: list[dict], family: str) -> list[dict]:
    """The front for display: one dict per trial, fastest first, the columns that decide a
    choice first (TTFT, proxy, memory, the confirmed TTFT when `confirm` ran), then the
    configuration and the breakdown. Numbers stay numbers (the page formats them)."""
    key = f"proxy_{family}"
    mem = memory_header(rows)
    confirmed = any(r.get("confirmed_ttft_ms") is not None for r in rows)
    mixed = mem == "memory MB" and any(r.get("memory_source") == "predicted" for r in rows)
    out = []
    for r in rows:
        row = {"trial": r["number"], "TTFT ms": r.get("ttft_ms"),
               f"proxy {FAMILIES[family]}": r.get(key), "±": r.get(f"{key}_unc"),
               mem: r.get("memory_mb")}
        if mixed:
            row["memory source"] = r.get("memory_source")
        if confirmed:
            row["confirmed TTFT ms"] = r.get("confirmed_ttft_ms")
            row["confirmed spread"] = r.get("confirmed_spread")
        row |= {"configuration": r.get("summary"), "encoder ms": r.get("encoder_ms"),
                "projector ms": r.get("projector_ms"), "prefill ms": r.get("prefill_ms"),
                "reference": r.get("reference") or "", "unstable": bool(r.get("unstable")),
                "extrapolated": bool(r.get("extrapolated"))}
        out.append(row)
    return out


def front_csv(rows: list[dict]) -> str:
    """The same columns as `fastvlm-explore pareto --csv` (`explorer.results.rows_csv`: nested
    values such as `config` as JSON)."""
    return rows_csv(rows)


@dataclass
class Comparison:
    """Several studies under budgets, side by side: what the Compare page and `compare --html`
    show (each `StudyData` named as it is shown)."""

    studies: list[tuple[StudyData, FrontView]]
    fronts: dict[str, list[dict]]  # study -> its front rows
    common: set[str]  # configuration keys on every front
    shared: list[dict]  # configurations completed in every study, with TTFT ratios
    one: dict  # `explorer.compare.one_for_all`

    @property
    def names(self) -> list[str]:
        return [d.name for d, _ in self.studies]

    @property
    def starred(self) -> dict[str, int] | None:
        """Study -> trial of the one configuration for all (None: there is none)."""
        return self.one["choice"]["trials"] if self.one["choice"] else None

    def on_every_front(self) -> list[dict]:
        return on_every_front(self.fronts)

    def shared_note(self) -> str:
        """How to read the `shared` table, with each study's speed against the first."""
        if not self.shared:
            return "No configuration was completed in every study."
        first = self.names[0]
        return (f"{len(self.shared)} configuration(s) completed in every study (budgets not "
                f"applied), by {first}'s TTFT; a ratio below 1 is faster than in {first}. "
                + " ".join(speed_line(s) + "." for s in speed_summary(self.shared, self.names)))


def compare_studies(studies: list[tuple[StudyData, FrontView]]) -> Comparison:
    """The `Comparison` of two or more studies, each under its view's budgets; the one
    configuration for all follows the first view's tie rule."""
    fronts = {d.name: front_rows(d, v) for d, v in studies}
    views = [v for _, v in studies]
    return Comparison(studies, fronts, common_front(fronts),
                      common_configs([d.frame for d, _ in studies]),
                      one_for_all([d.frame for d, _ in studies], [v.budgets for v in views],
                                  ties=views[0].recommendation.ties))
