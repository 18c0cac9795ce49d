"""Options shared by subcommands: one configuration (preset + overrides) and measurement."""

from __future__ import annotations

import argparse
import json
import sys

from fastvlm.config import DEVICES


def number_type(kind, test, need: str):
    """An argparse type: `kind(text)` that passes `test`, else "must be NEED, got TEXT"."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not test(value):
            raise argparse.ArgumentTypeError(f"must be {need}, got {text!r}")
        return value
    return parse


positive_int = number_type(int, lambda v: v >= 1, "an integer >= 1")
nonnegative_int = number_type(int, lambda v: v >= 0, "an integer >= 0")
positive_float = number_type(float, lambda v: v > 0, "a number > 0")
fraction = number_type(float, lambda v: 0 <= v <= 1, "a number in 0..1 (accuracy, not percent)")


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")


def add_config_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group(
        "configuration (preset + overrides, or --config FILE)",
        "overrides beat the file, which beats the preset (default preset: fastvlm-0.5b)")
    g.add_argument("--preset", metavar="NAME",
                   help="named configuration (see `fastvlm-explore presets`)")
    g.add_argument("--config", metavar="FILE", help="TOML or JSON configuration file, a "
                   "folder written by `export` (re-measure a swept trial here), or a "
                   "transformers FastVLM config.json (or its folder)")
    g.add_argument("--resolution", type=int, metavar="PX",
                   help="input side in pixels, e.g. 256..1536")
    g.add_argument("--llm", metavar="NAME|FILE",
                   help="qwen2-0.5b | qwen2-1.5b | qwen2-7b | path/to/config.json")
    g.add_argument("--depths", type=_int_list, metavar="D1,D2,..", help="blocks per stage")
    g.add_argument("--widths", type=_int_list, metavar="W1,W2,..", help="channels per stage")
    g.add_argument("--mlp-ratios", type=_float_list, metavar="R1,R2,..")
    g.add_argument("--attention-stages", type=int, metavar="N",
                   help="the last N stages use attention (rest RepMixer)")
    g.add_argument("--output-pool", type=int, choices=(1, 2, 4),
                   help="average-pool the output grid: 4x/16x fewer visual tokens")
    g.add_argument("--variant", choices=("fastvithd", "fastvit"), help="encoder family")
    g.add_argument("--projector", choices=("mlp2x_gelu", "linear"))
    g.add_argument("--prompt-tokens", type=int, metavar="N", help="text tokens after the image")
    g.add_argument("--dtype", choices=("float32", "bfloat16", "float16"))


def config_from_args(args: argparse.Namespace):
    from fastvlm.presets import build_config

    return build_config(
        args.preset, args.config, resolution=args.resolution, llm=args.llm, depths=args.depths,
        widths=args.widths, mlp_ratios=args.mlp_ratios, attention_stages=args.attention_stages,
        output_pool=args.output_pool, variant=args.variant, projector=args.projector,
        prompt_tokens=args.prompt_tokens, dtype=args.dtype)


def add_storage_arg(parser: argparse.ArgumentParser, several: str | None = None) -> None:
    """--storage URL (a .db file's path also works); `several`: it may be given again, and
    the help says what for."""
    from explorer.storage import storage_url

    parser.add_argument("--storage", metavar="URL", type=storage_url,
                        action="append" if several else "store",
                        help="Optuna storage URL: sqlite:///FILE, postgresql://..., "
                             "journal:///FILE.log, or a .db file's path (default: "
                             "sqlite:///results/fastvlm-explorer.db)"
                             + (f"; {several}" if several else ""))


def add_measure_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("measurement")
    g.add_argument("--device", default="auto", choices=DEVICES)
    g.add_argument("--threads", type=positive_int, metavar="N",
                   help="intra-op threads (default: usable cores)")
    g.add_argument("--budget-s", type=positive_float, default=30.0, metavar="S",
                   help="time budget per measurement group, seconds (default 30)")
    g.add_argument("--extrapolate", default="auto", choices=("auto", "always", "never"),
                   help="layer extrapolation of the LLM prefill (auto: when it does not fit)")
    g.add_argument("--memory-budget-mb", type=positive_float, metavar="MB",
                   help="memory the measured model may plan for (default: 40%% of what is free)")
    g.add_argument("--channels-last", default="auto", choices=("auto", "on", "off"),
                   help="encoder memory format (auto: the faster one, chosen during warm-up)")
    g.add_argument("--no-cache", action="store_true", help="re-measure cached components")
    g.add_argument("--retry-unstable", action="store_true",
                   help="re-measure cached components that were timed on a busy machine "
                        "(flagged unstable); the new timing replaces them in the cache")


def measure_settings_from_args(args: argparse.Namespace, memory: str = "predicted"):
    from fastvlm.measure import MeasureSettings

    return MeasureSettings(
        device=args.device, threads=args.threads, budget_s=args.budget_s,
        extrapolate=args.extrapolate, memory_budget_mb=args.memory_budget_mb,
        channels_last=args.channels_last, memory=getattr(args, "memory", memory),
        use_cache=not args.no_cache, retry_unstable=args.retry_unstable)


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, default=_jsonable)
    sys.stdout.write("\n")


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def table(rows: list[list], headers: list[str], align: str | None = None) -> str:
    """A plain monospace table; `align` has one char per column: l or r (default r but col 0)."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    if headers and headers[-1] == "" and all(row[-1] == "" for row in cells):
        cells = [row[:-1] for row in cells]  # an unheaded notes column with no notes
        align = align[:-1] if align else None
        headers = headers[:-1]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                               for c, w, a in zip(row, widths, align)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    return "-" if value is None else str(value)


def add_progress_arg(p) -> None:
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it is drawn on stderr, and only when that is a terminal)")


def progress_enabled(args) -> bool | None:
    """`enabled` for `Progress` / tqdm: off with --no-progress, else tqdm's own TTY check."""
    return False if args.no_progress else None


class Progress:
    """A tqdm bar on stderr fed by (phase, fraction) callbacks; silent when stderr is no TTY."""

    def __init__(self, desc: str, enabled: bool | None = None):
        from tqdm import tqdm

        self.bar = tqdm(total=100, desc=desc, file=sys.stderr, leave=False,
                        disable=None if enabled is None else not enabled,
                        bar_format="{desc}: {bar} {percentage:3.0f}% of budget [{elapsed}]")
        self.desc = desc

    def __call__(self, phase: str, fraction: float) -> None:
        self.bar.set_description_str(f"{self.desc} ({phase})", refresh=False)
        self.bar.update(max(0, round(fraction * 100) - self.bar.n))

    def close(self) -> None:
        self.bar.close()
