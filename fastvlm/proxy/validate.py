"""The proxy's validation report (research/proxy.md section 7), as data and as a table.

    fastvlm-explore proxy validate [--quick] [--with-tier2] [--json]

Each check has `passed` True / False, or None when it is reported but has no pass mark
(e.g. the partial correlation beyond size). The tests in tests/test_proxy*.py assert the same
properties on smaller fixtures.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import kendalltau, spearmanr

from ..analytic import encoder_cost
from ..presets import preset
from . import evaluate
from . import surrogate as S
from .calibrate import load
from .published import FAMILIES, FAMILY_BENCHMARKS, load_points
from .reader import ReaderMissingError, reader_version

RESOLUTIONS = (256, 384, 512, 768, 1024, 1536)
LLMS = ("fastvlm-0.5b", "fastvlm-1.5b", "fastvlm-7b")
MONOTONE_TOLERANCE = 0.02   # accuracy units: differences below this count as ties
CHANCE = 0.05               # null pages must stay below this at every resolution
LARGE_FONT_PX = 48          # em size at 1024 for the saturation check


def _check(name, passed, detail, **data) -> dict:
    return {"name": name, "passed": passed, "detail": detail, **data}


def _measured_checks(pages: int, progress, scale: float) -> list[dict]:
    from .legibility import legibility_curve

    out = []
    small = legibility_curve(RESOLUTIONS, "text_rich", pages=pages, text_scale=scale)
    vals = [small[r].value for r in RESOLUTIONS]
    drops = [(a, b) for a, b in zip(RESOLUTIONS, RESOLUTIONS[1:])
             if small[b].value < small[a].value - MONOTONE_TOLERANCE]
    out.append(_check("monotone: small text never loses accuracy as resolution rises (tier 1)",
                      not drops, f"{_curve(vals)}; drops: {drops or 'none'}",
                      values=dict(zip(RESOLUTIONS, vals))))
    progress("saturation", 0.3)
    large = legibility_curve(RESOLUTIONS, "text_rich", kind="document", font_px=LARGE_FONT_PX,
                             pages=max(2, pages // 3))
    lv = [large[r].value for r in RESOLUTIONS]
    spread = max(lv) - min(lv)
    out.append(_check(f"saturation: {LARGE_FONT_PX}px text spread < 2 points across resolutions",
                      spread < 0.02, f"spread {spread:.3f}; {_curve(lv)}",
                      values=dict(zip(RESOLUTIONS, lv))))
    progress("null controls", 0.45)
    for kind in ("blank", "noise"):
        nv = [legibility_curve([r], "text_rich", kind=kind, pages=2)[r].value
              for r in RESOLUTIONS]
        out.append(_check(f"null control: {kind} pages score at chance at every resolution",
                          max(nv) < CHANCE, f"max {max(nv):.3f} (chance < {CHANCE}); {_curve(nv)}",
                          values=dict(zip(RESOLUTIONS, nv))))
    return out


def _ordering_checks(tier: int) -> list[dict]:
    res = (256, 512, 768, 1024)
    table = {(n, r, f): evaluate(preset(n, resolution=r), tier).families[f].value
             for n in LLMS for r in res for f in FAMILIES}
    llm_ok = all(table[LLMS[0], r, f] < table[LLMS[1], r, f] < table[LLMS[2], r, f]
                 for r in res for f in FAMILIES)
    gain = {f: table[LLMS[0], 1024, f] - table[LLMS[0], 256, f] for f in FAMILIES}
    return [
        _check(f"ordering: 0.5B < 1.5B < 7B at equal vision settings (tier {tier})", llm_ok,
               "at " + ", ".join(f"{r}: " + " < ".join(f"{table[n, r, 'text_rich']:.3f}"
                                                       for n in LLMS) for r in res)),
        _check(f"ordering: FastViTHD@1024 > @256 on text-rich (tier {tier})",
               gain["text_rich"] > 0, f"+{gain['text_rich']:.3f}"),
        _check(f"ordering: text-rich more resolution-sensitive than general (tier {tier})",
               gain["text_rich"] > gain["general"],
               f"256->1024 gain: text-rich {gain['text_rich']:+.3f}, "
               f"general {gain['general']:+.3f}"),
    ]


def _calibration_checks(cal: dict) -> list[dict]:
    out = []
    for tier, fams in cal["tiers"].items():
        for fam in FAMILIES:
            fit = fams[fam]
            out.append(_check(
                f"calibration: tier {tier} {fam} leave-one-out RMSE beats the recipe-mean baseline",
                fit["loo_rmse"] < fit["baseline_loo_rmse"],
                f"LOO {fit['loo_rmse'] * 100:.2f} pt vs baseline "
                f"{fit['baseline_loo_rmse'] * 100:.2f} pt; "
                f"leave-one-LLM-out {_pt(fit['leave_one_llm_out_rmse'])}, "
                f"leave-one-resolution-out {_pt(fit['leave_one_resolution_out_rmse'])} "
                f"({fit['n_points']} points)",
                tier=int(tier), family=fam, loo_rmse=fit["loo_rmse"],
                baseline=fit["baseline_loo_rmse"]))
    return out


def partial_spearman(cal: dict, tier: int, family: str) -> tuple[float, int]:
    """Spearman of proxy vs published accuracy after regressing out log params and log FLOPs.

    Published accuracies are centred within their recipe and benchmark (recipes differ by
    training data, which no proxy sees); params/FLOPs are the configuration's analytic totals."""
    points = [p for p in load_points()[0] if p.family == family]
    fit = cal["tiers"][str(tier)][family]
    leg1 = cal["tiers"].get("1", {}).get("measurement", {}).get("values", {})
    proxy, target, size = [], [], []
    cells = {}
    for p in points:
        cells.setdefault((p.group, p.benchmark), []).append(p.acc)
    for p in points:
        if tier == 0:
            leg = float(S.analytic_legibility(p.resolution, fit["median_xheight"])[0])
        else:
            leg = leg1[f"{family}@{p.resolution}x{fit['text_scale']}"]["value"]
        q = leg * float(S.capacity(p.tokens, family)[0])
        proxy.append(np.mean([S.predict(fit, cal["reference_group"], b, p.llm_b, q)
                              for b in FAMILY_BENCHMARKS[family]]))
        target.append(p.acc - np.mean(cells[p.group, p.benchmark]))
        enc_params, enc_flops = encoder_cost(preset("fastvlm-0.5b").encoder, p.resolution)
        params = enc_params + p.llm_b * 1e9
        flops = enc_flops + 2 * p.llm_b * 1e9 * (p.tokens + 32)
        size.append([1.0, np.log(params), np.log(flops)])
    x = np.array(size)

    def resid(y):
        y = np.asarray(y, dtype=float)
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
        return y - x @ beta
    rho = spearmanr(resid(proxy), resid(target)).statistic
    return float(rho), len(points)


def _beyond_size(cal: dict) -> list[dict]:
    out = []
    for tier in sorted(cal["tiers"], key=int):
        for fam in FAMILIES:
            rho, n = partial_spearman(cal, int(tier), fam)
            out.append(_check(f"beyond size: partial Spearman after log params + log FLOPs "
                              f"(tier {tier}, {fam})", None,
                              f"rho {rho:+.2f} over {n} published points", rho=rho))
    return out


def _robustness(pages: int, seeds, progress, scale: float) -> dict:
    """Kendall tau of the resolution ranking of measured legibility across render variants
    and a second reader (RapidOCR: is the curve the pages' or Tesseract's?)."""
    from .legibility import legibility_curve

    res = RESOLUTIONS[:5]
    variants = {f"seed {s}": {"seed": s} for s in seeds}
    variants["font aileron"] = {"font": "aileron"}
    variants["kernel area"] = {"kernel": "area"}
    missing = None
    try:
        reader_version("rapidocr")
        variants["reader rapidocr"] = {"reader": "rapidocr"}
    except ReaderMissingError as e:  # an optional extra: the report says it was left out
        missing = f"reader rapidocr left out: {e}"
    curves = {}
    for i, (name, kw) in enumerate(variants.items()):
        progress(f"robustness: {name}", 0.5 + 0.4 * i / len(variants))
        c = legibility_curve(res, "text_rich", pages=pages, text_scale=scale, **kw)
        curves[name] = [c[r].value for r in res]
    base = curves[f"seed {seeds[0]}"]
    seed_sd = np.std([curves[f"seed {s}"] for s in seeds], axis=0, ddof=1)
    taus = {name: float(kendalltau(base, v).statistic) for name, v in curves.items()
            if name != f"seed {seeds[0]}"}
    ties = [(a, b) for i, a in enumerate(res) for j, b in enumerate(res) if i < j
            and abs(base[j] - base[i]) < max(seed_sd[i], seed_sd[j])]
    return {"resolutions": list(res), "curves": curves, "kendall_tau": taus,
            "seed_sd": [float(v) for v in seed_sd], "ties_under_seed_spread": ties,
            "left_out": missing}


def _costs(with_tier2: bool, progress) -> dict:
    cfg = preset("fastvlm-0.5b", resolution=1024)
    t0 = time.perf_counter()
    for _ in range(200):
        evaluate(cfg, 0)
    costs = {"tier0_ms": (time.perf_counter() - t0) / 200 * 1e3}
    from .legibility import measured_legibility
    m = measured_legibility(1024, "text_rich")
    costs["tier1_cold_ms_per_family"] = m.measure_ms
    t0 = time.perf_counter()
    evaluate(cfg, 1)
    costs["tier1_cached_ms"] = (time.perf_counter() - t0) * 1e3
    if with_tier2:
        progress("tier 2", 0.95)
        budget = 60.0
        t0 = time.perf_counter()
        r = evaluate(preset("fastvlm-0.5b", resolution=256, widths=(48, 96, 192, 384, 768)), 2,
                     budget_s=budget)
        costs.update(tier2_s=time.perf_counter() - t0, tier2_budget_s=budget,
                     tier2_probe=r.factors.get("probe", {}).get("value"))
    return costs


def validate(quick: bool = False, with_tier2: bool = False, progress=None) -> dict:
    progress = progress or (lambda *_: None)
    from .legibility import DEFAULT_PAGES

    pages = 6 if quick else DEFAULT_PAGES
    cal = load()
    checks = []
    progress("monotonicity", 0.05)
    # the text sizes tier 1 uses (the calibrated page text scale)
    scale = cal["tiers"].get("1", {}).get("text_rich", {}).get("text_scale", 1.0)
    checks += _measured_checks(pages, progress, scale)
    checks += [_check("monotone: tier 0 never falls as resolution rises", all(
        np.all(np.diff([evaluate(preset(n, resolution=r), 0).families[f].value
                        for r in RESOLUTIONS]) >= 0) for n in LLMS for f in FAMILIES),
        "every LLM, both families, 256..1536")]
    for tier in (0, 1) if "1" in cal["tiers"] else (0,):
        checks += _ordering_checks(tier)
    checks += _calibration_checks(cal)
    checks += _beyond_size(cal)
    robust = _robustness(max(3, pages // 2), (0, 1) if quick else (0, 1, 2), progress, scale)
    worst = min(robust["kendall_tau"].values())
    checks.append(_check("robustness: resolution ranking stable across seeds, fonts, kernels, "
                         "readers",
                         worst >= 0.6, "Kendall tau " + ", ".join(
                             f"{k} {v:.2f}" for k, v in robust["kendall_tau"].items())
                         + "; ties under the seed spread: "
                         + (", ".join(f"{a} = {b} px" for a, b in robust["ties_under_seed_spread"])
                            or "none")
                         + (f"; {robust['left_out']}" if robust["left_out"] else "")))
    costs = _costs(with_tier2, progress)
    checks.append(_check("cost: tier 0 under 10 ms", costs["tier0_ms"] < 10,
                         f"{costs['tier0_ms']:.2f} ms per call"))
    checks.append(_check("cost: tier 1 cached after the first call per resolution",
                         costs["tier1_cached_ms"] < 0.1 * costs["tier1_cold_ms_per_family"],
                         f"cold {costs['tier1_cold_ms_per_family'] / 1e3:.1f} s per family, "
                         f"cached {costs['tier1_cached_ms']:.1f} ms"))
    if with_tier2:
        checks.append(_check("cost: tier 2 within its budget",
                             costs["tier2_s"] <= costs["tier2_budget_s"] * 1.2 + 15,
                             f"{costs['tier2_s']:.1f} s for a {costs['tier2_budget_s']:.0f} s "
                             "budget (plus tier-1 legibility)"))
    return {"checks": checks, "robustness": robust, "costs": costs, "pages": pages,
            "text_scale": scale,
            "calibration_version": cal["data"]["version"]}


def render_report(report: dict) -> str:
    mark = {True: "PASS", False: "FAIL", None: "info"}
    lines = [f"proxy validation ({report['pages']} pages per measurement, calibration "
             f"{report['calibration_version']})", ""]
    for c in report["checks"]:
        lines.append(f"[{mark[c['passed']]}] {c['name']}")
        lines.append(f"       {c['detail']}")
    rb = report["robustness"]
    width = max(len(name) for name in rb["curves"]) + 2
    lines += ["", "measured text-rich legibility by variant (rows) and resolution:",
              "  " + " " * width + "".join(f"{r:>8}" for r in rb["resolutions"])]
    for name, vals in rb["curves"].items():
        lines.append(f"  {name:<{width}}" + "".join(f"{v:8.3f}" for v in vals))
    return "\n".join(lines)


def _curve(vals) -> str:
    return " ".join(f"{r}:{v:.2f}" for r, v in zip(RESOLUTIONS, vals))


def _pt(v) -> str:
    return "-" if v is None else f"{v * 100:.2f} pt"
