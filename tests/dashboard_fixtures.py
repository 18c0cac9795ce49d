"""Synthetic studies in the real storage schema, for dashboard tests and benchmarks (no torch).

    python -c "from tests.dashboard_fixtures import build_study; \
print(build_study('sqlite:////tmp/demo.db', 'demo', n=200))"

Each study is created through `explorer.storage.open_storage` with the metric names and study
attributes `explorer.study.open_study` sets; each trial's user attributes come from
`TrialRecord.to_user_attrs()` with real configurations (`SearchSpace.config_from_params`) and
real analytic counts (`fastvlm.analytic.analyze`). Latencies and proxy scores are SYNTHETIC
(smooth functions of the analytic FLOPs plus seeded noise), so these studies are for testing and
timing the dashboard only; the study description and device name say so.
"""

from __future__ import annotations

import numpy as np
import optuna
import warnings
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from explorer.records import SCHEMA_VERSION, TrialRecord
from explorer.space import Choice, IntRange, SearchSpace
from explorer.storage import open_storage
from fastvlm.analytic import analyze
from fastvlm.presets import preset

OBJECTIVES = [  # as explorer.study.study_attrs writes them
    {"name": "ttft_ms", "direction": "minimize", "unit": "ms", "label": "TTFT (ms, measured)"},
    {"name": "proxy_text_rich", "direction": "maximize", "unit": "",
     "label": "proxy accuracy (text-rich)"},
]
SPACE = SearchSpace(resolution=IntRange(256, 1536, 128),
                    llm=Choice(("qwen2-0.5b", "qwen2-1.5b")),
                    width_multiplier=Choice((0.5, 0.75, 1.0)),
                    output_pool=Choice((1, 2)))
RMSE = {"text_rich": 0.041, "general": 0.027}


def study_attrs(name: str, device: str, max_ttft_ms: float | None) -> dict:
    fingerprint = {"device": "cpu", "device_name": device, "threads": 2, "interop_threads": 1,
                   "flush_denormal": True, "versions": {"synthetic": "1"},
                   "fingerprint": f"synthetic-{device}"}
    spec = {"name": name, "description": f"SYNTHETIC test study on '{device}' (not measured)",
            "objectives": [o["name"] for o in OBJECTIVES], "proxy": {"tier": 1},
            "constraints": {"max_ttft_ms": max_ttft_ms}}
    return {"schema_version": SCHEMA_VERSION, "spec": spec, "spec_raw": spec,
            "fingerprint": fingerprint, "objectives": OBJECTIVES,
            "constraints": {"max_ttft_ms": max_ttft_ms, "max_memory_mb": None},
            "proxy": {"tier": 1}}


def _ttft(counts: dict, speed: float, rng) -> dict:
    g = counts["gflops"]
    enc = g["encoder"] / (40.0 * speed) * 1e3 * rng.lognormal(0, 0.05)
    proj = max(g.get("projector", 0.0) / (30.0 * speed) * 1e3, 0.05)
    pre = g["prefill"] / (60.0 * speed) * 1e3 * rng.lognormal(0, 0.05)
    total = enc + proj + pre
    prep = 30.0 / speed  # image preprocessing, beside TTFT (no draw: seeded studies keep)
    n = int(rng.integers(5, 30))
    unstable = bool(rng.random() < 0.05)
    stages = {k: {"median_ms": v, "p90_ms": v * 1.05, "ci_ms": [v * 0.98, v * 1.02], "n": n,
                  "iqr_rel": 0.02, "unstable": unstable, "source": "measured", "cold_ms": None,
                  "detail": {}}
              for k, v in (("encoder", enc), ("projector", proj), ("prefill", pre))}
    return {"ttft_ms": total, "encoder_ms": enc, "projector_ms": proj, "prefill_ms": pre,
            "ttft_p90_ms": total * 1.06, "ttft_ci_ms": [total * 0.97, total * 1.03],
            "ttft_method": "end_to_end", "additivity_error": 0.01, "cold_ttft_ms": total * 1.8,
            "n": n, "unstable": unstable, "extrapolated": bool(g["prefill"] > 3000),
            "cached": [], "peak_memory_mb": counts["predicted_peak_mb"],
            "peak_memory_source": "predicted", "device": "cpu", "dtype": "float32",
            "device_name": "synthetic", "threads": 2,
            "roofline": {"peak_gflops_s": 200.0 * speed, "encoder_gflops_s": 40.0 * speed,
                         "prefill_gflops_s": 60.0 * speed, "encoder_fraction_of_peak": 0.2,
                         "prefill_fraction_of_peak": 0.3, "above_peak": False},
            "stages": stages, "preprocess_ms": prep,
            "preprocess": {"median_ms": prep, "p90_ms": prep * 1.1, "n": n,
                           "image": "1920x1080 JPEG (q90)", "steps": "decode, resize",
                           "in_ttft": False}}


def _proxy(cfg, rng) -> dict:
    legibility = 1 - np.exp(-cfg.resolution / 700) * (1.3 if cfg.encoder.output_pool > 1 else 1)
    llm_gain = {"qwen2-0.5b": 0.0, "qwen2-1.5b": 0.06, "qwen2-7b": 0.12}.get(cfg.llm.name, 0)
    width = cfg.encoder.widths[0] / 96
    fams = {"text_rich": 0.25 + 0.45 * legibility + llm_gain + 0.03 * width,
            "general": 0.45 + 0.15 * legibility + 1.5 * llm_gain + 0.02 * width}
    families = {f: {"value": float(np.clip(v + rng.normal(0, 0.01), 0, 1)), "uncertainty": 0.02,
                    "label": f"proxy accuracy ({f.replace('_', '-')}, tier 1)"}
                for f, v in fams.items()}
    return {"name": "synthetic", "tier": 1, "label": "proxy accuracy (tier 1)",
            "families": families, "calibration_rmse": dict(RMSE), "cost_ms": 1.0,
            "llm_prior": True, "notes": ["synthetic test values"]}


def _distributions() -> dict:
    out = {}
    for name, dim in SPACE.dims().items():
        out[name] = (IntDistribution(dim.low, dim.high, step=dim.step)
                     if isinstance(dim, IntRange) else CategoricalDistribution(list(dim.values)))
    return out


def make_trial(number: int, rng, speed: float = 1.0, max_ttft_ms: float | None = None,
               state: TrialState = TrialState.COMPLETE, reference: str | None = None,
               params: dict | None = None):
    """One FrozenTrial with the attributes `TrialRunner` would store."""
    dists = _distributions()
    if params is None:
        params = {n: (int(rng.choice(d.high - d.low + 1) // d.step * d.step + d.low)
                      if isinstance(d, IntDistribution)
                      else d.choices[rng.integers(len(d.choices))])
                  for n, d in dists.items()}
    cfg = SPACE.config_from_params(params)
    counts = analyze(cfg).to_dict()
    common = dict(params=params, distributions=dists)
    if state != TrialState.COMPLETE:
        return create_trial(state=state, user_attrs={"error": "pre-filter: synthetic failure"},
                            **common)
    rec = TrialRecord(config=cfg.to_dict(), summary=cfg.summary(), counts=counts,
                      ttft=_ttft(counts, speed, rng), proxy=_proxy(cfg, rng),
                      memory_mb=counts["predicted_peak_mb"], reference=reference,
                      fingerprint="synthetic")
    if max_ttft_ms is not None:
        rec.constraints = {"max_ttft_ms": rec.ttft["ttft_ms"] - max_ttft_ms}
    values = [rec.ttft["ttft_ms"], rec.proxy["families"]["text_rich"]["value"]]
    return create_trial(state=state, values=values, user_attrs=rec.to_user_attrs(), **common)


def reference_params(name: str = "fastvlm-0.5b") -> dict:
    params = SPACE.params_of(preset(name, prompt_tokens=32, dtype="float32"))
    assert params is not None, name
    return params


def build_study(url: str, name: str, n: int = 40, seed: int = 0, speed: float = 1.0,
                device: str = "synthetic-cpu", failed: float = 0.1,
                max_ttft_ms: float | None = 4000.0, only_failed: bool = False) -> str:
    """Create study `name` in `url` with `n` trials (about `failed` of them failed/pruned)."""
    storage = _fast_writes(open_storage(url))
    study = optuna.create_study(study_name=name, storage=storage,
                                directions=[o["direction"] for o in OBJECTIVES])
    _set_attrs(study, study_attrs(name, device, max_ttft_ms))
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(n):
        if i == 0 and not only_failed:  # the published point, enqueued first by open_study
            trials.append(make_trial(i, rng, speed, max_ttft_ms, reference="fastvlm-0.5b",
                                     params=reference_params()))
        elif only_failed or rng.random() < failed:
            state = TrialState.FAIL if rng.random() < 0.7 else TrialState.PRUNED
            trials.append(make_trial(i, rng, speed, max_ttft_ms, state=state))
        else:
            trials.append(make_trial(i, rng, speed, max_ttft_ms))
    study.add_trials(trials)
    return name


def empty_study(url: str, name: str) -> str:
    storage = open_storage(url)
    study = optuna.create_study(study_name=name, storage=storage,
                                directions=[o["direction"] for o in OBJECTIVES])
    _set_attrs(study, study_attrs(name, "synthetic-cpu", None))
    return name


def _fast_writes(storage):
    """SQLite without fsync per commit (building only; the schema is Optuna's own)."""
    engine = getattr(storage, "engine", None)
    if engine is not None and engine.url.get_backend_name() == "sqlite":
        from sqlalchemy import event

        event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=OFF"))
        engine.dispose()
    return storage


def _set_attrs(study, attrs: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # set_metric_names is "experimental"
        study.set_metric_names([o["name"] for o in OBJECTIVES])
    for k, v in attrs.items():
        study.set_user_attr(k, v)
