"""`fastvlm-explore measure`: TTFT of one configuration on this device, stage by stage."""

from __future__ import annotations

import argparse

from ._options import (Progress, add_config_args, add_measure_args, add_progress_arg,
                       config_from_args, measure_settings_from_args, print_json,
                       progress_enabled, table)

EXAMPLES = """examples:
  fastvlm-explore measure --preset fastvlm-0.5b --resolution 512
  fastvlm-explore measure --preset fastvlm-1.5b --resolution 768 --budget-s 60 --json
  fastvlm-explore measure --preset fastvlm-7b            # extrapolated: 7B fp32 does not fit
  fastvlm-explore measure --config my_vlm.toml --device cuda --dtype bfloat16

TTFT = preprocessed pixels on the device -> encoder -> projector -> LLM prefill over
[visual tokens ++ prompt] -> first token id on the host. Image preprocessing (a 1920x1080
JPEG decoded, padded, resized to the resolution and copied to the device) is timed with the
encoder and reported beside TTFT, not in it (preprocess_ms). Components are cached per device
and software; a second call is served from the cache (--no-cache re-measures)."""


def register(sub) -> None:
    p = sub.add_parser("measure",
                       help="measure TTFT (encoder / projector / prefill) on this device",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(p)
    add_measure_args(p)
    p.add_argument("--memory", default="auto", choices=("auto", "measured", "predicted"),
                   help="peak memory: measured in a fresh child process, or predicted "
                   "(auto: measured unless the LLM is extrapolated)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_progress_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = config_from_args(args)  # validate before importing torch
    settings = measure_settings_from_args(args)
    from fastvlm.cache import LatencyCache
    from fastvlm.measure import measure_ttft

    progress = Progress(f"measuring {cfg.name or 'config'}", progress_enabled(args))
    try:
        with LatencyCache() as cache:
            result = measure_ttft(cfg, settings, cache, progress)
    finally:
        progress.close()
    if args.json:
        print_json(result.to_dict())
    else:
        print(render(result.to_dict()))
    return 0


def render(d: dict) -> str:
    st = d["stages"]
    rows = []
    for name in ("encoder", "projector", "prefill"):
        s = st[name]
        source = s["source"]
        if "fit" in s["detail"]:
            fit = s["detail"]["fit"]
            source = (f"extrapolated (layers {','.join(map(str, fit['layers']))} -> "
                      f"{fit['full_layers']}, R2 {fit['r2']:.4f})")
        if s["detail"].get("channels_last"):
            source += ", channels_last"
        gflop = d["gflops"].get(name)
        rows.append([name, s["median_ms"], s["p90_ms"], s.get("min_ms"), _ci(s["ci_ms"]),
                     s["n"], gflop, source])
    method = ("end to end" if d["ttft_method"] == "end_to_end" else "sum of stages")
    rows.append(["TTFT", d["ttft_ms"], d["ttft_p90_ms"], d.get("ttft_min_ms"),
                 _ci(d["ttft_ci_ms"]), d["n"], d["gflops"]["total"], method])
    p = d["params"]
    lines = [
        f"{d['summary']}",
        f"device: {d['device']} - {d['device_name']}, {d['threads']} threads, {d['dtype']}, "
        f"flush denormals {'on' if d['flush_denormal'] else 'off'}",
        "",
        table(rows, ["stage", "median ms", "p90 ms", "min ms", "95% CI ms", "n", "GFLOP",
                     "source"], align="lrrrrrrl"),
        "",
    ]
    if d["additivity_error"] is not None:
        off = "not_additive" in d["protocol"]
        lines.append(f"stages sum to {d['additivity_error']:+.1%} of the end-to-end time"
                     + (" (more than 10% off: flagged unstable)" if off else ""))
    pre = d.get("preprocess")
    if pre is not None:
        lines.append(f"image preprocessing, not in TTFT: {pre['median_ms']:,.1f} ms median "
                     f"({pre['image']} -> {d['config']['resolution']} px: {pre['steps']})")
    else:
        lines.append("image preprocessing: not recorded with the cached encoder timing "
                     "(`--no-cache` measures it)")
    if d["cold_ttft_ms"] is not None:
        lines.append(f"cold first call: {d['cold_ttft_ms']:,.1f} ms")
    lines.append(f"params: encoder {p['encoder'] / 1e6:.1f}M, projector "
                 f"{p['projector'] / 1e6:.1f}M, llm {p['llm'] / 1e6:.1f}M, total "
                 f"{p['total'] / 1e6:.1f}M; visual tokens {d['visual_tokens']}")
    lines.append(f"peak memory: {d['peak_memory_mb']:,.0f} MB ({d['peak_memory_source']}); "
                 f"predicted {d['predicted_peak_memory_mb']:,.0f} MB")
    r = d["roofline"]
    if r:
        lines.append(f"roofline: matmul peak {r['peak_gflops_s']:.0f} GFLOP/s; encoder at "
                     f"{r['encoder_fraction_of_peak']:.0%}, prefill at "
                     f"{r['prefill_fraction_of_peak']:.0%} of it")
    if d["cached"]:
        lines.append(f"from cache: {', '.join(d['cached'])}")
    if d.get("retimed"):
        lines.append(f"measured again (the cached timing was unstable): {', '.join(d['retimed'])}")
    if d["unstable"]:
        lines.append("UNSTABLE: the machine was noisy (canary drift, IQR/median > 10%, or "
                     "stages not adding up within 10%); re-measure on a quiet machine before "
                     "trusting small differences")
    return "\n".join(lines)


def _ci(ci) -> str:
    return f"{ci[0]:,.1f}-{ci[1]:,.1f}"
