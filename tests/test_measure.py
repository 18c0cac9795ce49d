"""measure_ttft end to end on the tiny model: fields, cache, extrapolation, errors."""

import json

import sys

import pytest

from fastvlm import preset
from fastvlm.cache import LatencyCache
from fastvlm.measure import MeasureSettings, measure_ttft
from fastvlm.runtime import MeasureError

REQUIRED = ("ttft_ms", "encoder_ms", "projector_ms", "prefill_ms", "ttft_p90_ms", "ttft_ci_ms",
            "n", "unstable", "extrapolated", "visual_tokens", "params", "gflops",
            "peak_memory_mb", "device", "dtype", "threads", "versions", "cached")


def test_fresh_measurement_is_end_to_end_with_stages(tiny, fast_settings):
    r = measure_ttft(tiny, fast_settings, LatencyCache()).to_dict()
    for key in REQUIRED:
        assert key in r, key
    assert r["ttft_method"] == "end_to_end" and r["cached"] == []
    assert r["device"] == "cpu" and r["threads"] == 1 and not r["extrapolated"]
    assert r["ttft_ci_ms"][0] <= r["ttft_ms"] <= r["ttft_ci_ms"][1]
    assert 0 < r["ttft_min_ms"] <= r["ttft_ms"]
    for stage in r["stages"].values():  # min and outliers reported, outliers never removed
        assert 0 < stage["min_ms"] <= stage["median_ms"] and 0 <= stage["outliers"] < stage["n"]
    assert r["visual_tokens"] == 4 and r["params"]["total"] == 270536
    assert r["roofline"]["peak_gflops_s"] > 0
    json.dumps(r)  # plain JSON all the way down


def test_image_preprocessing_is_timed_beside_ttft_not_in_it(tiny, fast_settings):
    """Decode + resize are reported on their own (design.md section 4), kept with the encoder's
    cached timing, and stored with every trial; TTFT stays the three stages."""
    from explorer.records import TrialRecord, compact_ttft, record_to_row

    cache = LatencyCache()
    r = measure_ttft(tiny, fast_settings, cache).to_dict()
    pre = r["preprocess"]
    assert pre["in_ttft"] is False and pre["image"].startswith("1920x1080 JPEG")
    assert 0 < pre["median_ms"] <= pre["p90_ms"] and pre["n"] >= 3
    assert r["preprocess_ms"] == pre["median_ms"]
    assert set(r["stages"]) == {"encoder", "projector", "prefill"}
    again = measure_ttft(tiny, fast_settings, cache).to_dict()
    assert again["cached"] == ["encoder", "prefill", "projector"]
    assert again["preprocess"] == pre and again["ttft_ms"] == sum(
        again[f"{s}_ms"] for s in ("encoder", "projector", "prefill"))
    stored = compact_ttft(r)
    assert stored["preprocess"] == pre
    row = record_to_row(TrialRecord(config=r["config"], summary="", counts={}, ttft=stored))
    assert row["preprocess_ms"] == pre["median_ms"]


@pytest.mark.parametrize("resolution", [64, 256])
def test_preprocessing_pads_to_a_square_and_resizes_to_the_resolution(resolution):
    import torch

    from fastvlm.preprocess import Preprocessor

    pixels = Preprocessor(resolution, "cpu", torch.float32)()
    assert pixels.shape == (1, 3, resolution, resolution) and pixels.dtype == torch.float32
    assert 0.0 <= float(pixels.min()) and float(pixels.max()) <= 1.0
    band = int(resolution * (1920 - 1080) / 2 / 1920) - 2  # the 16:9 source's black padding
    assert float(pixels[..., :band, :].max()) < 0.02 and float(pixels[..., -band:, :].max()) < 0.02
    middle = pixels[..., resolution // 2, :]
    assert float(middle.mean()) > 0.2  # the image itself, not padding


def test_second_call_comes_from_cache(tiny, fast_settings):
    cache = LatencyCache()
    first = measure_ttft(tiny, fast_settings, cache)
    again = measure_ttft(tiny, fast_settings, cache)
    assert again.cached == ["encoder", "prefill", "projector"]
    assert again.ttft_method == "sum_of_stages"
    assert again.stage_ms == first.stage_ms
    # a different resolution re-measures the encoder and prefill, not the projector
    other = measure_ttft(preset("tiny", resolution=64), fast_settings, cache)
    assert other.cached == []  # 1 visual token: the projector shape changed too


def test_timings_of_an_older_cache_format_are_not_served(tiny, fast_settings, monkeypatch):
    """A timing whose meaning changed since it was stored (CACHE_FORMAT) is measured again."""
    import fastvlm.measure as m

    cache = LatencyCache()
    measure_ttft(tiny, fast_settings, cache)
    monkeypatch.setattr(m, "CACHE_FORMAT", m.CACHE_FORMAT + 1)
    assert measure_ttft(tiny, fast_settings, cache).cached == []
    assert measure_ttft(tiny, fast_settings, cache).cached == ["encoder", "prefill", "projector"]


def test_no_cache_flag_remeasures(tiny, fast_settings):
    cache = LatencyCache()
    measure_ttft(tiny, fast_settings, cache)
    import dataclasses

    again = measure_ttft(tiny, dataclasses.replace(fast_settings, use_cache=False), cache)
    assert again.cached == []


def test_an_unstable_cached_timing_is_measured_again_once_per_process(tiny, fast_settings):
    import dataclasses

    cache = LatencyCache()
    measure_ttft(tiny, fast_settings, cache)
    for f, k, key_, _ in cache.entries():  # only the prefill is noisy (tiny timings may all be)
        cache.put(f, k, key_, cache.get(f, k, key_) | {"unstable": k == "prefill"})
    fp, kind, key, _ = next(e for e in cache.entries() if e[1] == "prefill")
    cache.put(fp, kind, key, cache.get(fp, kind, key) | {"measured_at": 0.0})
    # `measure` by default: served as it is, flag and all
    served = measure_ttft(tiny, fast_settings, cache)
    assert served.cached == ["encoder", "prefill", "projector"] and served.unstable
    retry = dataclasses.replace(fast_settings, retry_unstable=True)
    # not by the process that measured it: it had its chance here
    assert measure_ttft(tiny, retry, cache).cached == ["encoder", "prefill", "projector"]
    cache = LatencyCache()  # another process (a resumed sweep, a worker)
    again = measure_ttft(tiny, retry, cache)
    assert again.cached == ["encoder", "projector"]  # the prefill was timed anew ...
    assert again.retimed == ["prefill"] and again.to_dict()["retimed"] == ["prefill"]
    assert cache.get(fp, kind, key)["measured_at"] > 0  # ... and replaced the noisy entry
    # once per process: even if the new timing were unstable too, later trials use it as it is
    cache.put(fp, kind, key, cache.get(fp, kind, key) | {"unstable": True})
    assert measure_ttft(tiny, retry, cache).cached == ["encoder", "prefill", "projector"]
    # a sweep's settings retry unless the study says retry_unstable = false
    from explorer.spec import spec_from_dict

    base = {"name": "s", "space": {"resolution": [64]}}
    assert spec_from_dict(base).measure_settings().retry_unstable
    assert not spec_from_dict(base | {"measure": {"retry_unstable": False}}) \
        .measure_settings().retry_unstable


def test_layer_extrapolation_when_asked(tiny, fast_settings):
    import dataclasses

    s = dataclasses.replace(fast_settings, extrapolate="always")
    r = measure_ttft(tiny, s, None)
    assert r.extrapolated and r.ttft_method == "sum_of_stages"
    fit = r.stages["prefill"].detail["fit"]
    assert fit["layers"] == [1, 2] and fit["full_layers"] == 2
    assert r.stages["prefill"].source == "extrapolated"
    assert fit["ci_ms"][0] <= fit["median_ms"] <= fit["ci_ms"][1]  # the CI holds the estimate


def test_too_small_memory_budget_is_a_clear_error(fast_settings):
    import dataclasses

    s = dataclasses.replace(fast_settings, extrapolate="never", memory_budget_mb=100)
    with pytest.raises(MeasureError, match="budget is 100 MB"):
        measure_ttft(preset("fastvlm-7b"), s, None)
    s = dataclasses.replace(fast_settings, memory_budget_mb=100)
    with pytest.raises(MeasureError, match="even 2 layers"):
        measure_ttft(preset("fastvlm-7b"), s, None)


def test_measured_memory_in_child_process(tiny, fast_settings):
    import dataclasses

    r = measure_ttft(tiny, dataclasses.replace(fast_settings, memory="measured"), None)
    assert r.peak_memory_source.startswith("measured") and r.peak_memory_mb > 0
    if sys.platform == "linux":  # the call's own peak, not the build's
        assert "during the call" in r.peak_memory_source


def test_the_peak_rss_mark_resets_so_a_build_transient_does_not_count():
    """What the memory child relies on (Linux): after a reset, the high-water mark is today's
    RSS, not the peak of memory already freed; elsewhere the reset says it cannot."""
    import mmap

    from fastvlm import memory

    if sys.platform != "linux":
        assert memory._reset_peak_rss() is False
        return

    def touched(mb: int) -> mmap.mmap:  # fresh pages, written (malloc may reuse freed ones)
        m = mmap.mmap(-1, mb * 2**20)
        m.write(b"x" * len(m))
        return m

    touched(50).close()  # a transient: 50 MB resident, then unmapped
    before = memory._hwm_mb()
    assert memory._reset_peak_rss()
    after = memory._hwm_mb()
    assert before - after > 40  # the freed 50 MB no longer count
    kept = touched(30)
    assert memory._hwm_mb() - after > 25  # and new pages raise the mark again
    kept.close()


def test_memory_child_killed_is_a_clear_error_not_a_hang(tiny):
    """The OOM killer's SIGKILL leaves nothing in the queue: the parent notices at once."""
    import multiprocessing
    import os
    import signal
    import threading
    import time

    from fastvlm.memory import measure_peak_memory

    def kill_child():
        deadline = time.monotonic() + 60
        while not multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_child)
    killer.start()
    with pytest.raises(MeasureError, match=r"child process died \(exit code -9"):
        measure_peak_memory(tiny, timeout_s=600)
    killer.join()


def test_settings_validation():
    with pytest.raises(ValueError, match="valid: auto, always, never"):
        MeasureSettings(extrapolate="sometimes")
    with pytest.raises(ValueError, match="budget_s"):
        MeasureSettings(budget_s=0)


def test_stages_that_do_not_add_up_are_flagged_unstable():
    from fastvlm.measure import _flag_if_not_additive
    from fastvlm.stats import Latency

    def payload(ms):
        return {"latency": Latency.from_samples([ms] * 5).to_dict(), "unstable": False}

    adds_up = {"encoder": payload(60), "projector": payload(5), "prefill": payload(40),
               "ttft": payload(100)}
    info: dict = {}
    _flag_if_not_additive(adds_up, info)
    assert info == {} and not any(p["unstable"] for p in adds_up.values())
    tiny = {"encoder": payload(1), "projector": payload(0.5), "prefill": payload(1.5),
            "ttft": payload(2.5)}  # +20%, but 0.5 ms: the cost of timing three calls
    _flag_if_not_additive(tiny, info)
    assert info == {} and not any(p["unstable"] for p in tiny.values())
    doubled = adds_up | {"ttft": payload(52)}  # the stages sum to +102% of it
    _flag_if_not_additive(doubled, info)
    assert info["not_additive"] > 1.0 and all(p["unstable"] for p in doubled.values())
