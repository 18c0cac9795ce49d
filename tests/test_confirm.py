"""`fastvlm-explore confirm`: finalists re-measured in fresh processes, judged and stored."""

import json

import optuna
import pytest

from explorer.confirm import (Confirmation, ConfirmReport, confirm, interleaved_plan,
                              measure_in_fresh_process)
from explorer.spec import load_spec
from explorer.storage import default_storage_url, open_storage
from explorer.study import run_study
from study_fixtures import write_tiny_study


def run(ttft: float, canary: float = 2.0) -> dict:
    return {"ttft_ms": ttft, "encoder_ms": ttft / 2, "projector_ms": 1.0,
            "prefill_ms": ttft / 2 - 1, "canary_ms": canary, "unstable": False}


def test_rounds_are_interleaved_shuffles_of_every_trial():
    plan = interleaved_plan([3, 5, 8, 13], processes=3, seed=1)
    rounds = [plan[i:i + 4] for i in range(0, 12, 4)]
    assert all(sorted(r) == [3, 5, 8, 13] for r in rounds)
    assert len({tuple(r) for r in rounds}) > 1, "each round is shuffled anew"


def test_statistics_of_one_confirmation():
    c = Confirmation(7, "x", sweep_ttft_ms=100.0,
                     runs=[run(110, canary=2.0), run(132, canary=2.4), run(121, canary=2.2),
                           {"error": "killed by signal 9 (out of memory?)"}])
    assert c.median_ms == 121 and c.ratio == pytest.approx(1.21)
    assert c.spread == pytest.approx(22 / 121)
    # every process ran at the canary's pace: TTFT / canary is flat
    assert c.canary_adjusted_spread == pytest.approx(0.0, abs=1e-12)
    d = c.to_dict()
    assert d["processes"] == 3 and d["errors"] == ["killed by signal 9 (out of memory?)"]
    assert d["stages_ms"]["encoder"] == pytest.approx(60.5)


def test_order_verdicts_and_dominance_on_confirmed_medians():
    fast = Confirmation(1, "a", 100.0, [run(100), run(104), run(102)])
    overlap = Confirmation(2, "b", 110.0, [run(103), run(115), run(112)])  # ranges overlap fast
    swapped = Confirmation(3, "c", 120.0, [run(90), run(92), run(91)])  # faster than both now
    report = ConfirmReport("s", 3, 5.0, [fast, overlap, swapped], {1: 0.5, 2: 0.6, 3: 0.7},
                           max_ttft_ms=101.0)
    assert [v["verdict"] for v in report.order()] == ["tie", "swapped"]
    # trial 3 is now faster and more accurate than both: they leave the confirmed front
    assert report.dominated() == {1: 3, 2: 3}
    data = report.to_dict()
    assert [t["within_ttft_budget"] for t in data["trials"]] == [False, False, True]
    assert [t["still_pareto_optimal"] for t in data["trials"]] == [False, False, True]


def test_confirm_measures_in_interleaved_order_and_reports_every_run():
    seen = []

    def fake_measure(config, settings, cache_dir, timeout_s):
        seen.append(config["n"])
        return {"error": "boom"} if config["n"] == 2 and len(seen) > 3 else run(10.0 * config["n"])

    rows = {n: {"config": {"n": n}, "summary": f"cfg {n}", "ttft_ms": 10.0 * n} for n in (1, 2)}
    stored = []
    found = confirm([1, 2], rows, {"budget_s": 1}, processes=3, measure=fake_measure,
                    on_result=lambda c: stored.append((c.number, len(c.runs))))
    assert sorted(seen) == [1, 1, 1, 2, 2, 2] and len(stored) == 6
    # every round measures each trial once before any is measured again
    assert all(sorted(seen[i:i + 2]) == [1, 2] for i in range(0, 6, 2)), seen
    assert [len(c.runs) for c in found] == [3, 3]
    assert found[1].errors == ["boom"] * len(found[1].errors) and found[1].errors


def test_a_failing_child_is_a_recorded_reason_not_a_crash(tmp_path):
    out = measure_in_fresh_process({"preset": "tiny", "resolution": 1000}, {"device": "cpu"},
                                   str(tmp_path), timeout_s=300)
    assert "not divisible" in out["error"] and "Traceback" not in out["error"]


def test_confirm_a_real_study_end_to_end(tmp_path, run_cli):
    url = default_storage_url()
    spec = load_spec(write_tiny_study(tmp_path, trials=2))
    run_study(spec, open_storage(url), url, show_progress=False)
    r = run_cli("confirm", "--study", "tiny", "--processes", "2", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["processes"] == 2 and len(data["trials"]) >= 1
    for t in data["trials"]:
        assert len(t["ttft_ms"]) == 2 and all(v > 0 for v in t["ttft_ms"])
        assert len(t["canary_ms"]) == 2 and t["spread"] is not None
    stored = optuna.load_study(study_name="tiny", storage=url).user_attrs["confirmations"]
    assert set(stored) == {str(t["number"]) for t in data["trials"]}
    assert all(s["fingerprint"] for s in stored.values())

    table = run_cli("pareto", "--study", "tiny")
    assert table.returncode == 0 and "confirmed ms (spread)" in table.stdout
    front = json.loads(run_cli("pareto", "--study", "tiny", "--json").stdout)["trials"]
    confirmed = {t["number"]: t["confirmed"] for t in front}
    first = data["trials"][0]
    assert confirmed[first["number"]]["ttft_ms"] == pytest.approx(first["median_ms"])
    rec = run_cli("recommend", "--study", "tiny", "--max-ttft-ms", "1e9")
    assert rec.returncode == 0 and "fresh processes" in rec.stdout
    # a confirmation far from the sweep's timing is a caution, not a footnote
    study = optuna.load_study(study_name="tiny", storage=url)
    chosen = json.loads(run_cli("recommend", "--study", "tiny", "--max-ttft-ms", "1e9",
                            "--json").stdout)["choice"]
    far = {**stored, str(chosen["number"]): {**stored.get(str(chosen["number"]), first),
                                             "median_ms": 3.5 * chosen["ttft_ms"]}}
    study.set_user_attr("confirmations", far)
    rec = run_cli("recommend", "--study", "tiny", "--max-ttft-ms", "1e9")
    assert "(+250% vs the sweep" in rec.stdout and "caution: the fresh processes and the sweep " \
        "disagree by +250%" in rec.stdout


@pytest.mark.parametrize("args, fragment, needs_study", [
    (["--processes", "1"], "--processes 1 is too few; valid: 2 or more", False),
    (["--budget-s", "0"], "argument --budget-s: must be a number > 0, got '0'", False),
    (["--trials", "99"], "trial 99 is not a complete trial of study 'tiny'; complete: 0", True),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, fragment, needs_study, run_cli):
    if needs_study:
        url = default_storage_url()
        run_study(load_spec(write_tiny_study(tmp_path, trials=1)), open_storage(url), url,
                  show_progress=False)
    r = run_cli("confirm", "--study", "tiny", *args)
    assert r.returncode == 2 and fragment in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_another_device_is_refused(tmp_path, run_cli):
    url = default_storage_url()
    run_study(load_spec(write_tiny_study(tmp_path, trials=1)), open_storage(url), url,
              show_progress=False)
    study = optuna.load_study(study_name="tiny", storage=url)
    fp = dict(study.user_attrs["fingerprint"]) | {"fingerprint": "elsewhere", "device": "cuda"}
    study.set_user_attr("fingerprint", fp)
    r = run_cli("confirm", "--study", "tiny")
    assert r.returncode == 1 and "--allow-other-device" in r.stderr
    assert "confirmations" not in optuna.load_study(study_name="tiny", storage=url).user_attrs
