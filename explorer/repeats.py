"""Repeated configurations: evaluated once, not counted toward the trial target.

Samplers propose configurations they have tried before; in a small discrete space NSGA-II does
it often (the quick study's first 10 trials held 6 distinct configurations of its 8). A repeat
would measure nothing new (the component cache answers) and would take a slot of the trial
budget, so it is recorded as PRUNED with `repeat_of` = the earlier trial, and the sweep runs
until `target` trials that are not repeats have finished. It also stops when every
configuration of the space has been evaluated, or when the sampler has proposed only repeats
`patience` times in a row (it has converged; more trials would add nothing). A study file
can ask for repeats to be evaluated like any trial instead (`[run] repeats = "evaluate"`, e.g.
with `use_cache = false` to see how a configuration's timing varies).

Samples skipped as predicted over the TTFT budget (explorer/predict.py, `predicted_over_budget`)
are PRUNED and not counted either, by the same rules.
"""

from __future__ import annotations

import json

import optuna
from optuna.trial import FrozenTrial, TrialState

REPEAT_ATTR = "repeat_of"
REPEATS_STATE = "REPEATS SKIPPED"  # how summaries count them, apart from real PRUNED trials
FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)
OVER_BUDGET_ATTR = "predicted_over_budget"  # explorer/predict.py: skipped, not measured
OVER_BUDGET_STATE = "SKIPPED OVER BUDGET"
INTERRUPTED = "interrupted"  # error prefix of a trial stopped by Ctrl-C (re-run on resume)


def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def to_rerun(t: FrozenTrial) -> bool:
    """A failure that a re-run would not meet again: no recorded reason (a worker killed
    mid-trial, failed by its stale heartbeat and retried) or interrupted by Ctrl-C (requeued on
    resume). Such a trial neither counts nor makes its configuration evaluated."""
    if t.state != TrialState.FAIL:
        return False
    error = str(t.user_attrs.get("error", ""))
    return not error or error.startswith(INTERRUPTED)


def earlier_twin(study: optuna.Study, trial: optuna.Trial) -> int | None:
    """The earlier trial that evaluated the same parameters: complete, or failed with a recorded
    reason that a re-run would meet again (not `to_rerun`)."""
    key = _key(trial.params)
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        if t.number >= trial.number or REPEAT_ATTR in t.user_attrs or _key(t.params) != key:
            continue
        if not to_rerun(t):
            return t.number
    return None


def skipped(t: FrozenTrial) -> bool:
    """Not evaluated: a repeat, or predicted over the TTFT budget."""
    return REPEAT_ATTR in t.user_attrs or OVER_BUDGET_ATTR in t.user_attrs


def state_name(t: FrozenTrial) -> str:
    """The trial's state as summaries count it: skips apart from other PRUNED trials."""
    if REPEAT_ATTR in t.user_attrs:
        return REPEATS_STATE
    return OVER_BUDGET_STATE if OVER_BUDGET_ATTR in t.user_attrs else t.state.name


def counted(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Finished trials that count toward the target (not skipped, not to be re-run)."""
    return [t for t in trials if t.state in FINISHED and not skipped(t) and not to_rerun(t)]


def settled_configurations(trials: list[FrozenTrial]) -> int:
    """Distinct configurations evaluated (counted) or predicted over budget: a configuration
    predicted over budget is settled too, so the space can run out of others."""
    settled = counted(trials) + [t for t in trials
                                 if t.state in FINISHED and OVER_BUDGET_ATTR in t.user_attrs]
    return len({_key(t.params) for t in settled if t.params})


class StopRule:
    """Optuna callback: stop at `target` counted trials, when the space of `space_size`
    configurations is exhausted (None: repeats are evaluated, never exhausted), or after
    `patience` repeats in a row. `reason` says why it stopped early."""

    def __init__(self, target: int, space_size: int | None, patience: int = 25):
        self.target, self.space_size, self.patience = target, space_size, patience
        self.reason: str | None = None

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self.met(study):
            study.stop()

    def met(self, study: optuna.Study) -> bool:
        """Whether the study should stop now; also asked before a run starts, so resuming a
        finished or exhausted study does not add one more repeat each time."""
        trials = study.get_trials(deepcopy=False, states=FINISHED)
        done = counted(trials)
        distinct = settled_configurations(trials)
        recent = sorted(trials, key=lambda t: t.number)[-self.patience:]
        if len(done) >= self.target:
            self.reason = None
        elif self.space_size is not None and distinct >= self.space_size:
            self.reason = (f"every one of the space's {self.space_size} configurations has been "
                           f"evaluated or predicted over budget ({len(done)} of {self.target} "
                           "trials)")
        elif len(recent) == self.patience and all(map(skipped, recent)):
            self.reason = (f"the sampler proposed only configurations already evaluated or "
                           f"predicted over budget {self.patience} times in a row "
                           f"({len(done)} of {self.target} trials); it has converged")
        else:
            return False
        return True
