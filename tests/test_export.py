"""write_export: all or nothing, and --force never empties a folder that is not an export;
the export command tells whether transformers loads what it wrote."""

import json
import os
import stat

import numpy as np
import optuna
import pytest

from explorer.export import write_export
from tests.dashboard_fixtures import build_study, make_trial, reference_params

FILES = {"fastvlm_explorer.json": "{}", "MODEL_CARD.md": "# card"}


def test_writes_a_new_folder_readable_by_others(tmp_path):
    out = write_export(FILES, tmp_path / "a" / "b")
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask  # not mkdtemp's 0700
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b"]  # no temp folder left


def test_force_replaces_a_previous_export(tmp_path):
    write_export(FILES | {"config.json": "{}"}, tmp_path / "x")
    with pytest.raises(FileExistsError, match="pass --force"):
        write_export(FILES, tmp_path / "x")
    write_export({"MODEL_CARD.md": "new"}, tmp_path / "x", overwrite=True)
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["MODEL_CARD.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]  # the old one is gone


def test_force_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "fastvlm-explorer.db").write_text("the study")
    with pytest.raises(FileExistsError, match=r"holds files that are not an export "
                                              r"\(fastvlm-explorer.db\)"):
        write_export(FILES, tmp_path / "results", overwrite=True)
    assert (tmp_path / "results" / "fastvlm-explorer.db").read_text() == "the study"


def test_force_refuses_the_current_folder(tmp_path, monkeypatch):
    write_export(FILES, tmp_path / "prev")
    monkeypatch.chdir(tmp_path / "prev")
    with pytest.raises(FileExistsError, match="is the current folder or contains it"):
        write_export(FILES, ".", overwrite=True)
    with pytest.raises(FileExistsError, match="is the current folder or contains it"):
        write_export(FILES, "..", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "prev").iterdir()) == sorted(FILES)


def test_a_file_in_the_way_is_a_clear_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(FileExistsError, match="is a file, not a folder"):
        write_export(FILES, tmp_path / "f", overwrite=True)
    with pytest.raises(FileExistsError, match=r"cannot make .*f/sub/x: .*f is a file"):
        write_export(FILES, tmp_path / "f" / "sub" / "x")


def test_a_failed_write_leaves_the_previous_export(tmp_path, monkeypatch):
    write_export(FILES, tmp_path / "x")
    real = os.replace
    calls = []

    def second_rename_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    with pytest.raises(OSError):
        write_export({"MODEL_CARD.md": "new"}, tmp_path / "x", overwrite=True)
    monkeypatch.setattr(os, "replace", real)
    assert (tmp_path / "x" / "MODEL_CARD.md").read_text() == "# card"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]


def test_export_json_says_whether_transformers_loads_it(tmp_path, run_cli):
    """A pooled output grid has no FastVlmConfig: the export says so (text and --json)."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    build_study(url, "demo", n=1)
    pooled = reference_params() | {"output_pool": 2}
    optuna.load_study(study_name="demo", storage=url).add_trial(
        make_trial(1, np.random.default_rng(0), params=pooled))
    r = run_cli("export", "--study", "demo", "--storage", url, "--trial", "1",
                "--out", tmp_path / "pooled", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["transformers_config"] is None and "output_pool 2" in out[
        "transformers_unsupported"]
    assert out["files"] == sorted(p.name for p in (tmp_path / "pooled").iterdir())
    assert "config.json" not in out["files"] and out["config"]["encoder"]["output_pool"] == 2
    r = run_cli("export", "--study", "demo", "--storage", url, "--trial", "0",
                "--out", tmp_path / "ref")
    assert r.returncode == 0 and "no config.json" not in r.stdout
    r = run_cli("export", "--study", "demo", "--storage", url, "--trial", "1",
                "--out", tmp_path / "pooled2")
    assert "no config.json: transformers' FastVlmConfig cannot express output_pool 2" in r.stdout
    r = run_cli("export", "--study", "demo", "--storage", url, "--trial", "0",
                "--out", tmp_path / "ref2", "--json")
    assert json.loads(r.stdout)["transformers_config"] == "config.json"
