"""The study driver: create or resume an Optuna study for a spec and run trials on this device.

    fastvlm-explore sweep studies/quick.toml              # default embedded SQLite storage
    fastvlm-explore worker --study paper --storage postgresql://host/db   # join from elsewhere

A trial is: `space.sample` -> pre-filter -> TTFT (component cache) -> proxy -> values and a
`TrialRecord` in the trial's user attributes. Failures (invalid samples, pre-filter, OOM,
anything else) are recorded with their reason and the study goes on. A configuration proposed
again is not evaluated again (explorer/repeats.py), nor is one whose TTFT is predicted, from the
study's own timings, to be clearly over its budget (explorer/predict.py). Ctrl-C marks the
running trial as interrupted; running the same command again resumes and re-runs it.
"""

from __future__ import annotations

import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field

import optuna
from optuna.trial import TrialState

from fastvlm.cache import LatencyCache
from fastvlm.config import ConfigError
from fastvlm.presets import preset
from fastvlm.runtime import RuntimeInfo, setup_runtime

from .errors import StudyError
from .evaluate import Infeasible, evaluate_config, prefilter
from .objectives import get_objective
from .predict import OverBudget, TtftBound
from .records import SCHEMA_VERSION
from .repeats import (INTERRUPTED, OVER_BUDGET_ATTR, REPEAT_ATTR, StopRule, counted,
                      earlier_twin, state_name)
from .spec import SpecError, StudySpec, spec_from_dict, spec_identity
from .storage import SQLITE_CONCURRENCY_NOTE, is_sqlite, load_study, study_names



# Constraints live where every reader looks: a list under the trial's "constraints" system
# attribute, written by the objective whatever the sampler. Optuna 5 samplers read it from the
# trial (`FrozenTrial.constraints`) and deprecate `constraints_func`; Optuna 4.x samplers need
# `constraints_func` to honour it (and re-write the same list). Not Optuna 5's per-key
# `set_constraint`: optuna-dashboard (0.21) reads only the list and would draw every trial as
# feasible.
CONSTRAINTS_ATTR = "constraints"
SAMPLERS_READ_TRIAL_CONSTRAINTS = hasattr(optuna.trial.FrozenTrial, "constraints")


def make_sampler(spec: StudySpec) -> optuna.samplers.BaseSampler:
    cons = None if SAMPLERS_READ_TRIAL_CONSTRAINTS else constraints_func(spec)
    s = optuna.samplers
    if spec.sampler == "nsga2":
        return s.NSGAIISampler(population_size=spec.population_size, seed=spec.seed,
                               constraints_func=cons)
    if spec.sampler == "tpe":
        return s.TPESampler(seed=spec.seed, multivariate=True, constraints_func=cons,
                            n_startup_trials=spec.n_startup_trials)
    if spec.sampler == "gp":
        return s.GPSampler(seed=spec.seed, constraints_func=cons,
                           n_startup_trials=spec.n_startup_trials)
    if spec.sampler == "grid":
        return s.GridSampler(spec.space.grid(), seed=spec.seed)
    return s.RandomSampler(seed=spec.seed)


def constraint_names(spec: StudySpec) -> list[str]:
    return [n for n, v in (("max_ttft_ms", spec.max_ttft_ms),
                           ("max_memory_mb", spec.max_memory_mb)) if v is not None]


def sampler_constraints(spec: StudySpec, recorded: dict) -> dict[str, float]:
    """What the sampler sees per constraint (<= 0 satisfied); one missing counts as violated."""
    return {n: float(recorded.get(n, 1.0)) for n in constraint_names(spec)}


def constraints_func(spec: StudySpec):
    """The pre-Optuna-5 route: the sampler asks after each complete trial."""
    if not constraint_names(spec):
        return None

    def func(trial: optuna.trial.FrozenTrial) -> list[float]:
        return list(sampler_constraints(spec, trial.user_attrs.get("constraints") or {}).values())

    return func


def study_attrs(spec: StudySpec, runtime: RuntimeInfo) -> dict:
    from fastvlm.proxy import get_proxy
    from fastvlm.proxy.calibrate import load as load_calibration

    objectives = [{"name": o.name, "direction": o.direction, "unit": o.unit, "label": o.label}
                  for o in map(get_objective, spec.objectives)]
    return {"schema_version": SCHEMA_VERSION, "spec": spec.to_dict(), "spec_raw": spec.raw,
            "fingerprint": runtime.to_dict(), "objectives": objectives,
            "constraints": {"max_ttft_ms": spec.max_ttft_ms, "max_memory_mb": spec.max_memory_mb},
            "proxy": _proxy_attrs(spec.proxy_tier, get_proxy, load_calibration)}


def _proxy_attrs(tier: int, get_proxy, load_calibration) -> dict:
    """What the study's proxy is and how good its calibration is (shown next to every value)."""
    proxy = get_proxy(tier)
    cal = load_calibration()
    fits = cal["tiers"].get(str(min(tier, 1)), {})
    return {"tier": tier, "name": proxy.name, "measures": proxy.measures,
            "calibration_version": cal["data"]["version"],
            "calibration_rmse": {f: fit["loo_rmse"] for f, fit in fits.items()
                                 if f != "measurement"}}


def open_study(spec: StudySpec, storage, runtime: RuntimeInfo,
               allow_other_device: bool = False) -> optuna.Study:
    """Create the study (metric names, attrs, reference points) or resume it after checks."""
    study = existing_study(spec, storage, runtime, allow_other_device)
    if study is not None:
        requeue_interrupted(study)
        return study
    directions = [get_objective(o).direction for o in spec.objectives]
    try:
        study = optuna.create_study(study_name=spec.name, storage=storage,
                                    directions=directions, sampler=make_sampler(spec))
    except optuna.exceptions.DuplicatedStudyError:  # another process created it just now
        return existing_study(spec, storage, runtime, allow_other_device)
    with warnings.catch_warnings():  # stable in practice; optuna-dashboard reads it
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(spec.objectives))
    for k, v in study_attrs(spec, runtime).items():
        study.set_user_attr(k, v)
    enqueue_references(study, spec)
    return study


def existing_study(spec: StudySpec, storage, runtime: RuntimeInfo,
                   allow_other_device: bool = False) -> optuna.Study | None:
    """The stored study of `spec`'s name, if any, after checking that this spec and device may
    resume it (else a SpecError or StudyError). Changes nothing in the storage."""
    if spec.name not in study_names(storage):
        return None
    study = optuna.load_study(study_name=spec.name, storage=storage, sampler=make_sampler(spec))
    stored = study.user_attrs.get("spec_raw")
    if stored is not None:
        theirs, ours = spec_identity(stored), spec.identity()
        diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        if diff:
            raise SpecError(f"study {spec.name!r} exists with a different spec (differs in: "
                            f"{', '.join(diff)}); rename the study (`sweep FILE --name NEW`), use "
                            "the stored one, or delete it "
                            f"(`fastvlm-explore studies --delete {spec.name}`)")
    check_device(study, runtime, allow_other_device)
    return study


def check_device(study: optuna.Study, runtime: RuntimeInfo, allow: bool) -> None:
    stored = study.user_attrs.get("fingerprint") or {}
    if stored and stored.get("fingerprint") != runtime.fingerprint and not allow:
        raise StudyError(
            f"study {study.study_name!r} was measured on {stored.get('device')} "
            f"({stored.get('device_name')}, {stored.get('threads')} threads, "
            f"{stored.get('versions')}); this worker is {runtime.device} "
            f"({runtime.device_name}, {runtime.threads} threads, {runtime.versions}). "
            "Latencies from different devices must not mix: use another study name (`sweep "
            "FILE --name NEW`), or --allow-other-device if you really mean it")


def enqueue_references(study: optuna.Study, spec: StudySpec) -> None:
    """Enqueue the published FastVLM points that lie inside the space; note the others."""
    space, skipped = spec.space, {}
    for name in spec.references:
        cfg = preset(name, prompt_tokens=space.prompt_tokens.grid()[0],
                     dtype=space.dtype.grid()[0])
        params = space.params_of(cfg)
        if params is None:
            skipped[name] = "outside this study's search space"
            continue
        study.enqueue_trial(params, user_attrs={"reference": name}, skip_if_exists=True)
    study.set_user_attr("references_skipped", skipped)


def requeue_interrupted(study: optuna.Study) -> int:
    """Re-run trials that a Ctrl-C interrupted (once each)."""
    done = set(study.user_attrs.get("requeued", []))
    todo = [t for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
            if str(t.user_attrs.get("error", "")).startswith(INTERRUPTED)
            and t.number not in done and t.params]
    for t in todo:
        attrs = {k: v for k, v in t.user_attrs.items() if k == "reference"}
        study.enqueue_trial(t.params, user_attrs=attrs)
    if todo:
        study.set_user_attr("requeued", sorted(done | {t.number for t in todo}))
    return len(todo)


@dataclass
class TrialRunner:
    """The Optuna objective: one trial of `spec` on this process's device."""

    spec: StudySpec
    runtime: RuntimeInfo
    cache: LatencyCache | None
    log: list = field(default_factory=list)
    _bound: tuple[int, TtftBound] | None = None  # (complete trials it was fitted on, bound)

    def __call__(self, trial: optuna.Trial) -> list[float]:
        reference = trial.user_attrs.get("reference")
        try:
            cfg = self.spec.space.sample(trial)
            twin = (earlier_twin(trial.study, trial)
                    if self.spec.repeats == "skip" else None)
            if twin is not None:
                trial.set_user_attr(REPEAT_ATTR, twin)
                trial.set_user_attr("error", f"repeat of trial {twin} (same configuration): "
                                             "not evaluated again, not counted")
                raise optuna.TrialPruned(f"repeat of trial {twin}")
            over = self.over_budget(trial, cfg, reference)
            if over is not None:
                trial.set_user_attr(OVER_BUDGET_ATTR, over.to_dict())
                trial.set_user_attr("error", over.reason())
                raise optuna.TrialPruned(over.reason())
            curve: list = []

            def report(step: int, value: float) -> bool:
                curve.append([step, value])
                trial.set_user_attr("proxy_curve", curve)
                return False  # multi-objective Optuna cannot prune; keep the curve for users

            rec, values = evaluate_config(cfg, self.spec, self.cache, self.runtime, reference,
                                          proxy_report=report)
        except KeyboardInterrupt:
            trial.set_user_attr("error", f"{INTERRUPTED} (Ctrl-C); re-run on resume")
            raise
        except optuna.TrialPruned:
            raise
        except ConfigError as e:
            trial.set_user_attr("error", f"invalid sample: {e}")
            raise
        except Infeasible as e:
            trial.set_user_attr("error", f"pre-filter: {e}")
            raise
        except MemoryError as e:
            trial.set_user_attr("error", f"out of memory: {e}")
            raise
        except Exception as e:
            kind = "out of memory" if "out of memory" in str(e).lower() else type(e).__name__
            trial.set_user_attr("error", f"{kind}: {e}")
            trial.set_user_attr("traceback", traceback.format_exc()[-4000:])
            raise
        for k, v in rec.to_user_attrs().items():
            trial.set_user_attr(k, v)
        if constraint_names(self.spec):
            trial.storage.set_trial_system_attr(  # the public storage API; no trial accessor
                trial._trial_id, CONSTRAINTS_ATTR,
                list(sampler_constraints(self.spec, rec.constraints).values()))
        return values

    def over_budget(self, trial: optuna.Trial, cfg, reference: str | None) -> OverBudget | None:
        """Why `cfg` need not be measured (its TTFT is predicted over the budget), or None.
        Published reference points are always measured; the memory pre-filter comes first."""
        spec = self.spec
        if reference is not None or not spec.skip_over_budget or spec.max_ttft_ms is None:
            return None
        counts = prefilter(cfg, spec)
        done = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if self._bound is None or self._bound[0] != len(done):
            self._bound = (len(done), TtftBound.from_trials(done))
        return self._bound[1].over_budget(cfg, counts, spec.max_ttft_ms)


def run_study(spec: StudySpec, storage, storage_url: str, trials: int | None = None,
              timeout_s: float | None = None, allow_other_device: bool = False,
              cache: LatencyCache | None = None, show_progress: bool | None = None) -> dict:
    """Run trials until the study has `trials` finished ones that are not repeats (or it stops
    early, see explorer/repeats.py, or the timeout); summary dict. Sweeps and workers alike:
    every process stops when the shared study reaches the target."""
    from .progress import SweepProgress

    ms = spec.measure_settings()
    runtime = setup_runtime(ms.device, ms.threads)
    study = open_study(spec, storage, runtime, allow_other_device)
    target = trials or spec.trials
    finished = lambda: len(counted(study.get_trials(deepcopy=False)))  # noqa: E731
    own_cache = cache is None  # made here, so closed here
    runner = TrialRunner(spec, runtime, LatencyCache() if own_cache else cache)
    stop = StopRule(target, spec.space.size() if spec.repeats == "skip" else None)
    # the bar's total: a space smaller than the target ends the sweep when every point is done
    by_space = stop.space_size is not None and stop.space_size < target
    total = stop.space_size if by_space else target
    progress = SweepProgress(study, spec, total, finished(), enabled=show_progress,
                             by_space=by_space)
    start = time.perf_counter()
    interrupted = False
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    already = stop.met(study)
    if already and stop.reason is None:
        n = finished()
        print(f"study {study.study_name} already has {n} trials (asked for {target}): nothing "
              f"to run; --trials N (more than {n}) adds trials", file=sys.stderr)
    try:
        if not already:
            # no n_trials: repeats do not count, so `stop` ends the run (or the timeout)
            study.optimize(runner, timeout=timeout_s if timeout_s is not None else spec.timeout_s,
                           catch=(Exception,), callbacks=[stop, progress],
                           gc_after_trial=True)
    except KeyboardInterrupt:
        interrupted = True
    except Exception as e:
        if is_sqlite(storage_url) and "database is locked" in str(e):
            raise StudyError(f"{e}. {SQLITE_CONCURRENCY_NOTE}") from None
        raise
    finally:
        progress.close()
        if own_cache:
            runner.cache.close()
    summary = summarize(study, storage_url)
    summary.update(elapsed_s=time.perf_counter() - start, interrupted=interrupted,
                   stopped_early=stop.reason)
    if stop.reason:
        print(f"stopped early: {stop.reason}", file=sys.stderr)
    if interrupted:
        print(f"stopped: {summary['trials'].get('COMPLETE', 0)} trials complete and stored; "
              "run the same command again to resume", file=sys.stderr)
    return summary


def summarize(study: optuna.Study, storage_url: str) -> dict:
    from .results import study_frame

    frame = study_frame(study)
    counts = {}
    for t in study.get_trials(deepcopy=False):
        state = state_name(t)
        counts[state] = counts.get(state, 0) + 1
    return {"study": study.study_name, "storage": storage_url, "trials": counts,
            "pareto": frame.pareto_numbers(), "knee": frame.knee_number()}


def load_spec_from_study(study: optuna.Study) -> StudySpec:
    raw = study.user_attrs.get("spec_raw")
    if raw is None:
        raise StudyError(f"study {study.study_name!r} was not created by fastvlm-explore "
                         "(no stored spec)")
    return spec_from_dict(raw, source=f"study {study.study_name!r}")


def worker_spec(name: str, storage) -> StudySpec:
    return load_spec_from_study(load_study(name, storage))
