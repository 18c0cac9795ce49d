"""Named configurations, overrides and config files: every way a user names a `VlmConfig`.

    fastvlm-explore presets

Precedence is resolved in one place, `build_config`: CLI flags > config file > preset > defaults.
Presets are small diffs of the dataclass defaults (FastViTHD + Qwen2-0.5B at 1024).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

from .config import ConfigError, EncoderConfig, LLMConfig, ProjectorConfig, VlmConfig

# Public Qwen2 configs (random weights are fine for latency).
LLM_PRESETS: dict[str, LLMConfig] = {
    "qwen2-0.5b": LLMConfig("qwen2-0.5b", 896, 24, 14, 2, 4864, 151936, True),
    "qwen2-1.5b": LLMConfig("qwen2-1.5b", 1536, 28, 12, 2, 8960, 151936, True),
    # Qwen2-7B's public vocab; Apple's HF FastVLM-7B port pads it to 152128.
    "qwen2-7b": LLMConfig("qwen2-7b", 3584, 28, 28, 4, 18944, 152064, False),
    # A toy decoder for tests and smoke runs.
    "tiny-llm": LLMConfig("tiny-llm", 64, 2, 2, 1, 128, 1024, True),
}

_FASTVIT_MCI2 = EncoderConfig(
    variant="fastvit", depths=(4, 12, 24, 4), widths=(80, 160, 320, 640),
    mlp_ratios=(3.0, 3.0, 3.0, 3.0), attention_stages=1,
)
_TINY_ENCODER = EncoderConfig(
    depths=(1, 1, 1, 1, 1), widths=(16, 32, 32, 64, 64), mlp_ratios=(2.0,) * 5,
)

PRESETS: dict[str, VlmConfig] = {
    "fastvlm-0.5b": VlmConfig(llm=LLM_PRESETS["qwen2-0.5b"], resolution=1024),
    "fastvlm-1.5b": VlmConfig(llm=LLM_PRESETS["qwen2-1.5b"], resolution=1024),
    "fastvlm-7b": VlmConfig(llm=LLM_PRESETS["qwen2-7b"], resolution=1024),
    # The paper's 4-stage FastViT baseline (MobileCLIP MCi2-like, stride 32).
    "fastvit-0.5b": VlmConfig(encoder=_FASTVIT_MCI2, llm=LLM_PRESETS["qwen2-0.5b"],
                              resolution=768),
    "tiny": VlmConfig(encoder=_TINY_ENCODER, llm=LLM_PRESETS["tiny-llm"], resolution=128,
                      prompt_tokens=8),
}
PRESET_NOTES = {
    "fastvlm-0.5b": "FastViTHD + Qwen2-0.5B (paper Table 6 R3-R5)",
    "fastvlm-1.5b": "FastViTHD + Qwen2-1.5B (paper Table 6 R11-R13)",
    "fastvlm-7b": "FastViTHD + Qwen2-7B (paper Table 6 R40-R42)",
    "fastvit-0.5b": "4-stage FastViT (MCi2-like, stride 32) + Qwen2-0.5B",
    "tiny": "toy model for tests and smoke runs",
}

ENCODER_KEYS = tuple(f.name for f in dataclasses.fields(EncoderConfig))
LLM_KEYS = tuple(f.name for f in dataclasses.fields(LLMConfig))
TOP_KEYS = ("preset", "name", "resolution", "prompt_tokens", "dtype", "llm", "projector", "encoder")


def preset(name: str, **overrides: Any) -> VlmConfig:
    """The named preset with optional overrides (keys as in `with_overrides`)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
    cfg = dataclasses.replace(PRESETS[name], name=name)
    return with_overrides(cfg, **overrides) if overrides else cfg


def resolve_llm(spec: Any) -> LLMConfig:
    """An LLM from a preset name, a local HF `config.json` path, a dict of fields, or itself."""
    if isinstance(spec, LLMConfig):
        return spec
    if isinstance(spec, dict):
        fields = dict(spec)
        base = resolve_llm(fields.pop("preset")) if "preset" in fields else None
        _reject_unknown(fields, LLM_KEYS, "llm")
        if base is not None:
            fields.setdefault("name", f"{base.name}*")
            return dataclasses.replace(base, **fields)
        return LLMConfig(**{"name": "custom", **fields})
    if isinstance(spec, str):
        if spec in LLM_PRESETS:
            return LLM_PRESETS[spec]
        path = Path(spec)
        if path.is_dir():
            path = path / "config.json"
        if path.suffix == ".json" and path.is_file():
            return llm_from_hf_config(path)
        if path.suffix == ".json" or "/" in spec:
            raise ConfigError(f"llm config {path} does not exist; valid: "
                              f"{', '.join(LLM_PRESETS)} or a path to a local config.json")
        raise ConfigError(f"unknown llm {spec!r}; valid: {', '.join(LLM_PRESETS)} "
                          "or a path to a local config.json")
    raise ConfigError(f"llm must be a preset name, path or table, got {spec!r}")


def llm_from_hf_config(path: Path) -> LLMConfig:
    """Read a Qwen2 (or FastVLM, using its text_config) `config.json` without transformers."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read llm config {path}: {e}") from None
    return llm_from_hf_dict(raw, Path(path).resolve().parent.name or "custom", str(path))


def llm_from_hf_dict(raw: dict, name: str, source: str) -> LLMConfig:
    """The LLM of a Qwen2 `config.json` dict (or of a FastVLM one: its text_config)."""
    raw = raw.get("text_config", raw)
    try:
        return LLMConfig(
            name=name, hidden_size=raw["hidden_size"], num_layers=raw["num_hidden_layers"],
            num_heads=raw["num_attention_heads"],
            num_kv_heads=raw.get("num_key_value_heads", raw["num_attention_heads"]),
            intermediate_size=raw["intermediate_size"], vocab_size=raw["vocab_size"],
            tie_embeddings=bool(raw.get("tie_word_embeddings", False)),
        )
    except KeyError as e:
        raise ConfigError(f"llm config {source} lacks the key {e.args[0]!r}") from None


def with_overrides(cfg: VlmConfig, **overrides: Any) -> VlmConfig:
    """Apply flat overrides: top-level keys, `llm`, `projector`, or any `EncoderConfig` field."""
    top, enc = {}, {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ENCODER_KEYS:
            enc[key] = value
        elif key == "llm":
            top["llm"] = resolve_llm(value)
        elif key == "projector":
            top["projector"] = _projector(value)
        elif key in ("resolution", "prompt_tokens", "dtype", "name"):
            top[key] = value
        else:
            raise ConfigError(f"unknown override {key!r}; valid: "
                              f"{', '.join(TOP_KEYS[1:] + ENCODER_KEYS)}")
    if enc:
        try:
            top["encoder"] = dataclasses.replace(cfg.encoder, **enc)
        except TypeError as e:
            raise ConfigError(str(e)) from None
    return dataclasses.replace(cfg, **top)


def config_from_dict(data: dict, source: str = "config") -> VlmConfig:
    """Build from the file / stored form: optional `preset`, then overrides and tables."""
    data = dict(data)
    _reject_unknown(data, TOP_KEYS, source)
    base = preset(data.pop("preset")) if "preset" in data else VlmConfig()
    encoder = data.pop("encoder", {}) or {}
    if not isinstance(encoder, dict):
        raise ConfigError(f"{source}: 'encoder' must be a table, got {encoder!r}")
    _reject_unknown(encoder, ENCODER_KEYS, f"{source} [encoder]")
    return with_overrides(base, **data, **encoder)


EXPORT_FILE = "fastvlm_explorer.json"  # what `fastvlm-explore export` writes (explorer/export.py)
EXPORT_FORMAT, EXPORT_SCHEMA = "fastvlm-explorer config", 1


def load_config_file(path: str | Path) -> VlmConfig:
    """A `VlmConfig` from a TOML or JSON file (see README, 'Configurations'), from what
    `fastvlm-explore export` wrote (its folder or its fastvlm_explorer.json: a trial swept on
    one machine is measured again on another), or from a transformers FastVLM `config.json`."""
    path = Path(path)
    if path.is_dir():  # an export (ours first), or a transformers FastVLM folder
        found = [path / f for f in (EXPORT_FILE, "config.json") if (path / f).is_file()]
        if not found:
            raise ConfigError(f"config folder {path} has no {EXPORT_FILE} or config.json; give "
                              "a TOML/JSON file or a folder written by `fastvlm-explore export`")
        path = found[0]
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        hint = "" if path.suffix in (".toml", ".json") else " (a .toml file is read as TOML)"
        raise ConfigError(f"{path}: cannot parse as {kind}{hint}: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; give a TOML or JSON configuration") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table/object at the top level")
    if data.get("model_type") == "fast_vlm":  # transformers' FastVlmConfig
        from .hfconfig import config_from_fastvlm_dict

        return config_from_fastvlm_dict(data, str(path))
    if data.get("format") == EXPORT_FORMAT:
        if data.get("schema_version") != EXPORT_SCHEMA or not isinstance(data.get("config"), dict):
            raise ConfigError(f"{path}: exported with schema_version "
                              f"{data.get('schema_version')!r}; this version reads "
                              f"{EXPORT_SCHEMA}")
        data = data["config"]
    return config_from_dict(data, source=str(path))


def build_config(preset_name: str | None = None, config_file: str | None = None,
                 **overrides: Any) -> VlmConfig:
    """The one precedence rule: CLI overrides > config file > preset > dataclass defaults."""
    if config_file:
        cfg = load_config_file(config_file)
        if preset_name:
            raise ConfigError("give either --preset or --config (put `preset = ...` in the file)")
    else:
        cfg = preset(preset_name or "fastvlm-0.5b")
    return with_overrides(cfg, **overrides)


def _projector(value: Any) -> ProjectorConfig:
    if isinstance(value, ProjectorConfig):
        return value
    if isinstance(value, dict):
        _reject_unknown(value, ("kind",), "projector")
        return ProjectorConfig(**value)
    return ProjectorConfig(kind=str(value))


def _reject_unknown(data: dict, valid: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid: {', '.join(valid)}")
