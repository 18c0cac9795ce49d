"""One trial in full, its export as a zip, and parameter importances (pure; no Streamlit/torch).

    python -c "from dashboard.details import load_trial; print(load_trial(None, 'quick', 0))"
"""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass

import optuna

from explorer.records import TrialRecord
from explorer.repeats import REPEAT_ATTR

from .data import DashboardError, _first_line, _storage


@dataclass
class TrialDetail:
    number: int
    state: str
    record: TrialRecord | None
    params: dict
    error: str | None
    repeat_of: int | None = None  # a skipped repeat: the trial that evaluated its configuration


def load_trial(url: str | None, study: str, number: int) -> TrialDetail:
    """One trial's stored record, read by number without loading the whole study."""
    storage = _storage(url)
    try:
        study_id = storage.get_study_id_from_name(study)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
        t = storage.get_trial(trial_id)
    except KeyError:
        raise DashboardError(f"no trial {number} in study {study!r}") from None
    except Exception as e:
        raise DashboardError(f"cannot read trial {number}: {_first_line(e)}") from None
    repeat = t.user_attrs.get(REPEAT_ATTR)
    return TrialDetail(number, t.state.name, TrialRecord.from_user_attrs(t.user_attrs),
                       dict(t.params), t.user_attrs.get("error"),
                       int(repeat) if isinstance(repeat, (int, float)) else None)


def export_zip(detail: TrialDetail, study: str, study_attrs: dict) -> tuple[str, bytes]:
    """(file name, zip bytes) of `explorer.export.export_files` for a complete trial."""
    from explorer.export import export_files

    if detail.record is None or detail.state != "COMPLETE":
        raise DashboardError(f"trial {detail.number} is {detail.state.lower()}; only complete "
                             "trials can be exported")
    files = export_files(detail.record, study, detail.number, study_attrs)
    folder = f"{study}-{detail.number}"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in sorted(files.items()):
            z.writestr(f"{folder}/{name}", content)
    return f"{folder}.zip", buf.getvalue()


def measurement_table(rec: TrialRecord) -> list[dict]:
    """Per stage and end to end: median, 95% CI, p90, n, unstable, source."""
    t = rec.ttft or {}
    out = []
    for name, s in (t.get("stages") or {}).items():
        ci = s.get("ci_ms") or [None, None]
        out.append({"stage": name, "median ms": s.get("median_ms"), "CI low ms": ci[0],
                    "CI high ms": ci[1], "p90 ms": s.get("p90_ms"), "n": s.get("n"),
                    "unstable": s.get("unstable"), "source": s.get("source")})
    ci = t.get("ttft_ci_ms") or [None, None]
    out.append({"stage": f"TTFT ({t.get('ttft_method', '?')})", "median ms": t.get("ttft_ms"),
                "CI low ms": ci[0], "CI high ms": ci[1], "p90 ms": t.get("ttft_p90_ms"),
                "n": t.get("n"), "unstable": t.get("unstable"),
                "source": "extrapolated prefill" if t.get("extrapolated") else "measured"})
    pre = t.get("preprocess")
    if pre:  # beside TTFT, not in it
        out.append({"stage": "image preprocessing (not in TTFT)", "median ms": pre["median_ms"],
                    "CI low ms": None, "CI high ms": None, "p90 ms": pre["p90_ms"],
                    "n": pre["n"], "unstable": None, "source": f"{pre['image']}: {pre['steps']}"})
    return out


def humanise_note(note: str) -> str:
    """A proxy note as the page shows it: family keys by their labels, '+/-' as '±'
    ('text_rich legibility 0.438 +/- 0.064' -> 'text-rich legibility 0.438 ± 0.064')."""
    from .data import FAMILIES

    for key, label in FAMILIES.items():
        note = note.replace(key, label)
    return note.replace("+/-", "±")


def counts_table(rec: TrialRecord) -> list[dict]:
    """Analytic counts (params, GFLOPs, tokens, memory), labelled as analytic."""
    c = rec.counts or {}
    rows = [{"quantity": f"params {k}", "value": f"{v / 1e6:,.1f} M"}
            for k, v in (c.get("params") or {}).items()]
    rows += [{"quantity": f"GFLOPs {k}", "value": f"{v:,.2f}"}
             for k, v in (c.get("gflops") or {}).items()]
    for key, label in (("visual_tokens", "visual tokens"), ("seq_len", "sequence length")):
        if c.get(key) is not None:
            rows.append({"quantity": label, "value": f"{c[key]:,}"})
    for key, label in (("weight_bytes", "weights"), ("kv_cache_bytes", "KV cache"),
                       ("activation_bytes", "activations"),
                       ("predicted_peak_bytes", "predicted peak memory")):
        if c.get(key) is not None:
            rows.append({"quantity": label, "value": f"{c[key] / 2**20:,.0f} MB"})
    return rows


PED_ANOVA_MIN_TRIALS = 10  # below, its top 10% is one or two trials: too few to rank by
ETA_MIN_TRIALS = 3


@dataclass(frozen=True)
class Importances:
    """Parameter -> importance for one objective, most important first, and the method."""
    method: str  # "PED-ANOVA" (shares summing to 1) or "eta-squared" (each parameter alone)
    values: dict[str, float]

    @property
    def axis_title(self) -> str:
        return ("importance (share, PED-ANOVA)" if self.method == "PED-ANOVA" else
                "variance explained by the parameter alone (eta-squared)")


def importances(url: str | None, study: str,
                proxy: dict[int, float] | None = None) -> list[Importances | str]:
    """Parameter importances for TTFT and for a proxy accuracy, or for each the one-line reason
    there are none (too few complete trials, evaluator error). From 10 complete trials:
    PED-ANOVA (fast, no scikit-learn); below, where its top 10% would be a trial or two:
    one-way ANOVA eta-squared, the share of the objective's variance (of log TTFT, for TTFT)
    each parameter's value explains alone, which a small, fully evaluated space (quick.toml
    has 8 configurations) answers exactly. `proxy` (trial number -> value) is the accuracy
    family the page shows, so importances follow the family picked in the sidebar rather than
    always the study's own objective; None takes the study's second objective.

    The complete trials are read once, with SQL (`read_frozen_trials`), for both: reading them
    through Optuna took 6.2 s for 10,000 trials. The evaluator reads them from a `TrialsView`,
    not a copy in an in-memory study (1.4 s for 9,000 trials). PED-ANOVA ranks low `target`
    values as good, so the proxy (maximised) is negated here (optuna-dashboard#1329 computed
    the wrong tail). Raises `DashboardError` when the study cannot be read.
    """
    import math

    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    from explorer.storage import load_study
    from explorer.trial_reader import read_frozen_trials

    storage = _storage(url)
    try:
        s = load_study(study, storage)
        done = read_frozen_trials(s)
    except Exception as e:
        raise DashboardError(_first_line(e)) from None
    targets = [lambda t: t.values[0],
               (lambda t: -t.values[1]) if proxy is None else (lambda t: -proxy[t.number])]
    usable = [done, done if proxy is None else [
        t for t in done if math.isfinite(proxy.get(t.number, math.nan))]]
    out = []
    for k, (target, trials) in enumerate(zip(targets, usable)):
        if len(trials) < PED_ANOVA_MIN_TRIALS:
            log = k == 0  # TTFT spans decades: its ratios, not its milliseconds
            out.append(variance_explained(trials, lambda t: math.log(target(t)) if log
                                          else target(t)))
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append(Importances("PED-ANOVA", get_param_importances(
                    TrialsView(trials, s.directions), evaluator=PedAnovaImportanceEvaluator(),
                    target=target)))
        except Exception as e:
            out.append(f"importance evaluation failed: {_first_line(e)}")
    return out


def variance_explained(trials: list, target) -> Importances | str:
    """One-way ANOVA eta-squared of each parameter taking two or more values: between-group
    over total sum of squares of `target`, grouped by the parameter's value. Each parameter
    alone; in a full grid they add up to at most 1 (interactions take the rest)."""
    import numpy as np

    if len(trials) < ETA_MIN_TRIALS:
        return (f"parameter importances need at least {ETA_MIN_TRIALS} complete trials "
                f"({len(trials)} so far)")
    y = np.array([target(t) for t in trials], dtype=float)
    total = float(((y - y.mean()) ** 2).sum())
    if total <= 1e-12 * max(1.0, float(np.abs(y).max())) ** 2:
        return "the objective is the same in every complete trial: nothing to attribute"
    shared = set.intersection(*(set(t.params) for t in trials))
    values = {}
    for name in sorted(shared):
        keys = np.array([repr(t.params[name]) for t in trials])
        groups = [y[keys == key] for key in np.unique(keys)]
        if len(groups) > 1:
            values[name] = sum(len(g) * (g.mean() - y.mean()) ** 2 for g in groups) / total
    if not values:
        return "every parameter has one value in the complete trials: nothing to attribute"
    return Importances("eta-squared", dict(sorted(values.items(), key=lambda kv: -kv[1])))


class TrialsView(optuna.Study):
    """An Optuna study whose trials are `trials`, a list already in memory: what importance
    evaluators read (`get_trials` and `directions`, in Optuna 4.2 to 5), with nothing copied."""

    def __init__(self, trials: list, directions: list):
        storage = optuna.storages.InMemoryStorage()  # holds the directions, no trials
        study = optuna.create_study(storage=storage, directions=directions)
        super().__init__(study_name=study.study_name, storage=storage)
        self._trials = trials

    def get_trials(self, deepcopy: bool = True, states=None) -> list:
        return [t for t in self._trials if states is None or t.state in states]


def param_label(name: str) -> str:
    """A search-space parameter as the page names it: 'width_multiplier' -> 'width multiplier'."""
    special = {"llm": "LLM", "ttft_ms": "TTFT"}
    return special.get(name, name.replace("_", " "))
