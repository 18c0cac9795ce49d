"""Skipping samples predicted over the TTFT budget: the bound, and the sweep that uses it."""

import numpy as np
import optuna
import pytest

import explorer.study as study_mod
from explorer.predict import MIN_TIMED, OverBudget, Timed, TtftBound
from explorer.spec import SpecError, load_spec
from explorer.storage import default_storage_url, open_storage
from explorer.study import run_study
from fastvlm.analytic import analyze
from fastvlm.presets import preset
from study_fixtures import write_tiny_study

MS_PER_GFLOP = 8.0  # the synthetic device: encoder ms = 8 x GFLOPs^0.9, prefill 400 ms


def device_ms(gflops: float) -> float:
    return MS_PER_GFLOP * gflops ** 0.9


def timed(n: int, seed: int = 0, slow_every: int = 0, dtype: str = "float32") -> list[Timed]:
    """`n` encoders timed on the synthetic device with 5% noise; every `slow_every`-th 2x."""
    rng = np.random.default_rng(seed)
    gflops = np.geomspace(3, 300, n)
    out = []
    for i, g in enumerate(gflops):
        slow = 2.0 if slow_every and i % slow_every == 1 else 1.0
        noise = float(np.exp(rng.normal(0, 0.05))) * slow
        out.append(Timed(dtype=dtype, llm="qwen2-0.5b", seq_len=288, encoder_gflops=float(g),
                         encoder_ms=device_ms(g) * noise, prefill_ms=400.0))
    return out


def sample(resolution: int = 1024, **kw):
    cfg = preset("fastvlm-0.5b", resolution=resolution, **kw)
    return cfg, analyze(cfg).to_dict()


def true_ttft(cfg, counts) -> float:
    return device_ms(counts["gflops"]["encoder"]) + 400.0


def test_far_over_budget_is_skipped_with_its_numbers():
    cfg, counts = sample(1024)  # 473 GFLOP: ~2.1 s of encoder on the synthetic device
    budget = true_ttft(cfg, counts) / 2
    over = TtftBound(timed(12)).over_budget(cfg, counts, budget)
    assert isinstance(over, OverBudget)
    assert budget < over.lower_ms < true_ttft(cfg, counts)
    assert over.prefill_seq_len == 288 and over.prefill_lower_ms == pytest.approx(360)
    assert over.timed == 12
    reason = over.reason()
    assert reason.startswith("predicted over budget: ") and cfg.summary() in reason
    assert f"max_ttft_ms {budget:,.0f}" in reason and "not measured" in reason


@pytest.mark.parametrize("ratio", [0.9, 1.1])
def test_near_the_budget_is_measured(ratio):
    """The bound is conservative: a sample 10% over the budget is measured, not skipped."""
    cfg, counts = sample(1024)
    assert TtftBound(timed(12)).over_budget(cfg, counts, true_ttft(cfg, counts) / ratio) is None


def test_nothing_is_skipped_before_enough_encoders_are_timed():
    cfg, counts = sample(1024)
    budget = true_ttft(cfg, counts) / 5
    assert TtftBound(timed(MIN_TIMED - 1)).over_budget(cfg, counts, budget) is None
    assert TtftBound(timed(MIN_TIMED)).over_budget(cfg, counts, budget) is not None


def test_slow_spells_only_lengthen_timings_and_barely_move_the_line():
    """A busy host makes some timings 2x slower; the robust line still predicts the device."""
    a, b, spread, n = TtftBound(timed(20, slow_every=5)).encoder_line("float32")
    assert n == 20 and spread < 0.15
    for gflops in (10, 100, 500):
        assert np.exp(a + b * np.log(gflops)) == pytest.approx(device_ms(gflops), rel=0.1)


def test_other_dtypes_and_flat_lines_predict_nothing():
    cfg, counts = sample(1024, dtype="bfloat16")
    assert TtftBound(timed(12)).over_budget(cfg, counts, 10.0) is None  # no bf16 timings
    flat = [Timed("float32", "qwen2-0.5b", 288, t.encoder_gflops, 500.0, 400.0)
            for t in timed(12)]
    cfg, counts = sample(1024)
    assert TtftBound(flat).over_budget(cfg, counts, 10.0) is None


def test_prefill_floor_is_the_longest_measured_sequence_not_longer():
    bound = TtftBound([Timed("float32", "qwen2-0.5b", s, 10.0, 50.0, ms)
                       for s, ms in ((64, 100.0), (288, 400.0), (1056, 1700.0))])
    assert bound.prefill_floor("qwen2-0.5b", "float32", 300) == (pytest.approx(360.0), 288)
    assert bound.prefill_floor("qwen2-0.5b", "float32", 32) == (0.0, None)
    assert bound.prefill_floor("qwen2-1.5b", "float32", 300) == (0.0, None)


def test_timings_are_read_from_complete_trials_only():
    t = timed(1)[0]
    attrs = {"config": {"dtype": "float32", "llm": {"name": "qwen2-0.5b"}},
             "counts": {"seq_len": 288, "gflops": {"encoder": t.encoder_gflops}},
             "ttft": {"encoder_ms": t.encoder_ms, "prefill_ms": 400.0}}
    done = optuna.trial.create_trial(values=[1.0, 0.5], user_attrs=attrs)
    failed = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs=attrs)
    empty = optuna.trial.create_trial(values=[1.0, 0.5])
    assert TtftBound.from_trials([done, failed, empty]).timed == [t]


# ---- the sweep ----

def sweep(spec):
    return run_study(spec, open_storage(default_storage_url()), default_storage_url(),
                     show_progress=False)


def over_at_128(monkeypatch, calls: list):
    """The bound says every 128 px sample is over budget (the real bound needs 10 timings)."""
    def fake(self, cfg, counts, max_ttft_ms):
        calls.append(cfg.resolution)
        if cfg.resolution != 128:
            return None
        return OverBudget(cfg.summary(), 2.0 * max_ttft_ms, 3.0 * max_ttft_ms, 2.0 * max_ttft_ms,
                          0.0, None, 0.1, 10, max_ttft_ms)
    monkeypatch.setattr(study_mod.TtftBound, "over_budget", fake)


def test_skipped_samples_are_recorded_pruned_and_not_counted(tmp_path, monkeypatch):
    calls = []
    over_at_128(monkeypatch, calls)
    spec = load_spec(write_tiny_study(tmp_path, trials=4, resolutions="[64, 128, 192]",
                                      sampler="grid"))
    summary = sweep(spec)  # 6 configurations: the grid visits all, 2 of them over budget
    assert summary["trials"]["COMPLETE"] == 4 and calls.count(128) == 2
    study = optuna.load_study(study_name="tiny", storage=default_storage_url())
    skipped = [t for t in study.trials if "predicted_over_budget" in t.user_attrs]
    assert skipped and summary["trials"]["SKIPPED OVER BUDGET"] == len(skipped)
    for t in skipped:
        assert t.state.name == "PRUNED" and t.params["resolution"] == 128
        assert "ttft" not in t.user_attrs  # nothing was measured
        assert t.user_attrs["error"].startswith("predicted over budget: ")
    assert all(t.params["resolution"] != 128 for t in study.trials if t.state.name == "COMPLETE")


def test_a_space_settled_by_skips_stops_the_sweep(tmp_path, monkeypatch):
    over_at_128(monkeypatch, [])
    spec = load_spec(write_tiny_study(tmp_path, trials=5, resolutions="[64, 128]"))
    summary = sweep(spec)  # 4 configurations, 2 of them over budget: 2 measured, then it stops
    assert summary["trials"]["COMPLETE"] == 2
    assert "evaluated or predicted over budget" in summary["stopped_early"]


def test_the_progress_bar_ends_full_when_skips_settle_the_space(tmp_path, monkeypatch):
    """The bar counts the space's 4 configurations (fewer than the 5 trials asked for); the 2
    predicted over budget settle theirs, so it ends at 4 of 4, not at the 2 measured."""
    from explorer.progress import SweepProgress

    over_at_128(monkeypatch, [])
    ends = []
    close = SweepProgress.close
    monkeypatch.setattr(SweepProgress, "close",
                        lambda self: (ends.append((self.bar.n, self.bar.total)), close(self)))
    spec = load_spec(write_tiny_study(tmp_path, trials=5, resolutions="[64, 128]"))
    run_study(spec, open_storage(default_storage_url()), default_storage_url(),
              show_progress=True)
    assert ends == [(4, 4)]


def test_the_study_file_can_ask_to_measure_every_sample(tmp_path, monkeypatch):
    calls = []
    over_at_128(monkeypatch, calls)
    path = write_tiny_study(tmp_path, trials=3, resolutions="[64, 128]")
    path.write_text(path.read_text().replace("[run]\n", "[run]\nskip_over_budget = false\n"))
    assert sweep(load_spec(path))["trials"]["COMPLETE"] == 3 and calls == []
    path.write_text(path.read_text().replace("skip_over_budget = false", "skip_over_budget = 1"))
    with pytest.raises(SpecError, match=r"run.skip_over_budget: expected bool, got 1"):
        load_spec(path)
