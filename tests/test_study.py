"""The study driver on tiny studies: smoke, resume, failures, device guard, interruption."""

import dataclasses
import json
import warnings

import optuna
import pytest
import torch

from explorer.errors import StudyError
from explorer.progress import SweepProgress
from explorer.spec import SpecError, load_spec
from explorer.storage import default_storage_url, open_storage, redact
from explorer.study import run_study, worker_spec
from study_fixtures import open_storage_at_once, write_tiny_study


def sweep(spec, url=None, **kw):
    url = url or default_storage_url()
    return run_study(spec, open_storage(url), url, show_progress=False, **kw)


def test_smoke_three_trials_stored_in_standard_optuna(tmp_path):
    spec = load_spec(write_tiny_study(tmp_path, trials=3))
    summary = sweep(spec)
    assert summary["trials"] == {"COMPLETE": 3}
    study = optuna.load_study(study_name="tiny", storage=default_storage_url())
    assert study.metric_names == ["ttft_ms", "proxy_text_rich"]
    assert study.user_attrs["schema_version"] == 1
    assert study.user_attrs["references_skipped"] == {
        "fastvlm-0.5b": "outside this study's search space"}
    for t in study.trials:
        a = t.user_attrs
        assert {"config", "ttft", "proxy", "counts", "constraints"} <= set(a)
        assert t.values[0] == a["ttft"]["ttft_ms"]
        assert a["proxy"]["tier"] == 0 and 0 <= t.values[1] <= 1
        assert set(a["ttft"]["stages"]) == {"encoder", "projector", "prefill"}
    assert summary["pareto"], "a feasible front exists"


def test_constraints_reach_the_sampler_without_deprecated_api(tmp_path):
    """Every complete trial carries its constraint where Optuna's samplers read it (written
    by the objective on Optuna 5, via constraints_func before), without FutureWarnings."""
    spec = load_spec(write_tiny_study(tmp_path, trials=3, sampler="nsga2", max_ttft_ms=0.001))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = sweep(spec)
    assert not [w for w in caught if issubclass(w.category, FutureWarning)], caught
    assert summary["trials"] == {"COMPLETE": 3} and summary["pareto"] == []
    study = optuna.load_study(study_name="tiny", storage=default_storage_url())
    for t in study.trials:
        ours = t.user_attrs["constraints"]["max_ttft_ms"]
        assert ours == pytest.approx(t.values[0] - 0.001) and ours > 0
        # where every reader looks (samplers of Optuna 4 and 5, optuna-dashboard): the list
        assert t.system_attrs["constraints"] == [pytest.approx(ours)]
        if hasattr(t, "constraints"):  # Optuna 5's samplers read it through this view
            assert list(t.constraints.values()) == [pytest.approx(ours)]


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_studies_counts_the_drivers_skips_apart_from_other_prunes(tmp_path, capsys, kind):
    """The SQL count (RDB storages) and the in-memory one (journal files) say the same;
    test_postgres.py checks PostgreSQL's."""
    from study_fixtures import check_skip_counts

    check_skip_counts(f"sqlite:///{tmp_path / 's.db'}" if kind == "sqlite"
                      else f"journal:///{tmp_path / 's.log'}", "skips", capsys)


def test_studies_lists_each_study_with_device_counts_and_budgets(tmp_path, capsys):
    from explorer.cli import main

    spec = load_spec(write_tiny_study(tmp_path, trials=2, max_ttft_ms=5000))
    sweep(spec)
    journal = f"journal:///{tmp_path / 'other.log'}"  # another tool's study, not an RDB
    other = optuna.create_study(study_name="plain", storage=open_storage(journal))
    other.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    other.enqueue_trial({"x": 0.5})
    for url, expected in ((default_storage_url(), "tiny"), (journal, "plain")):
        assert main(["studies", "--json", "--storage", url]) == 0
        (found,) = json.loads(capsys.readouterr().out)["studies"]
        assert found["name"] == expected
        if expected == "tiny":
            assert found["created_by_fastvlm_explore"] and found["device"]
            assert found["trials"] == {"COMPLETE": 2} and found["proxy_tier"] == 0
            assert found["constraints"] == {"max_ttft_ms": 5000}
            assert found["metric_names"] == ["ttft_ms", "proxy_text_rich"]
        else:
            assert not found["created_by_fastvlm_explore"] and found["device"] is None
            assert found["trials"] == {"COMPLETE": 2, "WAITING": 1}
    assert main(["studies"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "TTFT <= 5,000 ms" in out
    assert main(["studies", "--storage", f"sqlite:///{tmp_path / 'none.db'}"]) == 1
    assert "no study storage at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_a_study_is_deleted_only_when_asked_for_and_alone(tmp_path, run_cli, monkeypatch):
    """`studies --delete`: says what goes; without --yes only after a yes at a terminal; the
    other studies stay; an unknown name lists the studies; then the same name sweeps anew."""
    spec = load_spec(write_tiny_study(tmp_path, trials=2))
    sweep(spec)
    sweep(dataclasses.replace(spec, name="keep"))
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    rc, _, err = run_cli("studies", "--delete", "tiny")
    assert rc == 2 and "not deleting study 'tiny' (2 trials: 2 complete)" in err
    assert "without --yes" in err
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    for answer in ("n", "", EOFError):  # no, Enter, Ctrl-D
        def reply(prompt, answer=answer):
            if answer is EOFError:
                raise EOFError
            return answer
        monkeypatch.setattr("builtins.input", reply)
        assert run_cli("studies", "--delete", "tiny").returncode == 1
    rc, _, err = run_cli("studies", "--delete", "nope", "--yes")
    assert rc == 2 and "no study 'nope' in this storage; available: keep, tiny" in err
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "y")
    rc, out, _ = run_cli("studies", "--delete", "tiny")
    assert rc == 0 and asked == [f"delete study 'tiny' (2 trials: 2 complete) from "
                                 f"{default_storage_url()}? [y/N] "]
    assert out.startswith("deleted study 'tiny'")
    rc, out, _ = run_cli("studies", "--json")
    assert [s["name"] for s in json.loads(out)["studies"]] == ["keep"]
    rc, out, _ = run_cli("studies", "--delete", "keep", "--yes", "--json")
    assert rc == 0 and json.loads(out)["deleted"] == "keep"
    assert sweep(spec)["trials"] == {"COMPLETE": 2}  # the name is free again


def test_a_batch_of_study_files_runs_in_order(tmp_path, run_cli):
    a = write_tiny_study(tmp_path, name="first", trials=2)
    b = write_tiny_study(tmp_path, name="second", trials=1, resolutions="[64]")
    rc, out, err = run_cli("sweep", a, b, "--json", "--no-progress")
    assert rc == 0, err
    done = json.loads(out)["studies"]
    assert [(s["study"], s["trials"]) for s in done] == [("first", {"COMPLETE": 2}),
                                                          ("second", {"COMPLETE": 1})]
    rc, out, err = run_cli("sweep", a, b, "--no-progress")  # again: both resume, nothing to do
    assert rc == 0 and "study first (2 complete)" in out and "study second (1 complete)" in out
    assert f"batch 1/2: study first ({a})" in err and f"batch 2/2: study second ({b})" in err
    rc, out, _ = run_cli("sweep", a, b, "--dry-run", "--json")
    assert [s["name"] for s in json.loads(out)["studies"]] == ["first", "second"]


def test_a_batch_is_checked_whole_before_its_first_trial(tmp_path, run_cli):
    """A bad file, two files writing one study, or a stored study the file may not resume:
    refused (exit 2) before the first study runs or any storage is created."""
    good = write_tiny_study(tmp_path, name="good", trials=1)
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[space]\nresolution = [512]\nwidth = 3\n')
    db = tmp_path / "batch.db"
    url = f"sqlite:///{db}"
    r = run_cli("sweep", good, bad, "--storage", url)
    assert r.returncode == 2 and "unknown key 'space.width'" in r.stderr and not db.exists()
    twin = tmp_path / "twin"
    twin.mkdir()
    r = run_cli("sweep", good, write_tiny_study(twin, name="good"), "--storage", url)
    assert r.returncode == 2 and "both declare study 'good'" in r.stderr and not db.exists()
    changed = tmp_path / "changed"
    changed.mkdir()
    sweep(load_spec(write_tiny_study(changed, name="old", trials=1)), url)
    other = write_tiny_study(tmp_path, name="old", trials=1, resolutions="[64]")
    r = run_cli("sweep", good, other, "--storage", url)
    assert r.returncode == 2 and "study 'old' exists with a different spec" in r.stderr
    assert "good" not in [s.study_name for s in optuna.get_all_study_summaries(url)]


def test_ctrl_c_stops_a_batch_and_the_same_command_resumes_it(tmp_path, run_cli, monkeypatch):
    import explorer.study as study_mod

    a = write_tiny_study(tmp_path, name="first", trials=2)
    b = write_tiny_study(tmp_path, name="second", trials=1, resolutions="[64]")
    real = study_mod.evaluate_config

    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(study_mod, "evaluate_config", interrupted)
    rc, _, err = run_cli("sweep", a, b, "--no-progress")
    assert rc == 130 and "not started: second (run the same command again" in err
    assert [s.study_name for s in optuna.get_all_study_summaries(default_storage_url())] == [
        "first"]
    monkeypatch.setattr(study_mod, "evaluate_config", real)
    rc, out, _ = run_cli("sweep", a, b, "--json", "--no-progress")
    assert rc == 0 and [s["trials"].get("COMPLETE") for s in json.loads(out)["studies"]] == [2, 1]


def test_resume_adds_trials_and_reuses_cached_components(tmp_path, capsys, monkeypatch):
    spec = load_spec(write_tiny_study(tmp_path, trials=2))
    first = sweep(spec)
    assert first["trials"].get("COMPLETE") == 2
    capsys.readouterr()
    assert sweep(spec)["trials"] == first["trials"]  # the target is met: nothing runs
    assert "tiny already has 2 trials (asked for 2): nothing to run" in capsys.readouterr().err
    bars = []
    init = SweepProgress.__init__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        bars.append(self.bar.total)

    monkeypatch.setattr(SweepProgress, "__init__", recording_init)
    summary = sweep(spec, trials=6)
    assert bars == [4]  # the bar counts to the space's 4 points, not the 6 trials asked for
    # 2 resolutions x 2 widths: the space is exhausted after 4 configurations
    assert summary["trials"]["COMPLETE"] == 4
    assert summary["stopped_early"].startswith("every one of the space's 4 configurations")
    study = optuna.load_study(study_name="tiny", storage=default_storage_url())
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len({json.dumps(t.params, sort_keys=True) for t in complete}) == 4
    # configurations that share a stage (same LLM and visual tokens) reuse its timing
    assert any("prefill" in t.user_attrs["ttft"]["cached"] for t in complete)
    # running the exhausted study again says so and adds nothing (not one more repeat per run)
    before = len(study.trials)
    again = sweep(spec, trials=6)
    assert again["stopped_early"] == summary["stopped_early"]
    assert len(study.trials) == before


def test_repeats_are_not_measured_again_nor_counted(tmp_path):
    """A sampler re-proposing a configuration gets a PRUNED trial pointing at the earlier one,
    with no new measurement; the run goes on until `trials` non-repeats are done."""
    spec = load_spec(write_tiny_study(tmp_path, trials=3, resolutions="[64, 128, 192, 256]"))
    summary = sweep(spec)
    assert summary["trials"]["COMPLETE"] == 3 and summary["stopped_early"] is None
    study = optuna.load_study(study_name="tiny", storage=default_storage_url())
    repeats = [t for t in study.trials if "repeat_of" in t.user_attrs]
    assert repeats, "seed 0 of the random sampler repeats a configuration in this space"
    assert summary["trials"]["REPEATS SKIPPED"] == len(repeats)
    for t in repeats:
        twin = study.trials[t.user_attrs["repeat_of"]]
        assert t.state.name == "PRUNED" and "ttft" not in t.user_attrs
        assert twin.state.name == "COMPLETE" and twin.params == t.params
        assert twin.number < t.number


def test_invalid_samples_are_recorded_and_the_study_goes_on(tmp_path):
    spec = load_spec(write_tiny_study(tmp_path, trials=8, sampler="grid",
                                      extra_space="output_pool = [1, 4]"))
    summary = sweep(spec)
    assert summary["trials"]["FAIL"] == 4 and summary["trials"]["COMPLETE"] == 4
    study = optuna.load_study(study_name="tiny", storage=default_storage_url())
    errors = [t.user_attrs["error"] for t in study.trials if t.state.name == "FAIL"]
    assert all(e.startswith("invalid sample: resolution") for e in errors)


def test_a_prompt_length_range_sweeps_and_checks_references(tmp_path):
    path = write_tiny_study(tmp_path, trials=1)
    path.write_text(path.read_text().replace("prompt_tokens = 8",
                                             "prompt_tokens = {min = 8, max = 16, step = 8}"))
    assert sweep(load_spec(path))["trials"] == {"COMPLETE": 1}
    study = optuna.load_study(study_name="tiny", storage=default_storage_url())
    assert "fastvlm-0.5b" in study.user_attrs["references_skipped"]
    assert study.trials[0].params["prompt_tokens"] in (8, 16)


def test_other_device_is_refused(tmp_path):
    spec = load_spec(write_tiny_study(tmp_path, trials=1))
    sweep(spec)
    storage = open_storage(default_storage_url())
    study = optuna.load_study(study_name="tiny", storage=storage)
    fp = dict(study.user_attrs["fingerprint"], fingerprint="elsewhere", device="cuda")
    study.set_user_attr("fingerprint", fp)
    with pytest.raises(StudyError, match=r"Latencies from different devices must not mix: use "
                                         r"another study name \(`sweep FILE --name NEW`\)"):
        sweep(spec, trials=2)
    assert sweep(spec, trials=2, allow_other_device=True)["trials"]["COMPLETE"] == 2


def test_sweep_notes_an_nsga2_study_too_short_to_evolve(tmp_path, run_cli):
    path = write_tiny_study(tmp_path, trials=1, sampler="nsga2")  # 4 points, population 4
    r = run_cli("sweep", path, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "note: NSGA-II with population 4: 1 trial is 0.2 generations" in r.stderr
    quiet = write_tiny_study(tmp_path, name="covered", trials=4, sampler="nsga2")
    r = run_cli("sweep", quiet, "--dry-run")  # 4 trials cover its 4 points: nothing to say
    assert r.returncode == 0 and "NSGA-II" not in r.stdout + r.stderr


def test_name_stores_the_same_file_as_a_study_of_its_own(tmp_path, run_cli):
    """`sweep FILE --name NEW`: the file's space under another name (a second device, a software
    upgrade); a worker rebuilds it by that name. A bad name or several files: exit 2."""
    path = write_tiny_study(tmp_path, trials=1)
    assert sweep(load_spec(path))["trials"]["COMPLETE"] == 1
    r = run_cli("sweep", path, "--name", "tiny-laptop", "--no-progress", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["study"] == "tiny-laptop"
    storage = open_storage(default_storage_url())
    assert sorted(s.study_name for s in optuna.get_all_study_summaries(storage)) == [
        "tiny", "tiny-laptop"]
    spec = worker_spec("tiny-laptop", storage)
    assert spec.name == "tiny-laptop" and spec.space == load_spec(path).space
    r = run_cli("worker", "--study", "tiny-laptop", "--trials", "2", "--no-progress", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["trials"]["COMPLETE"] == 2
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == 1  # untouched
    r = run_cli("sweep", path, "--name", "two words")
    assert r.returncode == 2 and "--name: 'two words' must be letters, digits" in r.stderr
    r = run_cli("sweep", path, path, "--name", "x")
    assert r.returncode == 2 and "--name names one study; got 2 study files" in r.stderr


def test_device_replaces_the_files_measure_device(tmp_path, run_cli):
    """`sweep FILE --device D`: the file's `[measure] device` replaced, stored for workers; the
    device is not part of the spec's identity (the recorded fingerprint guards it), so the file
    resumes the study with or without the flag. An unknown device: exit 2; another device
    (absent here, or refused by the study's fingerprint): an error, no trial added."""
    path = write_tiny_study(tmp_path, trials=1)  # device = "cpu"
    assert load_spec(path, device="auto").measure_settings().device == "auto"
    assert load_spec(path, device="auto").identity() == load_spec(path).identity()
    r = run_cli("sweep", path, "--device", "auto", "--no-progress", "--json")
    assert r.returncode == 0, r.stderr
    storage = open_storage(default_storage_url())
    assert worker_spec("tiny", storage).measure_settings().device == "auto"
    r = run_cli("sweep", path, "--trials", "2", "--no-progress", "--json")  # the file's "cpu"
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["trials"]["COMPLETE"] == 2
    stored = len(optuna.load_study(study_name="tiny", storage=storage).trials)
    r = run_cli("sweep", path, "--device", "cuda", "--trials", "3", "--no-progress")
    assert r.returncode != 0
    assert ("Latencies from different devices must not mix" if torch.cuda.is_available()
            else "measure: device 'cuda' is not available here; available: cpu") in r.stderr
    r = run_cli("sweep", path, "--device", "tpu")
    assert r.returncode == 2 and "invalid choice: 'tpu'" in r.stderr
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == stored


def test_changed_spec_is_refused(tmp_path):
    sweep(load_spec(write_tiny_study(tmp_path, trials=1)))
    changed = load_spec(write_tiny_study(tmp_path, trials=1, resolutions="[64]"))
    with pytest.raises(SpecError, match="differs in: space") as refused:
        sweep(changed)
    assert "`fastvlm-explore studies --delete tiny`" in str(refused.value)


def sweep_interrupted_at(spec, call: int, monkeypatch) -> dict:
    """Run `spec` with Ctrl-C pressed during its `call`-th evaluation; the summary."""
    import explorer.study as study_mod

    real, calls = study_mod.evaluate_config, []

    def flaky(*args, **kw):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(study_mod, "evaluate_config", flaky)
    try:
        return sweep(spec)
    finally:
        monkeypatch.setattr(study_mod, "evaluate_config", real)


def test_ctrl_c_records_and_resume_reruns(tmp_path, monkeypatch):
    spec = load_spec(write_tiny_study(tmp_path, trials=3))
    first = sweep_interrupted_at(spec, 2, monkeypatch)
    assert first["interrupted"] and first["trials"] == {"COMPLETE": 1, "FAIL": 1}
    second = sweep(spec)  # the same command: the interrupted trial is re-run, not counted
    study = optuna.load_study(study_name="tiny", storage=default_storage_url())
    interrupted = [t for t in study.trials if t.state.name == "FAIL"][0]
    assert interrupted.user_attrs["error"].startswith("interrupted")
    rerun = [t for t in study.trials if t.number > interrupted.number
             and t.params == interrupted.params and t.state.name == "COMPLETE"]
    assert rerun and second["trials"]["COMPLETE"] == 3


def test_ctrl_c_on_the_spaces_last_configuration_is_rerun(tmp_path, monkeypatch):
    """The interrupted trial neither counts nor marks its configuration evaluated, so resuming
    an otherwise exhausted space still re-runs it."""
    spec = load_spec(write_tiny_study(tmp_path, trials=4))  # the space has 4 configurations
    first = sweep_interrupted_at(spec, 4, monkeypatch)["trials"]
    assert (first["COMPLETE"], first["FAIL"]) == (3, 1)
    second = sweep(spec)
    assert second["trials"]["COMPLETE"] == 4 and second["stopped_early"] is None


def test_pareto_recommend_export_on_a_real_study(tmp_path, run_cli):
    sweep(load_spec(write_tiny_study(tmp_path, trials=4)))
    r = run_cli("pareto", "--study", "tiny", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["study"] == "tiny" and data["directions"] == ["minimize", "maximize"]
    assert data["metric_names"] == ["ttft_ms", "proxy_text_rich"]
    first = data["trials"][0]
    assert {"number", "values", "config", "ttft_breakdown", "proxy"} <= set(first)
    import csv
    import io

    r = run_cli("pareto", "--study", "tiny", "--csv")
    table = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [int(row["number"]) for row in table] == [t["number"] for t in data["trials"]]
    assert json.loads(table[0]["config"]) == first["config"]  # JSON, not a Python repr
    low, high = first["ttft_breakdown"]["ttft_ci_ms"]  # the same key as `measure --json`
    assert low <= first["ttft_breakdown"]["ttft_ms"] <= high
    r = run_cli("pareto", "--study", "tiny", "--csv", "--max-ttft-ms", "0.001")
    assert r.returncode == 0 and "no feasible complete trial" in r.stderr
    assert r.stdout.splitlines()[0].startswith("number,") and len(r.stdout.splitlines()) == 1
    r = run_cli("recommend", "--study", "tiny", "--max-ttft-ms", "100000")
    assert r.returncode == 0 and "recommended: trial" in r.stdout and "why:" in r.stdout
    assert "plus image preprocessing " in r.stdout and "not in TTFT or its budget" in r.stdout
    out = tmp_path / "export"
    r = run_cli("export", "--study", "tiny", "--trial", str(first["number"]), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert {"config.json", "MODEL_CARD.md", "fastvlm_explorer.json"} <= {p.name for p in
                                                                         out.iterdir()}
    import torch
    from transformers import AutoConfig, FastVlmForConditionalGeneration

    with torch.device("meta"):
        model = FastVlmForConditionalGeneration(AutoConfig.from_pretrained(out))
    reported = json.loads((out / "measurements.json").read_text())["counts"]["params"]["total"]
    assert sum(p.numel() for p in model.parameters()) == reported
    # the export folder is a --config: the same shape, measured again (on another device)
    again = run_cli("measure", "--config", out, "--budget-s", "0.3", "--threads", "1",
                    "--memory", "predicted", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["params"]["total"] == reported
    again = run_cli("export", "--study", "tiny", "--trial", str(first["number"]), "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr


@pytest.mark.parametrize("args, fragment", [
    (["pareto", "--study", "nope"], "no study 'nope' in this storage; available: tiny"),
    (["export", "--study", "tiny", "--trial", "99", "--out", "x"],
     "no trial 99 in study 'tiny'; valid: 0..0"),
    (["export", "--study", "tiny", "--trial", "-1", "--out", "x"], "no trial -1"),
])
def test_reading_errors_are_one_line(tmp_path, args, fragment, run_cli):
    sweep(load_spec(write_tiny_study(tmp_path, trials=1)))
    r = run_cli(*args)
    assert r.returncode == 2 and fragment in r.stderr and "Traceback" not in r.stderr


def test_reading_commands_default_to_the_storages_only_study(tmp_path, run_cli):
    """After one `sweep`, `pareto` / `recommend` / `export` / `copy` need no --study; once a
    second study is there, leaving it out is a one-line error naming both."""
    sweep(load_spec(write_tiny_study(tmp_path, trials=1)))
    r = run_cli("pareto", "--json")
    assert r.returncode == 0, r.stderr
    number = json.loads(r.stdout)["trials"][0]["number"]
    assert json.loads(r.stdout)["study"] == "tiny"
    r = run_cli("export", "--trial", str(number), "--out", tmp_path / "out", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["study"] == "tiny", r.stderr
    copy = tmp_path / "copy.db"
    r = run_cli("copy", "--from", tmp_path / "results" / "fastvlm-explorer.db", "--storage", copy,
                "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["study"] == "tiny", r.stderr
    sweep(load_spec(write_tiny_study(tmp_path, name="other", trials=1)))
    for command in ("pareto", "recommend", "confirm"):
        r = run_cli(command)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "--study is needed: this storage holds 2 studies: other, tiny" in r.stderr
    r = run_cli("pareto", "--storage", copy)
    assert r.returncode == 0 and "study tiny:" in r.stdout
    # the follow-up commands it suggests name the storage they read, so they paste as they are
    r = run_cli("recommend", "--storage", copy, "--max-ttft-ms", "100000")
    assert r.returncode == 0, r.stderr
    hints = [line for line in r.stdout.splitlines() if line.startswith(("confirm:", "export:"))]
    assert len(hints) == 2 and all(f"--study tiny --storage sqlite:///{copy} " in h for h in hints)
    r = run_cli("recommend", "--study", "tiny", "--max-ttft-ms", "100000")  # the default storage
    assert r.returncode == 0 and "export: fastvlm-explore export --study tiny --trial" in r.stdout
    assert "--storage" not in r.stdout


def test_processes_opening_a_new_storage_at_once_all_succeed(tmp_path):
    """Two terminals (or machines) starting on a new results file both create its tables; the
    slower one used to fail with "table studies already exists" (4 processes: every time)."""
    for attempt in range(2):
        url = f"sqlite:///{tmp_path / f'new-{attempt}.db'}"
        assert open_storage_at_once(url) == ["ok"] * 4
        assert optuna.get_all_study_summaries(open_storage(url)) == []


def test_a_study_created_by_another_process_meanwhile_is_joined(tmp_path, monkeypatch):
    """Two `sweep`s of one new study: both find no study, one creates it first; the other
    joins it rather than failing on the duplicate name (1 race in 4 with 4 processes)."""
    import explorer.study as driver
    from fastvlm.runtime import setup_runtime

    spec = load_spec(write_tiny_study(tmp_path))
    storage, runtime = open_storage(), setup_runtime("cpu", 1)
    first = driver.open_study(spec, storage, runtime)
    checks = []
    real = driver.existing_study

    def not_there_yet(*args, **kw):  # the check ran just before the other process created it
        checks.append(args[0].name)
        return None if len(checks) == 1 else real(*args, **kw)

    monkeypatch.setattr(driver, "existing_study", not_there_yet)
    second = driver.open_study(spec, storage, runtime)
    assert second.study_name == first.study_name and len(checks) == 2
    assert len(optuna.get_all_study_summaries(storage)) == 1


@pytest.mark.parametrize("url", ["sqlite:///{}/none.db", "journal://{}/none.log"])
def test_missing_storage_is_a_clear_error_and_not_created(tmp_path, url, run_cli):
    r = run_cli("pareto", "--study", "x", "--storage", url.format(tmp_path))
    assert r.returncode == 1 and "no study storage at" in r.stderr
    assert list(tmp_path.iterdir()) == []  # reading never creates a storage


@pytest.mark.parametrize("text", ["one line of an application's log\n",
                                  "started\nrunning\nstopped\n"])
def test_a_log_file_that_is_no_journal_is_refused_and_left_alone(tmp_path, text, run_cli):
    """Optuna reads a one-line non-journal file as an empty journal (its last line may be
    half-written); a sweep would append to someone's log. Both commands refuse it."""
    log = tmp_path / "app.log"
    log.write_text(text)
    study = write_tiny_study(tmp_path, trials=1)
    for args in (("studies", "--storage", log), ("sweep", study, "--storage", log)):
        r = run_cli(*args)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert f"{log} is not an Optuna journal file" in r.stderr
    assert log.read_text() == text


def test_dry_run_counts_what_this_machine_has_measured(tmp_path, run_cli):
    study = write_tiny_study(tmp_path, trials=2)  # 2 resolutions x 2 last-stage widths
    cache_dir = tmp_path / "cache"

    def coverage():
        rc, out, err = run_cli("sweep", str(study), "--dry-run", "--json")
        assert rc == 0, err
        return json.loads(out)["cache"]

    before = coverage()
    assert not cache_dir.exists()  # counting creates no cache
    assert (before["points"], before["configurations"], before["rejected"]) == (4, 4, 0)
    assert before["cached_configurations"] == 0
    assert all(t["cached"] == 0 for t in before["timings"].values())
    sweep(load_spec(study))
    after = coverage()
    # the sweep measured 2 distinct configurations (repeats are skipped), each with its own
    # encoder (resolution and width differ), so exactly 2 are now covered
    assert after["cached_configurations"] == 2
    assert after["timings"]["encoder"] == {"needed": before["timings"]["encoder"]["needed"],
                                           "cached": 2}
    rc, out, _ = run_cli("sweep", str(study), "--dry-run")
    assert "every stage timing of 2 of 4 configurations" in " ".join(out.split())  # wrapped


@pytest.mark.parametrize("url, shown", [
    ("postgresql://me:secret@db.example:5432/fvlm", "postgresql://me:***@db.example:5432/fvlm"),
    ("postgresql://me@db.example/fvlm", "postgresql://me@db.example/fvlm"),  # no password to hide
    ("sqlite:///results/x.db", "sqlite:///results/x.db"),
])
def test_messages_show_storage_urls_without_their_password(url, shown):
    assert redact(url) == shown


def test_pareto_table_flags_unstable_timings(tmp_path, run_cli):
    """A front trial timed on a busy machine says so in the table, with how to re-measure."""
    from explorer.results import load_frame
    from tests.dashboard_fixtures import build_study

    url = f"sqlite:///{tmp_path / 'flags.db'}"
    build_study(url, "flags", n=40, seed=4)  # seed 4: one of six front trials is unstable
    front = load_frame("flags", url).front()
    shaky = [r["number"] for r in front if r["unstable"]]
    assert len(shaky) == 1 and len(front) == 6
    r = run_cli("pareto", "--study", "flags", "--storage", url)
    assert r.returncode == 0, r.stderr
    lines = {int(line.split()[0]): line for line in r.stdout.splitlines()
             if line[:1].isdigit()}
    assert set(lines) == {row["number"] for row in front}
    assert all(("unstable" in line) == (n in shaky) for n, line in lines.items())
    assert "cache clear --unstable" in r.stdout


def test_recommend_cautions_about_an_unstable_choice(tmp_path, run_cli):
    from explorer.recommend import recommend
    from explorer.results import Budgets, load_frame
    from tests.dashboard_fixtures import build_study

    url = f"sqlite:///{tmp_path / 'shaky.db'}"
    build_study(url, "shaky", n=40, seed=4)
    frame = load_frame("shaky", url)
    shaky = next(r for r in frame.front() if r["unstable"])
    budget = shaky["ttft_ms"] * 1.0001  # the budget that makes the unstable trial the choice
    choice = recommend(frame, Budgets(max_ttft_ms=budget)).choice
    assert choice["number"] == shaky["number"]  # the front's most accurate within budget
    r = run_cli("recommend", "--study", "shaky", "--storage", url, "--max-ttft-ms", str(budget))
    assert r.returncode == 0, r.stderr
    assert f"recommended: trial {choice['number']}" in r.stdout
    assert "caution: its TTFT was timed on a busy machine" in r.stdout
    fastest = frame.front()[0]  # stable; the only front trial within its own TTFT
    assert not fastest["unstable"]
    r = run_cli("recommend", "--study", "shaky", "--storage", url, "--max-ttft-ms",
            str(fastest["ttft_ms"] * 1.0001))
    assert f"recommended: trial {fastest['number']}" in r.stdout
    assert "caution:" not in r.stdout


def test_recommend_defaults_to_the_studys_ttft_budget(tmp_path, run_cli):
    from explorer.recommend import recommend
    from explorer.results import load_frame
    from tests.dashboard_fixtures import build_study

    url = f"sqlite:///{tmp_path / 'budgets.db'}"
    build_study(url, "stored", n=30, seed=2, max_ttft_ms=3000.0)
    build_study(url, "open", n=30, seed=2, max_ttft_ms=None)
    frame = load_frame("stored", url)
    expected = recommend(frame, frame.stored_budgets).choice["number"]
    r = run_cli("recommend", "--study", "stored", "--storage", url)
    assert r.returncode == 0, r.stderr
    assert f"recommended: trial {expected}" in r.stdout
    r = run_cli("recommend", "--study", "open", "--storage", url)
    assert r.returncode == 2 and "--max-ttft-ms" in r.stderr and "ms)" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_repeats_can_be_evaluated_like_any_trial(tmp_path):
    spec = dataclasses.replace(load_spec(write_tiny_study(tmp_path, trials=6)), repeats="evaluate")
    summary = sweep(spec)  # 4 configurations, 6 trials: repeats are evaluated and counted
    assert summary["trials"] == {"COMPLETE": 6} and summary["stopped_early"] is None


def test_suggested_commands_name_a_storage_other_than_the_default(tmp_path, monkeypatch):
    from explorer.storage import default_storage_url, study_flags

    monkeypatch.setenv("FASTVLM_RESULTS_DIR", str(tmp_path))
    assert study_flags("quick", None) == " --study quick"
    assert study_flags("quick", default_storage_url()) == " --study quick"
    assert study_flags("quick", "sqlite:///a b.db") == " --study quick --storage 'sqlite:///a b.db'"
    assert (study_flags("q", "postgresql://me:secret@db:5432/x")
            == " --study q --storage 'postgresql://me:***@db:5432/x'")
