import json
import math

import pytest

from fastvlm import ConfigError, EncoderConfig, LLMConfig, VlmConfig, build_config, preset
from fastvlm.presets import PRESETS, config_from_dict, load_config_file, resolve_llm


def test_presets_are_valid_and_named():
    for name in PRESETS:
        cfg = preset(name)
        assert cfg.name == name
        assert cfg.resolution % cfg.encoder.total_stride == 0


def test_fastvithd_tokens_and_stride():
    cfg = preset("fastvlm-0.5b")
    assert cfg.encoder.total_stride == 64
    assert cfg.visual_tokens == 256 and cfg.encoder.out_channels == 3072
    assert preset("fastvlm-0.5b", resolution=512).visual_tokens == 64
    assert preset("fastvlm-0.5b", output_pool=2).visual_tokens == 64  # pooled grid


def test_fastvit_is_stride_32():
    cfg = preset("fastvit-0.5b")
    assert cfg.encoder.total_stride == 32 and cfg.visual_tokens == 576  # 768 / 32 = 24


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(resolution=1000), "nearest valid: 960 or 1024"),
    (dict(depths=(2, -1, 24, 4, 2)), "depth -1 of stage 1"),
    (dict(widths=(24, 48, 48, 48, 48)), "not divisible by the head size 32"),
    (dict(widths=(96, 192, 384, 768, 1152)), "not a multiple of the previous width 768"),
    (dict(llm="qwen3-72b"), "valid: qwen2-0.5b"),
    (dict(dtype="float8"), "valid: float32"),
    (dict(attention_stages=7), "valid: 0..5"),
    (dict(output_pool=3), "valid: (1, 2, 4)"),
    (dict(projector="perceiver"), "valid: mlp2x_gelu, linear"),
])
def test_invalid_values_name_value_and_options(kwargs, fragment):
    with pytest.raises(ConfigError, match=None) as err:
        preset("fastvlm-0.5b", **kwargs)
    assert fragment in str(err.value)


def test_unknown_preset_lists_valid():
    with pytest.raises(ConfigError, match="unknown preset 'nope'; valid: fastvlm-0.5b"):
        preset("nope")


def test_llm_checks():
    with pytest.raises(ConfigError, match="not divisible by num_heads"):
        LLMConfig(hidden_size=100, num_heads=14)
    with pytest.raises(ConfigError, match="num_kv_heads"):
        LLMConfig(num_heads=14, num_kv_heads=4)


def test_encoder_lengths_must_match():
    with pytest.raises(ConfigError, match="one entry per stage"):
        EncoderConfig(depths=(1, 1, 1), widths=(32, 32, 32, 32), mlp_ratios=(4, 4, 4))


def test_roundtrip_dict_and_key():
    cfg = preset("fastvlm-1.5b", resolution=768, output_pool=2)
    again = config_from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.key() == cfg.key()
    assert preset("fastvlm-1.5b").key() != cfg.key()
    # the label is not part of the identity
    assert VlmConfig(llm=cfg.llm, name="x").key() == VlmConfig(llm=cfg.llm, name="y").key()


def test_precedence_cli_over_file_over_preset(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('preset = "fastvlm-1.5b"\nresolution = 512\n[encoder]\noutput_pool = 2\n')
    cfg = load_config_file(f)
    assert cfg.llm.name == "qwen2-1.5b" and cfg.resolution == 512 and cfg.encoder.output_pool == 2
    cli = build_config(config_file=str(f), resolution=768)
    assert cli.resolution == 768 and cli.encoder.output_pool == 2


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("resolution = [\n")
    with pytest.raises(ConfigError, match="bad.toml: cannot parse as TOML: "):
        load_config_file(bad)
    other = tmp_path / "config.cfg"  # neither suffix: read as JSON, and the error says so
    other.write_text("resolution = 512\n")
    with pytest.raises(ConfigError, match=r"cannot parse as JSON \(a .toml file is read as "
                                          r"TOML\)"):
        load_config_file(other)
    binary = tmp_path / "weights.json"
    binary.write_bytes(b"\x80\xff\x00")
    with pytest.raises(ConfigError, match="weights.json: not a text file"):
        load_config_file(binary)
    unknown = tmp_path / "u.json"
    unknown.write_text(json.dumps({"resolutoin": 512}))
    with pytest.raises(ConfigError, match="unknown key 'resolutoin'; valid: preset"):
        load_config_file(unknown)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.toml")


def test_an_export_is_a_config_file_and_folder(tmp_path):
    """What `fastvlm-explore export` writes reads back as the configuration it exported, from
    its fastvlm_explorer.json or its folder: sweep here, measure on the target device."""
    from explorer.export import export_files, write_export
    from explorer.records import TrialRecord

    cfg = preset("fastvlm-1.5b", resolution=768, output_pool=2, widths=(64, 128, 256, 512, 1024))
    rec = TrialRecord(config=cfg.to_dict(), summary=cfg.summary(), counts={})
    out = write_export(export_files(rec, "s", 3), tmp_path / "exported")
    assert load_config_file(out) == load_config_file(out / "fastvlm_explorer.json") == cfg
    assert "fastvlm-explore measure --config path/to/this/folder" in \
        (out / "MODEL_CARD.md").read_text()
    stale = json.loads((out / "fastvlm_explorer.json").read_text()) | {"schema_version": 9}
    (tmp_path / "stale.json").write_text(json.dumps(stale))
    with pytest.raises(ConfigError, match="exported with schema_version 9; this version reads 1"):
        load_config_file(tmp_path / "stale.json")
    with pytest.raises(ConfigError, match="has no fastvlm_explorer.json or config.json; give a"):
        load_config_file(tmp_path)


def test_llm_from_local_config_json(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({
        "hidden_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4,
        "num_key_value_heads": 2, "intermediate_size": 256, "vocab_size": 500,
        "tie_word_embeddings": True}))
    llm = resolve_llm(str(tmp_path))
    assert (llm.hidden_size, llm.num_layers, llm.kv_dim) == (128, 3, 64)
    cfg = preset("tiny", llm=str(tmp_path / "config.json"))
    assert cfg.llm == llm
    with pytest.raises(ConfigError, match=r"missing.json does not exist; valid: qwen2"):
        resolve_llm(str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="unknown llm 'qwen3'"):
        resolve_llm("qwen3")


@pytest.mark.parametrize("name", ["fastvlm-0.5b", "fastvlm-7b", "fastvit-0.5b", "tiny"])
def test_a_transformers_fastvlm_config_reads_back(name, tmp_path):
    """`config.json` as transformers writes a FastVlmConfig: the same shape comes back (the
    prompt length is the measurement's, not the model's, so it is the base preset's)."""
    from fastvlm.hfconfig import config_from_fastvlm_dict, fastvlm_config_dict, hf_representable

    for resolution in (256, 768):
        cfg = preset(name, resolution=resolution, prompt_tokens=32)
        if not hf_representable(cfg):
            cfg = build_config(name, resolution=resolution, prompt_tokens=32, output_pool=1)
        raw = fastvlm_config_dict(cfg)
        back = config_from_fastvlm_dict(raw)
        assert back.key() == cfg.key() and back.llm.name == cfg.llm.name
        del raw["image_seq_length"]  # as transformers 5.1 writes it: the base preset's resolution
        assert config_from_fastvlm_dict(raw).resolution == (768 if name == "fastvit-0.5b" else 1024)
    folder = tmp_path / "FastVLM-x"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(fastvlm_config_dict(cfg)))
    assert load_config_file(folder).key() == cfg.key()  # a folder with config.json only


def test_transformers_default_fastvlm_config():
    """transformers' own FastVlmConfig() (FastVLM-7B style, stock encoder args): FastViTHD at
    the resolution of its image_seq_length (576 tokens: 1536 px; transformers 5.1 has no such
    key: FastVLM's 1024 px), and a Qwen2-7B with FastVLM's extended vocabulary (not the
    preset)."""
    from transformers import FastVlmConfig

    from fastvlm.hfconfig import config_from_fastvlm_dict

    raw = FastVlmConfig().to_dict()
    cfg = config_from_fastvlm_dict(raw)
    tokens = raw.get("image_seq_length")
    assert cfg.resolution == (64 * math.isqrt(tokens) if tokens else 1024)
    assert cfg.encoder == preset("fastvlm-7b").encoder
    assert cfg.llm.vocab_size == 152128 and cfg.llm.name == "qwen2-custom"


@pytest.mark.parametrize("change, fragment", [
    ({"vision_config": {"architecture": "resnet50"}}, "vision_config.architecture 'resnet50'"),
    ({"image_seq_length": 250}, "image_seq_length 250 is not a square grid"),
])
def test_fastvlm_config_errors(change, fragment, tmp_path):
    from fastvlm.hfconfig import fastvlm_config_dict

    f = tmp_path / "config.json"
    f.write_text(json.dumps(fastvlm_config_dict(preset("fastvlm-0.5b")) | change))
    with pytest.raises(ConfigError, match=fragment):
        load_config_file(f)
