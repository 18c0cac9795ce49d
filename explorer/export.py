"""Export one trial as a deployable configuration plus a model card (no torch import).

    fastvlm-explore export --study quick --trial 3 --out exported/quick-3

Files written:
  config.json            transformers `FastVlmConfig` (loads with AutoConfig.from_pretrained)
                         when the shape is representable there (see fastvlm/hfconfig.py)
  fastvlm_explorer.json  our format, always: the full VlmConfig, rebuilt by
                         `fastvlm.presets.config_from_dict(json.load(f)["config"])`; the
                         folder (or this file) is a `--config` for `measure` and `proxy`
  measurements.json      TTFT breakdown and statistics, proxy result, analytic counts
  MODEL_CARD.md          the numbers above in prose: what was measured where, and their error
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from fastvlm.hfconfig import fastvlm_config_dict, hf_representable, why_not_representable
from fastvlm.presets import EXPORT_FILE, EXPORT_FORMAT, EXPORT_SCHEMA, config_from_dict

from .records import TrialRecord


def export_files(rec: TrialRecord, study_name: str, trial_number: int,
                 study_attrs: dict | None = None) -> dict[str, str]:
    """File name -> content for one trial (pure; `write_export` puts them on disk)."""
    cfg = config_from_dict(rec.config)
    files = {
        EXPORT_FILE: _dumps({
            "format": EXPORT_FORMAT, "schema_version": EXPORT_SCHEMA,
            "config": cfg.to_dict(), "summary": cfg.summary(),
            "source": {"study": study_name, "trial": trial_number},
            "build": "fastvlm.build.build_vlm(fastvlm.presets.config_from_dict(config))"}),
        "measurements.json": _dumps({"ttft": rec.ttft, "proxy": rec.proxy, "counts": rec.counts,
                                     "memory_mb": rec.memory_mb,
                                     "memory_source": rec.memory_source,
                                     "constraints": rec.constraints}),
    }
    if hf_representable(cfg):
        files["config.json"] = _dumps(fastvlm_config_dict(cfg))
    files["MODEL_CARD.md"] = model_card(rec, cfg, study_name, trial_number, study_attrs or {})
    return files


EXPORT_FILES = ("config.json", EXPORT_FILE, "measurements.json", "MODEL_CARD.md")


def write_export(files: dict[str, str], out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write all files or none: into a temp dir beside `out_dir`, then rename into place.

    `overwrite` replaces a previous export only: a folder holding anything else (or the
    current folder, or one containing it) is refused, never emptied."""
    out = Path(out_dir).absolute()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out_dir} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out_dir} exists and is not empty; pass --force to replace "
                                  "a previous export")
        if Path.cwd().resolve().is_relative_to(out.resolve()):
            raise FileExistsError(f"{out_dir} is the current folder or contains it; export to "
                                  "a new folder")
        others = sorted(p.name for p in out.iterdir() if p.name not in EXPORT_FILES)
        if others:
            raise FileExistsError(f"{out_dir} holds files that are not an export "
                                  f"({', '.join(others[:3])}{', ...' if len(others) > 3 else ''})"
                                  "; --force replaces only a previous export")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(p for p in out.parents if p.exists())
        raise FileExistsError(f"cannot make {out_dir}: {blocker} is a file") from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    old = None
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would hide the export from other users
        for name, content in files.items():
            (tmp / name).write_text(content)
        if out.exists():
            old = out.with_name(f"{tmp.name}-old")
            os.replace(out, old)
        os.replace(tmp, out)
    except BaseException:
        if old is not None and not out.exists():
            os.replace(old, out)  # put the previous export back
            old = None
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return Path(out_dir)


def model_card(rec: TrialRecord, cfg, study_name: str, trial_number: int, study_attrs: dict) -> str:
    t, p, c = rec.ttft or {}, rec.proxy or {}, rec.counts or {}
    enc, llm = cfg.encoder, cfg.llm
    lines = [
        f"# {cfg.summary()}", "",
        f"Exported by fastvlm-explorer from study `{study_name}`, trial {trial_number}"
        + (f" (published reference point `{rec.reference}`)" if rec.reference else "") + ".",
        "Weights are not included: every number below was obtained with random weights "
        "(latency does not depend on weight values); accuracy is a proxy, see below.", "",
        "## Architecture", "",
        f"- Encoder: {enc.variant} (timm `{enc.timm_architecture}` family), depths "
        f"{list(enc.depths)}, widths {list(enc.widths)}, MLP ratios {list(enc.mlp_ratios)}, "
        f"attention in the last {enc.attention_stages} stage(s), output pooling "
        f"{enc.output_pool}x, total stride {enc.total_stride}",
        f"- Input {cfg.resolution}x{cfg.resolution} -> {cfg.visual_tokens} visual tokens of "
        f"{enc.out_channels} channels; projector {cfg.projector.kind}",
        f"- LLM: {llm.name} (Qwen2: hidden {llm.hidden_size}, {llm.num_layers} layers, "
        f"{llm.num_heads}/{llm.num_kv_heads} heads, FFN {llm.intermediate_size}, vocab "
        f"{llm.vocab_size}); prompt {cfg.prompt_tokens} tokens; dtype {cfg.dtype}",
        f"- Parameters: {_m(c, 'encoder')} encoder, {_m(c, 'projector')} projector, "
        f"{_m(c, 'llm')} LLM, {_m(c, 'total')} total (analytic, checked against built models)",
        "- transformers: " + ("`config.json` is a `FastVlmConfig`; "
                              "`AutoConfig.from_pretrained(this_dir)` loads it" if
                              hf_representable(cfg) else "not expressible as a FastVlmConfig ("
                              + why_not_representable(cfg) + "); use `fastvlm_explorer.json`"),
        "", "## Time to first token (measured)", "",
    ]
    if t:
        ci = t.get("ttft_ci_ms") or [None, None]
        lines += [
            "| stage | median ms |", "|---|---|",
            f"| encoder | {_f(t.get('encoder_ms'))} |",
            f"| projector | {_f(t.get('projector_ms'))} |",
            f"| LLM prefill | {_f(t.get('prefill_ms'))}"
            + (" (extrapolated from fewer layers)" if t.get("extrapolated") else "") + " |",
            f"| **TTFT** | **{_f(t.get('ttft_ms'))}** (95% CI {_f(ci[0])}-{_f(ci[1])}, p90 "
            f"{_f(t.get('ttft_p90_ms'))}, n={t.get('n')}, {t.get('ttft_method')}) |", "",
            f"Device: {t.get('device')} - {t.get('device_name')}, {t.get('threads')} threads, "
            f"{t.get('dtype')}; versions "
            f"{', '.join(f'{k} {v}' for k, v in (t.get('versions') or {}).items())}; "
            f"fingerprint {t.get('fingerprint')}."
            + (" The measurement was flagged UNSTABLE (noisy machine)." if t.get("unstable")
               else ""),
        ]
        pre = t.get("preprocess")
        if pre:
            lines += ["", f"Image preprocessing before the encoder, not in TTFT: "
                      f"{_f(pre['median_ms'])} ms median ({pre['image']} to {cfg.resolution} px: "
                      f"{pre['steps']})."]
    else:
        lines.append("Not measured (the trial did not finish).")
    lines += ["", "## Memory", "",
              f"Peak memory {_f(rec.memory_mb)} MB ({rec.memory_source}); weights "
              f"{_f((c.get('weight_bytes') or 0) / 2**20)} MB, KV cache "
              f"{_f((c.get('kv_cache_bytes') or 0) / 2**20)} MB (analytic).", "",
              "## Accuracy (proxy, not a benchmark score)", ""]
    if p:
        rmse = p.get("calibration_rmse") or {}
        for fam, v in (p.get("families") or {}).items():
            lines.append(f"- {v.get('label', fam)}: {_f(v.get('value'), 3)} +- "
                         f"{_f(v.get('uncertainty'), 3)} (calibration RMSE {_f(rmse.get(fam), 3)})")
        lines += [f"- {n}" for n in p.get("notes", [])]
    else:
        lines.append("No proxy result.")
    lines += ["", "## Measuring it on another device", "",
              "The folder is a configuration for the CLI, so the same shape can be timed where "
              "it will run (random weights, nothing downloaded):", "",
              "```bash", "fastvlm-explore measure --config path/to/this/folder --device cuda  "
              "# or mps, cpu", "```"]
    spec = (study_attrs or {}).get("spec") or {}
    if spec:
        limits = {k: v for k, v in (study_attrs.get("constraints") or {}).items()
                  if v is not None}
        lines += ["", "## Study", "", f"Study `{study_name}` ({spec.get('description', '')}); "
                  "objectives "
                  f"{', '.join(o.get('name', '?') for o in study_attrs.get('objectives', []))}; "
                  "constraints "
                  f"{', '.join(f'{k} {v:g}' for k, v in limits.items()) or 'none'}."]
    return "\n".join(lines) + "\n"


def _dumps(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=False) + "\n"


def _m(counts: dict, key: str) -> str:
    v = (counts.get("params") or {}).get(key)
    return "?" if v is None else f"{v / 1e6:,.1f}M"


def _f(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"
