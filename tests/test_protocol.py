"""The interleaved protocol's logic with cheap items (no wall-clock assertions)."""

from fastvlm.protocol import (Item, ProtocolSettings, _canary_drift, _noisy, _stable,
                              run_protocol)
from fastvlm.stats import Latency


def test_protocol_structure_and_warmup_hook():
    calls = {"a": 0, "b": 0}

    def work(name, n):
        def fn():
            calls[name] += 1
            return sum(range(n))
        return fn

    seen = {}

    def after(warm):
        seen.update(warm)
        return [Item("a", work("a", 20000))]  # drop b after the warm-up

    settings = ProtocolSettings(budget_s=0.2, min_n=3, max_n=6)
    res = run_protocol([Item("a", work("a", 20000)), Item("b", work("b", 20000))], "cpu",
                       settings, on_warmup=after)
    assert set(res.cold_ms) == {"a", "b", "canary"}
    assert set(seen) == {"a", "b", "canary"} and all(len(v) >= 1 for v in seen.values())
    assert set(res.stats) == {"a", "canary"}  # b was not measured
    assert settings.min_rounds <= res.rounds <= settings.max_n
    assert res.stats["a"].n == res.rounds
    assert res.stop_reason in ("converged", "budget", "max_n")


def test_warmup_stability_rule():
    assert not _stable([100, 100])
    assert _stable([300, 101, 100, 99])
    assert not _stable([100, 120, 100])


def test_canary_drift_compares_halves():
    assert _canary_drift([1, 1, 1, 1, 2, 2, 2, 2]) == 1.0
    assert _canary_drift([1.0, 1.0, 1.0]) is None  # too few rounds to tell
    assert _canary_drift([1.0, 5.0, 1.0]) is None  # ... even when one call was slow


def test_noise_of_negligible_items_is_ignored():
    noisy_small = Latency.from_samples([1, 2, 1, 2, 1, 2, 1])
    assert _noisy(noisy_small, scale=2.0)
    assert not _noisy(noisy_small, scale=10_000.0)  # 1 ms noise in a 10 s TTFT
