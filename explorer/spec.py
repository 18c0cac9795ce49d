"""Study files (`studies/*.toml`): parsed and fully validated before any storage is touched.

    fastvlm-explore sweep studies/quick.toml --dry-run     # validate and describe, run nothing

A study file may `include` another (paths relative to the file); tables merge key by key and
the including file wins, so presets are small diffs of `studies/presets/base.toml`. Every
error names the file, the key and the reason, and exits with code 2.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fastvlm.config import ConfigError
from fastvlm.presets import PRESETS, preset
from fastvlm.measure import CHANNELS_LAST, EXTRAPOLATE, MEMORY_MODES, MeasureSettings
from fastvlm.runtime import DEVICES

from .errors import UsageError
from .objectives import OBJECTIVES
from .space import ENCODER_BASES, Choice, IntRange, SearchSpace

SAMPLERS = ("nsga2", "tpe", "gp", "random", "grid")
PROXY_TIERS = (0, 1, 2)
REPEATS = ("skip", "evaluate")  # a configuration proposed again: see explorer/repeats.py
SCHEMA = {  # table -> allowed keys (None: free-form values checked below)
    "": ("name", "description", "include", "space", "objectives", "proxy", "constraints",
         "sampler", "run", "measure", "references"),
    "space": ("resolution", "llm", "encoder_base", "depths", "widths", "width_multiplier",
              "mlp_ratio", "attention_stages", "output_pool", "projector", "prompt_tokens",
              "dtype"),
    "proxy": ("tier", "budget_s"),  # the family is the proxy objective's (proxy_general, ...)
    "constraints": ("max_ttft_ms", "max_memory_mb"),
    "sampler": ("name", "seed", "population_size", "n_startup_trials"),
    "run": ("trials", "timeout_s", "repeats", "skip_over_budget"),
    "measure": ("device", "threads", "budget_s", "extrapolate", "memory", "channels_last",
                "memory_budget_mb", "min_n", "max_n", "use_cache", "retry_unstable"),
}


def spec_identity(raw: dict) -> dict:
    """The part of a study file's content that defines the study (`StudySpec.identity`). Not
    `measure.device`: the device fingerprint a study records guards that (`check_device`), so
    `auto` and `cpu` on a CPU-only machine are one study and `sweep --device` may resume it."""
    ident = {k: v for k, v in raw.items() if k not in ("run", "description", "include")}
    if "device" in ident.get("measure", {}):
        ident["measure"] = {k: v for k, v in ident["measure"].items() if k != "device"}
    return ident


class SpecError(UsageError):
    """A study file is invalid: the message names the file, the key and the reason."""


@dataclass(frozen=True)
class StudySpec:
    name: str
    description: str
    space: SearchSpace
    objectives: tuple[str, ...] = ("ttft_ms", "proxy_text_rich")
    proxy_tier: int = 0
    proxy_budget_s: float = 60.0
    max_ttft_ms: float | None = None
    max_memory_mb: float | None = None
    sampler: str = "nsga2"
    seed: int = 0
    population_size: int = 16
    n_startup_trials: int = 8
    trials: int = 20
    timeout_s: float | None = None
    repeats: str = "skip"
    skip_over_budget: bool = True  # explorer/predict.py; only with max_ttft_ms
    measure: dict = field(default_factory=dict)
    references: tuple[str, ...] = ("fastvlm-0.5b", "fastvlm-1.5b", "fastvlm-7b")
    source: str = ""
    raw: dict = field(default_factory=dict)  # the merged file content, stored with the study

    def measure_settings(self) -> MeasureSettings:
        # a sweep re-measures a cached unstable timing once (per process) unless told not to
        return MeasureSettings(**{"retry_unstable": True, **self.measure})

    def identity(self) -> dict:
        """What must match for a rerun or a worker to join this study (not trials/timeout)."""
        return spec_identity(self.raw)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["space"] = self.raw.get("space", {})
        return d


def load_spec(path: str | Path, name: str | None = None,
              device: str | None = None) -> StudySpec:
    """The study file at `path`; `name` replaces its study name (`sweep --name`: the same space
    as a study of its own, e.g. on a second device or after a software upgrade) and `device` its
    `measure.device` (`sweep --device`)."""
    path = Path(path)
    raw = _load_merged(path, seen=())
    if name is not None:
        _check_name(name, "--name")
        raw["name"] = name
    if device is not None:
        raw["measure"] = {**raw.get("measure", {}), "device": device}
    return spec_from_dict(raw, source=str(path))


def _check_name(name: str, where: str) -> None:
    if not name.replace("-", "").replace("_", "").isalnum():
        raise SpecError(f"{where}: {name!r} must be letters, digits, '-' or '_'")


def spec_from_dict(raw: dict, source: str = "study") -> StudySpec:
    _check_keys(raw, "", source)
    where = lambda key: f"{source}: {key}"  # noqa: E731
    name = _typed(raw, "name", str, where, required=True)
    _check_name(name, where("name"))
    space = _space(raw.get("space", {}), source)
    objectives = tuple(_typed(raw, "objectives", list, where) or
                       ["ttft_ms", "proxy_text_rich"])
    for o in objectives:
        if o not in OBJECTIVES:
            raise SpecError(f"{where('objectives')}: unknown objective {o!r}; valid: "
                            f"{', '.join(OBJECTIVES)}")
    if "ttft_ms" not in objectives or not any(o.startswith("proxy_") for o in objectives):
        raise SpecError(f"{where('objectives')}: need ttft_ms and one proxy_* objective")
    proxy = raw.get("proxy", {})
    tier = _typed(proxy, "tier", int, lambda k: where(f"proxy.{k}"))
    if tier is not None and tier not in PROXY_TIERS:
        raise SpecError(f"{where('proxy.tier')}: {tier} is invalid; valid: {PROXY_TIERS}")
    proxy_budget = _typed(proxy, "budget_s", (int, float), lambda k: where(f"proxy.{k}"))
    if proxy_budget is not None and proxy_budget <= 0:
        raise SpecError(f"{where('proxy.budget_s')}: {proxy_budget} must be > 0")
    cons = raw.get("constraints", {})
    for k in SCHEMA["constraints"]:
        v = _typed(cons, k, (int, float), lambda key: where(f"constraints.{key}"))
        if v is not None and v <= 0:
            raise SpecError(f"{where('constraints.' + k)}: {v} must be > 0")
    sampler = raw.get("sampler", {})
    sname = _typed(sampler, "name", str, lambda k: where(f"sampler.{k}")) or "nsga2"
    if sname not in SAMPLERS:
        raise SpecError(f"{where('sampler.name')}: unknown sampler {sname!r}; valid: "
                        f"{', '.join(SAMPLERS)}")
    ints = {}
    for key, low in (("seed", 0), ("population_size", 2), ("n_startup_trials", 1)):
        ints[key] = _typed(sampler, key, int, lambda k: where(f"sampler.{k}"))
        if ints[key] is not None and ints[key] < low:
            raise SpecError(f"{where('sampler.' + key)}: {ints[key]} must be >= {low}")
    description = _typed(raw, "description", str, where) or ""
    run = raw.get("run", {})
    trials = _typed(run, "trials", int, lambda k: where(f"run.{k}"))
    if trials is not None and trials < 1:
        raise SpecError(f"{where('run.trials')}: {trials} must be >= 1")
    timeout = _typed(run, "timeout_s", (int, float), lambda k: where(f"run.{k}"))
    repeats = _typed(run, "repeats", str, lambda k: where(f"run.{k}")) or "skip"
    if repeats not in REPEATS:
        raise SpecError(f"{where('run.repeats')}: {repeats!r} is invalid; valid: "
                        f"{', '.join(REPEATS)}")
    skip_over_budget = _typed(run, "skip_over_budget", bool, lambda k: where(f"run.{k}"))
    measure = _measure(raw.get("measure", {}), source)
    refs = _typed(raw, "references", list, where)
    for ref in refs or ():
        if ref not in PRESETS:
            raise SpecError(f"{where('references')}: unknown preset {ref!r}; valid: "
                            f"{', '.join(PRESETS)}")
    spec = StudySpec(
        name=name, description=description, space=space,
        objectives=objectives, proxy_tier=tier if tier is not None else 0,
        proxy_budget_s=float(proxy_budget or 60.0),
        max_ttft_ms=cons.get("max_ttft_ms"), max_memory_mb=cons.get("max_memory_mb"),
        sampler=sname, seed=ints["seed"] or 0,
        population_size=ints["population_size"] or 16,
        n_startup_trials=ints["n_startup_trials"] or 8,
        trials=trials or 20, timeout_s=timeout, repeats=repeats,
        skip_over_budget=skip_over_budget is not False, measure=measure,
        references=tuple(refs) if refs is not None else StudySpec.references,
        source=source, raw=raw)
    if sname == "grid" and spec.space.size() > 100_000:
        raise SpecError(f"{where('sampler.name')}: grid of {spec.space.size():,} points is too "
                        "large; use nsga2 or tpe")
    return spec


def _load_merged(path: Path, seen: tuple) -> dict:
    if path.is_dir():
        raise SpecError(f"{path}: is a folder; give a study file (e.g. studies/quick.toml)")
    if not path.is_file():
        raise SpecError(f"{path}: study file not found")
    if path.resolve() in seen:
        raise SpecError(f"{path}: include cycle")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: TOML syntax error: {e}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a text file; a study file is TOML") from None
    except OSError as e:  # unreadable: permissions, a broken mount
        raise SpecError(f"{path}: cannot read: {e.strerror or e}") from None
    include = data.pop("include", None)
    if include is None:
        return data
    if not isinstance(include, str):
        raise SpecError(f"{path}: include must be a path string, got {include!r}")
    base = _load_merged(path.parent / include, seen + (path.resolve(),))
    return _merge(base, data)


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _check_keys(table: dict, name: str, source: str) -> None:
    if not isinstance(table, dict):
        raise SpecError(f"{source}: [{name}] must be a table")
    for key in table:
        if key not in SCHEMA[name]:
            where = f"{name}.{key}" if name else key
            raise SpecError(f"{source}: unknown key {where!r}; valid: {', '.join(SCHEMA[name])}")
    for sub in SCHEMA:
        if sub and name == "" and sub in table:
            _check_keys(table[sub], sub, source)


def _typed(table: dict, key: str, kind, where, required: bool = False):
    if key not in table:
        if required:
            raise SpecError(f"{where(key)}: required")
        return None
    value = table[key]
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise SpecError(f"{where(key)}: expected {names}, got {value!r}")
    return value


def _dim(value, where: str, kind=int):
    """list -> Choice; {min, max, step} -> IntRange; scalar -> fixed Choice."""
    if isinstance(value, dict):
        extra = set(value) - {"min", "max", "step"}
        if extra or not {"min", "max"} <= set(value):
            raise SpecError(f"{where}: a range needs min, max and optional step, got {value!r}")
        lo, hi, step = value["min"], value["max"], value.get("step", 1)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi, step)):
            raise SpecError(f"{where}: range bounds and step must be integers, got {value!r}")
        if step < 1 or lo > hi:
            raise SpecError(f"{where}: impossible range {value!r} (need min <= max, step >= 1)")
        return IntRange(lo, hi, step)
    values = value if isinstance(value, list) else [value]
    if not values:
        raise SpecError(f"{where}: empty list of choices")
    for v in values:
        ok = isinstance(v, kind) and not (isinstance(v, bool) and kind is not bool)
        if not ok:
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise SpecError(f"{where}: expected {names} values, got {v!r}")
    return Choice(tuple(values))


def _space(raw: dict, source: str) -> SearchSpace:
    w = lambda key: f"{source}: space.{key}"  # noqa: E731
    if "resolution" not in raw:
        raise SpecError(f"{w('resolution')}: required")
    base = raw.get("encoder_base", "fastvithd")
    if base not in ENCODER_BASES:
        raise SpecError(f"{w('encoder_base')}: unknown {base!r}; valid: {', '.join(ENCODER_BASES)}")
    if "widths" in raw and "width_multiplier" in raw:
        raise SpecError(f"{w('widths')}: give widths or width_multiplier, not both")
    per_stage = {}
    for key in ("depths", "widths"):
        if key in raw:
            stages = raw[key]
            if not isinstance(stages, list) or not stages:
                raise SpecError(f"{w(key)}: expected one entry (value, list or range) per stage")
            per_stage[key] = tuple(_dim(v, f"{w(key)}[{i}]") for i, v in enumerate(stages))
    opt = {k: _dim(raw[k], w(k), kind) for k, kind in
           (("width_multiplier", (int, float)), ("mlp_ratio", (int, float)),
            ("attention_stages", int), ("output_pool", int)) if k in raw}
    space = SearchSpace(
        resolution=_dim(raw["resolution"], w("resolution")),
        llm=_dim(raw.get("llm", "qwen2-0.5b"), w("llm"), str), encoder_base=base,
        projector=_dim(raw.get("projector", "mlp2x_gelu"), w("projector"), str),
        prompt_tokens=_dim(raw.get("prompt_tokens", 32), w("prompt_tokens")),
        dtype=_dim(raw.get("dtype", "float32"), w("dtype"), str), **per_stage, **opt)
    _validate_space(space, source)
    return space


def _validate_space(space: SearchSpace, source: str) -> None:
    """Every single value must be valid on its own (combinations may still be invalid and are
    then recorded as failed samples)."""
    grid = space.grid()
    seen: dict[tuple[int, ...], float] = {}
    for m, widths in space.multiplier_widths().items():  # snapping can merge two choices
        if widths in seen:
            raise SpecError(f"{source}: space.width_multiplier: {seen[widths]:g} and {m:g} both "
                            f"build widths {'-'.join(map(str, widths))} (the first width is a "
                            "multiple of 16); keep one")
        seen[widths] = m
    n_stages = preset(ENCODER_BASES[space.encoder_base]).encoder.num_stages
    for key in ("depths", "widths"):
        dims = getattr(space, key)
        if dims is not None and len(dims) != n_stages:
            raise SpecError(f"{source}: space.{key}: {len(dims)} entries for a {n_stages}-stage "
                            f"{space.encoder_base} encoder")
    for name, values in grid.items():
        for v in values:
            params = {k: vals[0] for k, vals in grid.items()} | {name: v}
            try:
                space.config_from_params(params)
            except ConfigError as e:
                if not _combination_only(name, e):
                    # the value at fault may be another key's first one (an unknown llm
                    # fails with every resolution): blame the key the message names
                    key = next((k for k in params if _names(str(e), k)), name)
                    raise SpecError(f"{source}: space.{_file_key(key)} = {params[key]!r}: "
                                    f"{e}") from None


def _file_key(param: str) -> str:
    """The study file's spelling of a search parameter: depth_1 -> depths[1]."""
    base, _, stage = param.rpartition("_")
    if not stage.isdigit():
        return param
    return f"{ {'depth': 'depths', 'width': 'widths'}.get(base, base)}[{stage}]"


def _names(message: str, key: str) -> bool:
    """Whether a ConfigError message is about `key`: the field's name (or its singular) is
    among its first words ("unknown llm ...", "depth 0 of stage 1 ...")."""
    words = {w.rstrip(":,;") for w in message.lower().replace("(", " ").split()[:3]}
    base, _, stage = key.rpartition("_")
    if stage.isdigit():  # per-stage keys: depth_1 is "depth 0 of stage 1 ..."
        return base in words and f"stage {stage} " in message + " "
    return bool({key, key.removesuffix("s")} & words)


def _combination_only(name: str, err: ConfigError) -> bool:
    # A resolution that suits some pooling choice, or a width that suits a different attention
    # split, is a valid value; its bad combinations become failed samples.
    return name in ("output_pool", "attention_stages") or "head size" in str(err) \
        or ("stride" in str(err) and name != "resolution")


def _measure(raw: dict, source: str) -> dict:
    out = dict(raw)
    for key, valid in (("device", DEVICES), ("extrapolate", EXTRAPOLATE),
                       ("memory", MEMORY_MODES), ("channels_last", CHANNELS_LAST)):
        if key in raw and raw[key] not in valid:
            raise SpecError(f"{source}: measure.{key}: {raw[key]!r} is invalid; valid: "
                            f"{', '.join(valid)}")
    for key in ("budget_s", "memory_budget_mb"):
        if key in raw and (not isinstance(raw[key], (int, float)) or raw[key] <= 0):
            raise SpecError(f"{source}: measure.{key}: {raw[key]!r} must be a number > 0")
    for key in ("use_cache", "retry_unstable"):
        if key in raw and not isinstance(raw[key], bool):
            raise SpecError(f"{source}: measure.{key}: {raw[key]!r} must be true/false")
    for key in ("threads", "min_n", "max_n"):
        if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], int)
                           or raw[key] < 1):
            raise SpecError(f"{source}: measure.{key}: {raw[key]!r} must be an integer >= 1")
    if raw.get("min_n", 0) > raw.get("max_n", raw.get("min_n", 0)):
        raise SpecError(f"{source}: measure.min_n {raw['min_n']} is more than measure.max_n "
                        f"{raw['max_n']}")
    return out
