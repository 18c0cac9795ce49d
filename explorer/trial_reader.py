"""Read a study's trials for display with three SQL queries instead of Optuna's ORM.

    from explorer.trial_reader import read_trials; trials = read_trials(study)

`study.get_trials()` on an RDB storage builds an ORM object for every row of five tables and a
`FrozenTrial` per trial: 8.3 s for the 10,000-trial benchmark study on 2 cores, against 1.6 s
here (benchmarks/results/dashboard.md); it was nearly all of the dashboard's first load, and
the sweep's progress bar reads the study after every trial. Display needs only each trial's
number, state, values, user attributes and completion time, so on RDB storages (SQLite,
PostgreSQL, MySQL) those are selected with SQLAlchemy Core from Optuna's own table definitions.
Any other storage, or any error (say, a schema a newer Optuna changed), falls back to
`study.get_trials()`; tests/test_trial_reader.py checks that both give the same rows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from optuna.trial import TrialState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrialView:
    """The part of `optuna.trial.FrozenTrial` that `records.rows_from_trials` reads."""

    number: int
    state: TrialState
    values: list[float] | None
    user_attrs: dict
    datetime_complete: datetime | None


def read_trials(study) -> list:
    """Every trial of `study` as `TrialView`s (RDB storages) or `FrozenTrial`s (others)."""
    backend = _rdb_backend(study)
    if backend is not None:
        try:
            return select_trials(backend, backend.get_study_id_from_name(study.study_name))
        except Exception as e:  # noqa: BLE001 -- Optuna's own reader is always right
            log.debug("fast trial read failed (%s); using Optuna's reader", e)
    return study.get_trials(deepcopy=False)


def count_trials(storage, study_id: int) -> int | None:
    """How many trials the study has, with one SQL count; None when `storage` is not an RDB
    storage (the caller then asks Optuna)."""
    backend = _rdb_storage(storage)
    if backend is None:
        return None
    import sqlalchemy as sa
    from optuna.storages._rdb import models

    trials = models.TrialModel.__table__
    with backend.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(trials)
                            .where(trials.c.study_id == study_id)).scalar_one()


def _rdb_backend(study):
    return _rdb_storage(study._storage)


def _rdb_storage(storage):
    from optuna.storages import RDBStorage

    storage = getattr(storage, "_backend", storage)  # optuna's read cache wraps RDB storages
    return storage if isinstance(storage, RDBStorage) else None


def select_trials(storage, study_id: int) -> list[TrialView]:
    import sqlalchemy as sa
    from optuna.storages._rdb import models

    trials = models.TrialModel.__table__
    values = models.TrialValueModel.__table__
    attrs = models.TrialUserAttributeModel.__table__
    of_study = trials.c.study_id == study_id
    with storage.engine.connect() as conn:
        head = conn.execute(sa.select(trials.c.trial_id, trials.c.number, trials.c.state,
                                      trials.c.datetime_complete).where(of_study)).all()
        vals = conn.execute(
            sa.select(values.c.trial_id, values.c.objective, values.c.value, values.c.value_type)
            .join(trials, values.c.trial_id == trials.c.trial_id).where(of_study)).all()
        user = conn.execute(
            sa.select(attrs.c.trial_id, attrs.c.key, attrs.c.value_json)
            .join(trials, attrs.c.trial_id == trials.c.trial_id).where(of_study)).all()
    by_trial: dict[int, dict] = {}
    for trial_id, key, value_json in user:
        by_trial.setdefault(trial_id, {})[key] = json.loads(value_json)
    objectives: dict[int, dict[int, float]] = {}
    to_value = models.TrialValueModel.stored_repr_to_value
    for trial_id, objective, value, value_type in vals:
        objectives.setdefault(trial_id, {})[objective] = to_value(value, value_type)
    out = []
    for trial_id, number, state, completed in head:
        obj = objectives.get(trial_id)
        out.append(TrialView(number, TrialState(state),
                             [obj[k] for k in sorted(obj)] if obj else None,
                             by_trial.get(trial_id, {}), completed))
    return sorted(out, key=lambda t: t.number)
