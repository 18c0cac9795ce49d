"""The fast trial reader gives the same rows as Optuna's, and falls back to it when it cannot."""

import math

import optuna
import pytest
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from explorer import trial_reader
from explorer.records import rows_from_trials
from explorer.storage import load_study, open_storage
from tests.dashboard_fixtures import build_study


def _study(url: str, name: str = "mixed"):
    """The dashboard fixture (complete, failed, pruned trials in the real schema) plus an
    infinite objective, a running trial and a trial with no user attributes."""
    build_study(url, name, n=30, seed=3)
    study = load_study(name, open_storage(url))
    study.add_trial(create_trial(values=[math.inf, 0.5], params={"r": 3},
                                 distributions={"r": IntDistribution(1, 4)},
                                 user_attrs={"note": {"nested": [1, 2]}}))
    study.add_trial(create_trial(state=TrialState.RUNNING))
    study.add_trial(create_trial(state=TrialState.FAIL))
    # A fresh handle, as a reader would open it: Optuna 4.x's storage cache hides trials that
    # were stored before add_trial() on the same handle (fixed in Optuna 5).
    return load_study(name, open_storage(url))


def test_same_rows_as_optuna_on_sqlite(tmp_path):
    study = _study(f"sqlite:///{tmp_path / 's.db'}")
    fast = trial_reader.read_trials(study)
    assert all(isinstance(t, trial_reader.TrialView) for t in fast)  # the fast path ran
    slow = study.get_trials(deepcopy=False)
    assert rows_from_trials(fast) == rows_from_trials(slow)
    assert [t.user_attrs for t in fast] == [t.user_attrs for t in slow]
    assert [t.values for t in fast][-3] == [math.inf, 0.5]
    assert [t.state for t in fast][-2:] == [TrialState.RUNNING, TrialState.FAIL]


def _same_frozen(fast: list, slow: list) -> bool:
    """Equal in what Optuna's analyses read: everything but attributes, intermediate values."""
    keys = ("number", "state", "values", "params", "distributions", "datetime_start",
            "datetime_complete", "_trial_id")
    return len(fast) == len(slow) and all(
        getattr(a, k) == getattr(b, k) for a, b in zip(fast, slow) for k in keys)


def test_frozen_trials_as_optuna_reads_them(tmp_path):
    study = _study(f"sqlite:///{tmp_path / 'fz.db'}")
    for states in ((TrialState.COMPLETE,), (TrialState.FAIL, TrialState.RUNNING)):
        fast = trial_reader.read_frozen_trials(study, states)
        slow = study.get_trials(deepcopy=False, states=states)
        assert fast and _same_frozen(fast, slow), states
        assert all(t.user_attrs == {} for t in fast)  # not read: analyses do not need them
    assert all(t.params for t in trial_reader.read_frozen_trials(study))  # with parameters


def test_only_the_studys_own_trials(tmp_path):
    url = f"sqlite:///{tmp_path / 'two.db'}"
    build_study(url, "a", n=12, seed=1)
    build_study(url, "b", n=7, seed=2)
    storage = open_storage(url)
    for name, n in (("a", 12), ("b", 7)):
        got = trial_reader.read_trials(load_study(name, storage))
        assert [t.number for t in got] == list(range(n))
        assert trial_reader.count_trials(storage, storage.get_study_id_from_name(name)) == n


def test_falls_back_to_optuna_when_the_query_fails(tmp_path, monkeypatch):
    study = _study(f"sqlite:///{tmp_path / 'f.db'}")

    def broken(*_):
        raise RuntimeError("no such column: trials.number")  # a schema changed under us

    monkeypatch.setattr(trial_reader, "select_trials", broken)
    got = trial_reader.read_trials(study)
    assert got and all(isinstance(t, optuna.trial.FrozenTrial) for t in got)


def test_non_rdb_storages_use_optunas_reader(tmp_path):
    study = optuna.create_study(storage=open_storage(f"journal://{tmp_path / 'j.log'}"),
                                study_name="j", directions=["minimize", "maximize"])
    study.add_trial(create_trial(values=[1.0, 0.3], user_attrs={"x": 1}))
    got = trial_reader.read_trials(study)
    assert len(got) == 1 and isinstance(got[0], optuna.trial.FrozenTrial)
    assert trial_reader.count_trials(study._storage, study._study_id) == 1  # Optuna counts
    frozen = trial_reader.read_frozen_trials(study)
    assert len(frozen) == 1 and frozen[0].user_attrs == {"x": 1}  # Optuna's own FrozenTrial


@pytest.mark.postgres
def test_same_rows_as_optuna_on_postgresql():
    from pg_server import postgres_server

    with postgres_server() as url:
        study = _study(url, "pg-mixed")
        fast = trial_reader.read_trials(study)
        assert all(isinstance(t, trial_reader.TrialView) for t in fast)
        assert rows_from_trials(fast) == rows_from_trials(study.get_trials(deepcopy=False))
        assert trial_reader.count_trials(study._storage, study._study_id) == len(fast)
        done = (TrialState.COMPLETE,)
        assert _same_frozen(trial_reader.read_frozen_trials(study, done),
                            study.get_trials(deepcopy=False, states=done))
