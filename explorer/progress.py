"""The sweep's progress bar: trials done, feasible Pareto size, best so far, ETA (stderr)."""

from __future__ import annotations

import sys

from optuna.trial import TrialState

from .repeats import settled_configurations, skipped


class SweepProgress:
    """An Optuna callback drawing a tqdm bar and one line per finished trial."""

    def __init__(self, study, spec, target: int, done: int, enabled: bool | None = None,
                 by_space: bool = False):
        """`by_space`: `target` is the size of a space smaller than the trials asked for, and
        the bar counts its configurations settled: evaluated, or predicted over budget (the
        sweep ends when all are, so the bar reaches its end with it)."""
        from tqdm import tqdm

        self.spec, self.by_space = spec, by_space
        if by_space:  # resuming: what is settled already
            done = settled_configurations(study.get_trials(deepcopy=False))
        self.bar = tqdm(total=target, initial=min(done, target), desc=f"sweep {study.study_name}",
                        unit="trial", file=sys.stderr, dynamic_ncols=True,
                        disable=None if enabled is None else not enabled)
        self.proxy_key = next(o for o in spec.objectives if o.startswith("proxy_"))

    def __call__(self, study, trial) -> None:
        from .results import study_frame

        frame = study_frame(study)
        front = frame.front()
        best = max(front, key=lambda r: r[self.proxy_key]) if front else None
        postfix = f"front {len(front)}"
        if best:
            postfix += f" | best {best[self.proxy_key]:.3f} @ {best['ttft_ms']:,.0f} ms"
        self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.write(self._line(trial), file=sys.stderr)
        if self.by_space:  # the sweep ends when every point is settled
            settled = settled_configurations(study.get_trials(deepcopy=False))
            self.bar.update(min(settled, self.bar.total) - self.bar.n)
        elif not skipped(trial):  # repeats and predicted-over-budget samples do not count
            self.bar.update(1)

    def _line(self, trial) -> str:
        a = trial.user_attrs
        head = f"#{trial.number:<4d}"
        if trial.state != TrialState.COMPLETE:
            return f"{head} {trial.state.name.lower()}: {a.get('error', 'no reason recorded')}"
        t, p = a.get("ttft", {}), a.get("proxy", {})
        fam = self.proxy_key.removeprefix("proxy_")
        pv = p.get("families", {}).get(fam, {})
        flags = [f for f, on in (("extrapolated", t.get("extrapolated")),
                                 ("unstable", t.get("unstable"))) if on]
        if t.get("cached"):
            flags.append("cached " + "+".join(t["cached"]))
        if t.get("retimed"):
            flags.append("re-timed " + "+".join(t["retimed"]) + " (its cached timing was unstable)")
        ok = all(v <= 0 for v in (a.get("constraints") or {}).values())
        ref = f" [{a['reference']}]" if a.get("reference") else ""
        return (f"{head} {a.get('summary', '')}{ref}: TTFT {t.get('ttft_ms', 0):,.0f} ms, "
                f"proxy {pv.get('value', float('nan')):.3f}+-{pv.get('uncertainty', 0):.3f}"
                f"{'' if ok else ', infeasible'}" + (f" ({', '.join(flags)})" if flags else ""))

    def close(self) -> None:
        self.bar.close()
