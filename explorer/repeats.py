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
"""

from __future__ import annotations

import json

import optuna
from optuna.trial import FrozenTrial, TrialState

REPEAT_ATTR = "repeat_of"
REPEATS_STATE = "REPEATS SKIPPED"  # how summaries count them, apart from real PRUNED trials
FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)
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


def counted(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Finished trials that count toward the target (not repeats, not to be re-run)."""
    return [t for t in trials if t.state in FINISHED and REPEAT_ATTR not in t.user_attrs
            and not to_rerun(t)]


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
        distinct = {_key(t.params) for t in done if t.params}
        recent = sorted(trials, key=lambda t: t.number)[-self.patience:]
        if len(done) >= self.target:
            self.reason = None
        elif self.space_size is not None and len(distinct) >= self.space_size:
            self.reason = (f"every one of the space's {self.space_size} configurations has been "
                           f"evaluated ({len(done)} of {self.target} trials)")
        elif len(recent) == self.patience and all(REPEAT_ATTR in t.user_attrs for t in recent):
            self.reason = (f"the sampler proposed only configurations already evaluated "
                           f"{self.patience} times in a row ({len(done)} of {self.target} "
                           "trials); it has converged")
        else:
            return False
        return True
