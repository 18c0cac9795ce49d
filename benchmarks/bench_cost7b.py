"""Cost of `measure --preset fastvlm-7b` on this machine, cold and from the cache (issue 2, 6).

    python -m benchmarks.bench_cost7b

Qwen2-7B in fp32 (~30 GB) does not fit in 24 GB, so the prefill is layer-extrapolated. Target:
the first call completes within 5 minutes with peak RSS under 12 GB; the second call is
served from the cache in under 10 seconds. A fresh cache folder is used.
"""

from __future__ import annotations

import tempfile

from .common import cli, md_table, save


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {"FASTVLM_CACHE_DIR": cache}
        args = ("measure", "--preset", "fastvlm-7b", "--json")
        cold, cold_s, cold_rss = cli(*args, env=env)
        warm, warm_s, warm_rss = cli(*args, env=env)
    fit = cold["stages"]["prefill"]["detail"]["fit"]
    rows = [["first call", cold_s, cold_rss / 1024, cold["ttft_ms"], cold["extrapolated"],
             ",".join(map(str, fit["layers"]))],
            ["second call", warm_s, warm_rss / 1024, warm["ttft_ms"], warm["extrapolated"],
             "cached: " + "+".join(warm["cached"])]]
    md = ("### Cost of measuring FastVLM-7B (fp32, extrapolated)\n\n" + md_table(
        rows, ["call", "wall s", "peak RSS GB", "TTFT ms", "extrapolated", "layers timed"]))
    save("cost7b", {"cold": {"wall_s": cold_s, "rss_mb": cold_rss, "result": cold},
                    "warm": {"wall_s": warm_s, "rss_mb": warm_rss, "ttft_ms": warm["ttft_ms"],
                             "cached": warm["cached"]}}, md)


if __name__ == "__main__":
    main()
