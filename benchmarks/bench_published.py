"""Measured here vs published on an M1: do this device's TTFT trade-offs match the paper's?

    python -m benchmarks.bench_published [--budget-s 30]

The FastVLM paper timed its configurations on an M1 MacBook Pro (encoder in Core ML, LLM in MLX
fp16; Tables 4, 6 and 10 of `fastvlm/data/fastvlm_published.csv`). This script measures the same
FastViTHD + Qwen2 configurations with `fastvlm-explore measure` (fresh component cache, fp32,
random weights, the tool's default 32-token prompt) and compares *shapes*, never absolute times:

1. every published component time next to the one measured here and their ratio;
2. scaling ratios inside a component (encoder 1024 px vs 256 px, prefill 7B vs 0.5B, ...);
3. the encoder's share of TTFT and the rank order of the five Table 6 configurations;
4. M1 TTFT *predicted* from the measurements with one scale factor per component (fitted on the
   other configurations, leave-one-out), with its error: how far a device change is "the same
   trade-off, scaled" and how far it reshapes the front.
"""

from __future__ import annotations

import argparse
import csv
import math
import tempfile

import numpy as np
from scipy.stats import spearmanr

from fastvlm.proxy.published import DATA_FILE

from .common import cli, md_table, save

LLMS = {"Qwen2-0.5B": "fastvlm-0.5b", "Qwen2-1.5B": "fastvlm-1.5b", "Qwen2-7B": "fastvlm-7b"}
RESOLUTIONS = (256, 512, 768, 1024)


def published() -> dict:
    """Latency figures for single-resolution FastViTHD rows: encoder by table, prefill, TTFT."""
    with open(DATA_FILE, newline="") as fh:
        rows = [r for r in csv.DictReader(fh)
                if r["vision_encoder"] == "FastViTHD" and not r["dynamic_res_2x2"]
                and r["input_res"].isdigit()]
    num = lambda v: float(v) if v not in ("", "-") else None  # noqa: E731
    enc: dict[str, dict[int, float]] = {}
    prefill: dict[tuple[str, int], float] = {}
    ttft: dict[tuple[str, int], float] = {}
    for r in rows:
        res, table, llm = int(r["input_res"]), r["source"], r["llm_resolved"]
        if (v := num(r["vision_enc_latency_ms"])) is not None:
            enc.setdefault(table, {})[res] = v
        if llm in LLMS and (v := num(r["llm_prefill_ms"])) is not None:
            prefill[llm, int(r["visual_tokens"])] = v
        if llm in LLMS and table == "Table 6" and (v := num(r["ttft_ms"])) is not None:
            ttft[llm, res] = v
    return {"encoder": enc, "prefill": prefill, "ttft": ttft}


def measure_all(budget_s: float) -> dict[tuple[str, int], dict]:
    """`measure --json` for every LLM x resolution the comparison needs, sharing one cache."""
    wanted = sorted({("Qwen2-0.5B", r) for r in RESOLUTIONS}
                    | {(llm, r) for llm in LLMS for r in (768, 1024)})
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        for llm, res in wanted:
            print(f"measuring {LLMS[llm]} @{res} ...", flush=True)
            out[llm, res], _, _ = cli("measure", "--preset", LLMS[llm], "--resolution", str(res),
                                      "--budget-s", str(budget_s), "--json",
                                      env={"FASTVLM_CACHE_DIR": cache})
    return out


def _loo_predictions(pairs: list[tuple[tuple[float, float], float]]) -> list[float]:
    """Predict each published TTFT as s_e*encoder + s_p*rest measured here, the two scales
    least-squares fitted on the other configurations (non-negative, else one shared scale)."""
    x = np.array([parts for parts, _ in pairs])
    t = np.array([m1 for _, m1 in pairs])
    preds = []
    for i in range(len(pairs)):
        keep = np.arange(len(pairs)) != i
        scales = np.linalg.lstsq(x[keep], t[keep], rcond=None)[0]
        if (scales < 0).any():  # one shared scale instead
            total = x[keep].sum(1)
            scales = np.full(2, total @ t[keep] / (total @ total))
        preds.append(float(x[i] @ scales))
    return preds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget-s", type=float, default=30.0)
    args = ap.parse_args()
    pub = published()
    runs = measure_all(args.budget_s)
    enc_here = {res: runs["Qwen2-0.5B", res]["encoder_ms"] for res in RESOLUTIONS}
    tokens = {res: runs["Qwen2-0.5B", res]["visual_tokens"] for res in RESOLUTIONS}
    pre_here = {(llm, r["visual_tokens"]): r["prefill_ms"] + r["projector_ms"]
                for (llm, _), r in runs.items()}
    shaky = {("encoder", res): runs["Qwen2-0.5B", res]["stages"]["encoder"]["unstable"]
             for res in RESOLUTIONS}
    shaky |= {(llm, r["visual_tokens"]): r["stages"]["prefill"]["unstable"]
              for (llm, _), r in runs.items()}
    flag = lambda key: "unstable" if shaky[key] else ""  # noqa: E731

    comp_rows = []
    for table, by_res in sorted(pub["encoder"].items()):
        for res, ms in sorted(by_res.items()):
            if res in enc_here:
                comp_rows.append([f"encoder @{res} ({table})", ms, enc_here[res],
                                  f"{enc_here[res] / ms:.1f}x", flag(("encoder", res))])
    for (llm, tok), ms in sorted(pub["prefill"].items()):
        if (llm, tok) in pre_here:
            comp_rows.append([f"{llm} prefill, {tok} visual tokens (Table 10)", ms,
                              pre_here[llm, tok], f"{pre_here[llm, tok] / ms:.1f}x",
                              flag((llm, tok))])

    def ratio_row(what, pub_a, pub_b, here_a, here_b):
        return [what, f"{pub_a / pub_b:.2f}x", f"{here_a / here_b:.2f}x"]

    scale_rows = []
    for table, by_res in sorted(pub["encoder"].items()):
        for lo in (256, 512, 768):
            if lo in by_res and 1024 in by_res:
                scale_rows.append(ratio_row(f"encoder 1024 px / {lo} px ({table})",
                                            by_res[1024], by_res[lo], enc_here[1024],
                                            enc_here[lo]))
    p, t256, t144 = pub["prefill"], tokens[1024], tokens[768]
    for big, small, tok in (("Qwen2-1.5B", "Qwen2-0.5B", t256), ("Qwen2-7B", "Qwen2-0.5B", t256),
                            ("Qwen2-7B", "Qwen2-1.5B", t256), ("Qwen2-7B", "Qwen2-1.5B", t144)):
        if (big, tok) in p and (small, tok) in p:
            scale_rows.append(ratio_row(f"prefill {big} / {small}, {tok} visual tokens",
                                        p[big, tok], p[small, tok], pre_here[big, tok],
                                        pre_here[small, tok]))
    for llm in LLMS:
        if (llm, t256) in p and (llm, t144) in p:
            scale_rows.append(ratio_row(f"prefill {llm}, {t256} / {t144} visual tokens",
                                        p[llm, t256], p[llm, t144], pre_here[llm, t256],
                                        pre_here[llm, t144]))

    ttft_keys = sorted(pub["ttft"], key=lambda k: pub["ttft"][k])
    pairs = [((runs[k]["encoder_ms"], runs[k]["ttft_ms"] - runs[k]["encoder_ms"]), pub["ttft"][k])
             for k in ttft_keys]
    preds = _loo_predictions(pairs)
    by_here = sorted(ttft_keys, key=lambda k: runs[k]["ttft_ms"])
    here_rank = {k: i + 1 for i, k in enumerate(by_here)}
    ttft_rows, errors = [], []
    for i, k in enumerate(ttft_keys):
        r, m1 = runs[k], pub["ttft"][k]
        enc_share_m1 = pub["encoder"].get("Table 10", {}).get(k[1])
        err = preds[i] / m1 - 1
        errors.append(err)
        ttft_rows.append([f"{k[0]} @{k[1]}", m1, i + 1,
                          f"{enc_share_m1 / m1:.0%}" if enc_share_m1 else "-",
                          r["ttft_ms"], here_rank[k], f"{r['encoder_ms'] / r['ttft_ms']:.0%}",
                          "yes" if r["extrapolated"] else "no", "unstable" if r["unstable"] else "",
                          preds[i], f"{err:+.0%}"])
    rho = float(spearmanr([pub["ttft"][k] for k in ttft_keys],
                          [runs[k]["ttft_ms"] for k in ttft_keys]).statistic)
    rmse = math.sqrt(sum(e * e for e in errors) / len(errors))

    md = ("### Measured here vs published on an M1 (shapes, not absolute times)\n\n"
          "The paper timed on an M1 MacBook Pro (Core ML encoder, MLX fp16 LLM); here: this "
          "machine's CPU, fp32, random weights, 32 prompt tokens, fresh cache. Prefill here "
          "includes the projector.\n\n" + md_table(
              comp_rows, ["component", "published ms (M1)", "measured ms (here)", "here / M1",
                          "timing here"])
          + "\n\nScaling inside a component (a device-independent trade-off would match):\n\n"
          + md_table(scale_rows, ["ratio", "published (M1)", "measured (here)"])
          + "\n\nThe five FastViTHD + Qwen2 configurations of Table 6, by published TTFT:\n\n"
          + md_table(ttft_rows, ["configuration", "TTFT ms (M1)", "rank (M1)",
                                 "encoder share (M1, Table 10)", "TTFT ms (here)", "rank (here)",
                                 "encoder share (here)", "extrapolated here", "timing here",
                                 "M1 TTFT predicted from here (ms)", "prediction error"])
          + f"\n\nSpearman rank correlation of TTFT, M1 vs here: {rho:+.2f} over "
            f"{len(ttft_keys)} configurations. *Predicted* M1 TTFT = s_enc x encoder + s_llm x "
            f"(projector + prefill) measured here, the two scales fitted on the other four "
            f"configurations (leave-one-out): RMS error {rmse:.0%}."
            + (f" {sum(r['unstable'] for r in runs.values())} of {len(runs)} measurements were "
               "flagged unstable (IQR over 10% of the median, or canary drift): their ratios "
               "carry that spread."
               if any(r["unstable"] for r in runs.values()) else ""))
    save("published", {"published": {k: {str(kk): vv for kk, vv in v.items()}
                                     for k, v in pub.items()},
                       "measured": {f"{llm}@{res}": r for (llm, res), r in runs.items()},
                       "spearman_ttft": rho, "loo_rms_error": rmse,
                       "loo_predictions_ms": {f"{k[0]}@{k[1]}": v
                                              for k, v in zip(ttft_keys, preds)}}, md)


if __name__ == "__main__":
    main()
