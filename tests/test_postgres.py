"""Scale-out for real: 3 worker processes on one PostgreSQL study, and a SIGKILLed worker."""

import os
import re
import signal
import subprocess
import sys
import time

import optuna
import pytest

from explorer.spec import load_spec
from explorer.storage import open_storage
from explorer.study import open_study
from fastvlm.runtime import setup_runtime
from pg_server import postgres_server
from study_fixtures import check_skip_counts, open_storage_at_once, write_tiny_study

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


def create(tmp_path, url, name, **kw):
    spec = load_spec(write_tiny_study(tmp_path, name=name, **kw))
    open_study(spec, open_storage(url), setup_runtime("cpu", 1))
    return spec


def worker(url, name, *extra):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "explorer.cli", "worker", "--study", name,
                             "--storage", url, "--no-progress", "--heartbeat-s", "2", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_three_workers_record_every_trial_exactly_once(tmp_path, pg_url):
    # repeats evaluated: 9 trials from a 6-configuration space, whatever the workers propose
    # (skipped repeats would stop the study once the 6 are done, with 6 to 8 complete)
    create(tmp_path, pg_url, "w3", trials=9, resolutions="[64, 128, 192]", repeats="evaluate")
    procs = [worker(pg_url, "w3") for _ in range(3)]
    logs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, logs):
        assert p.returncode == 0, err
    done_by = [set(map(int, re.findall(r"^#(\d+) ", err, re.M))) for _, err in logs]
    study = optuna.load_study(study_name="w3", storage=pg_url)
    complete = {t.number for t in study.trials if t.state.name == "COMPLETE"}
    assert len(complete) >= 9
    # each finished trial was run by exactly one worker, and all three took part
    assert set().union(*done_by) >= complete
    assert sum(len(d) for d in done_by) == len(set().union(*done_by))
    assert all(done_by), "every worker ran trials"
    assert all(t.values and "ttft" in t.user_attrs for t in study.trials
               if t.number in complete)


def test_killed_worker_loses_nothing_and_its_trial_is_retried(tmp_path, pg_url):
    # slow trials (30 rounds on a 768 px input) so the kill lands mid-trial
    create(tmp_path, pg_url, "kill", trials=4, resolutions="[512, 768]", budget_s=30,
           min_n=30, max_n=30)
    storage = open_storage(pg_url)
    victim = worker(pg_url, "kill")
    deadline = time.time() + 300
    running = []
    while time.time() < deadline and not running:
        time.sleep(0.2)
        trials = optuna.load_study(study_name="kill", storage=storage).trials
        running = [t for t in trials if t.state.name == "RUNNING"]
    assert running, "the worker never started a trial"
    time.sleep(1.0)
    before = {t.number for t in optuna.load_study(study_name="kill", storage=storage).trials
              if t.state.name == "COMPLETE"}
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    time.sleep(5)  # > grace period (2 x 2 s heartbeat): the trial is now stale
    rescuer = worker(pg_url, "kill")
    _, err = rescuer.communicate(timeout=900)
    assert rescuer.returncode == 0, err
    study = optuna.load_study(study_name="kill", storage=storage)
    by_number = {t.number: t for t in study.trials}
    killed = by_number[running[0].number]
    assert killed.state.name == "FAIL"
    retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed.number]
    assert retries and retries[0].state.name == "COMPLETE"
    assert retries[0].params == killed.params
    assert before <= {n for n, t in by_number.items() if t.state.name == "COMPLETE"}


def test_studies_counts_skips_with_postgresql_sql(pg_url, capsys):
    check_skip_counts(pg_url, "skips", capsys)


def test_processes_opening_a_new_database_at_once_all_succeed(pg_url):
    """`sweep` started on several machines against a new, empty database: each creates the
    schema; the slower ones retry instead of failing on the duplicate."""
    import psycopg

    server, _ = pg_url.rsplit("/", 1)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE race")
    assert open_storage_at_once(f"{server}/race") == ["ok"] * 4
