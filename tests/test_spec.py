"""Study files: accepted shipped studies; bad files rejected with file, key and reason."""

import json
import sys
from pathlib import Path

import pytest

from explorer.spec import SpecError, load_spec

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["quick", "paper", "mobile"])
def test_shipped_studies_load(name):
    spec = load_spec(ROOT / "studies" / f"{name}.toml")
    assert spec.name == name and spec.space.size() >= 8
    assert spec.objectives[0] == "ttft_ms"


def test_presets_are_diffs_of_base():
    spec = load_spec(ROOT / "studies" / "quick.toml")
    assert spec.proxy_tier == 1  # from base.toml
    assert spec.measure["budget_s"] == 6  # overridden by quick.toml
    assert spec.population_size == 8


BAD = [
    ('name = "x"\n[space]\nresolution = [512]\nresolutoin = 3\n', "unknown key 'space.resolutoin'"),
    ('name = "x"\n[space]\nresolution = "512"\n', "space.resolution: expected int values"),
    ('name = "x"\n[space]\nresolution = {min = 1024, max = 256}\n', "impossible range"),
    ('name = "x"\n[space]\nresolution = [500]\n', "space.resolution = 500"),
    ('name = "x"\n[space]\nresolution = [\n', "TOML syntax error"),
    ('name = "x"\n[space]\nresolution = [512]\n[sampler]\nname = "cmaes"\n', "valid: nsga2"),
    ('name = "x"\n[space]\nresolution = [512]\nllm = ["gpt9"]\n',
     "space.llm = 'gpt9': unknown llm 'gpt9'"),
    ('name = "x"\n[space]\nresolution = [512]\ndtype = "fp8"\n',
     "space.dtype = 'fp8': unknown dtype 'fp8'"),
    ('name = "x"\n[space]\nresolution = [512]\ndepths = [2, 0, 2, 2, 2]\n',
     "space.depths[1] = 0: depth 0 of stage 1 is invalid"),
    ('name = "x"\n[space]\nresolution = [512]\n[run]\ntrials = 0\n', "run.trials: 0 must be >= 1"),
    ('name = "x"\n[space]\nresolution = [512]\n[proxy]\ntier = 5\n', "proxy.tier: 5 is invalid"),
    ('name = "x"\n[space]\nresolution = [512]\n[constraints]\nmax_ttft_ms = -1\n', "must be > 0"),
    ('[space]\nresolution = [512]\n', "name: required"),
    ('name = "x"\n[space]\nresolution = [512]\n[run]\nrepeats = "again"\n',
     "run.repeats: 'again' is invalid; valid: skip, evaluate"),
    ('name = "x"\n[space]\nresolution = [512]\n[sampler]\nseed = "a"\n',
     "sampler.seed: expected int, got 'a'"),
    ('name = "x"\n[space]\nresolution = [512]\n[sampler]\npopulation_size = 1\n',
     "sampler.population_size: 1 must be >= 2"),
    ('name = "x"\n[space]\nresolution = [512]\n[proxy]\nbudget_s = "long"\n',
     "proxy.budget_s: expected int/float, got 'long'"),
    ('name = "x"\n[space]\nresolution = [512]\n[proxy]\nfamily = "general"\n',
     "unknown key 'proxy.family'; valid: tier, budget_s"),
    ('name = "x"\n[space]\nresolution = [512]\n[measure]\nmin_n = 9\nmax_n = 3\n',
     "measure.min_n 9 is more than measure.max_n 3"),
    ('name = "x"\ndescription = 3\n[space]\nresolution = [512]\n',
     "description: expected str, got 3"),
    ('name = "x"\nreferences = ["fastvlm-9b"]\n[space]\nresolution = [512]\n',
     "references: unknown preset 'fastvlm-9b'; valid: fastvlm-0.5b"),
    ('name = "x"\n[space]\nresolution = [512]\nwidth_multiplier = [0.5, 0.55]\n',
     "space.width_multiplier: 0.5 and 0.55 both build widths 48-96-192-384-768"),
]


@pytest.mark.parametrize("text, fragment", BAD)
def test_bad_study_files(tmp_path, text, fragment):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(SpecError) as err:
        load_spec(f)
    assert fragment in str(err.value) and str(f) in str(err.value)


def test_a_folder_or_binary_file_is_a_clear_error(tmp_path):
    with pytest.raises(SpecError, match=r"is a folder; give a study file \(e.g. studies/"):
        load_spec(tmp_path)
    binary = tmp_path / "weights.toml"
    binary.write_bytes(b"\x80\xff\x00name")
    with pytest.raises(SpecError, match="weights.toml: not a text file; a study file is TOML"):
        load_spec(binary)


def test_a_device_this_machine_lacks_is_refused_before_any_storage(tmp_path, run_cli):
    absent = "cuda" if sys.platform == "darwin" else "mps"
    f = tmp_path / "gpu.toml"
    f.write_text(f'name = "x"\n[space]\nresolution = [512]\n[measure]\ndevice = "{absent}"\n')
    db = tmp_path / "store.db"
    for extra in (["--dry-run"], []):
        r = run_cli("sweep", f, "--storage", f"sqlite:///{db}", *extra)
        assert r.returncode == 2 and f"device '{absent}' is not available here" in r.stderr
        assert str(f) in r.stderr and not db.exists()


def test_cli_rejects_bad_file_before_creating_storage(tmp_path, run_cli):
    f = tmp_path / "bad.toml"
    f.write_text('name = "x"\n[space]\nresolution = [512]\nwidth = 3\n')
    db = tmp_path / "store.db"
    r = run_cli("sweep", f, "--storage", f"sqlite:///{db}")
    assert r.returncode == 2 and "unknown key 'space.width'" in r.stderr
    assert "Traceback" not in r.stderr and not db.exists()


def test_dry_run_shows_what_each_width_multiplier_builds(tmp_path, run_cli):
    r = run_cli("sweep", ROOT / "studies" / "mobile.toml", "--dry-run")
    assert r.returncode == 0, r.stderr
    # 96 x 0.75 = 72 is snapped to a multiple of 16: the user is told it is x0.83
    assert "0.75 -> widths 80-160-320-640-1280 (x0.83 after snapping)" in r.stdout
    assert "0.5 -> widths 48-96-192-384-768\n" in r.stdout
    assert "generations" not in r.stdout  # mobile.toml asks for TPE
    # the same study with the default NSGA-II: 60 trials of a population of 16 in 3,024
    # points are under 4 generations, and it says so
    nsga2 = tmp_path / "mobile.toml"
    nsga2.write_text((ROOT / "studies" / "mobile.toml").read_text()
                     .replace('include = "presets/base.toml"',
                              f'include = "{ROOT / "studies" / "presets" / "base.toml"}"')
                     .replace('name = "tpe"', 'name = "nsga2"'))
    r = run_cli("sweep", nsga2, "--dry-run")
    assert "NSGA-II with population 16: 60 trials are 3.8 generations" in " ".join(
        r.stdout.split())
    r = run_cli("sweep", ROOT / "studies" / "quick.toml", "--dry-run", "--json")
    assert json.loads(r.stdout)["sampler_note"] is None  # 10 trials cover its 8 points
    r = run_cli("sweep", ROOT / "studies" / "quick.toml", "--dry-run")
    assert "8 points; every point once (10 trials asked) with nsga2" in r.stdout
    assert "60 trials with nsga2" in " ".join(run_cli("sweep", nsga2, "--dry-run").stdout.split())


def test_llms_whose_weights_exceed_the_memory_budget_are_named_before_a_sweep(tmp_path, run_cli):
    study = tmp_path / "s.toml"
    study.write_text((ROOT / "studies" / "mobile.toml").read_text()
                     .replace('include = "presets/base.toml"',
                              f'include = "{ROOT / "studies" / "presets" / "base.toml"}"')
                     .replace('llm = ["qwen2-0.5b"]', 'llm = ["qwen2-0.5b", "qwen2-1.5b"]'))
    from explorer.evaluate import never_fitting_llms

    notes = never_fitting_llms(load_spec(study))
    # Qwen2-1.5B: 1.54 B parameters x 4 bytes > 3 GB; Qwen2-0.5B (1.9 GB) fits
    assert len(notes) == 1 and notes[0].startswith(
        "llm qwen2-1.5b in float32 can never meet max_memory_mb 3,072: its weights alone are 5,8")
    r = run_cli("sweep", study, "--dry-run")
    assert r.returncode == 0 and f"note: {notes[0]}" in r.stderr
    # the dry run's cache count walks the space as the sweep would: every 1.5B point is rejected
    assert "3,024 points are invalid or over budget (never measured)" in " ".join(r.stdout.split())
    assert not never_fitting_llms(load_spec(ROOT / "studies" / "mobile.toml"))
