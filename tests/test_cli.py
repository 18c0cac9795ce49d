"""The CLI as a user runs it: exit codes, one-line errors, JSON output."""

import json
import subprocess
import sys

import pytest


ABSENT = "cuda" if sys.platform == "darwin" else "mps"  # a device this machine cannot have


def run(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "explorer.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_presets_json():
    r = run("presets", "--json")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert data["fastvlm-0.5b"]["visual_tokens"] == 256
    assert data["fastvlm-0.5b"]["params"]["encoder"] == 122_714_208


def test_measure_json_tiny():
    r = run("measure", "--preset", "tiny", "--budget-s", "0.5", "--json", "--memory",
            "predicted", "--threads", "1")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("ttft_ms", "encoder_ms", "projector_ms", "prefill_ms", "ttft_p90_ms",
                "ttft_ci_ms", "n", "unstable", "extrapolated", "visual_tokens", "params",
                "gflops", "peak_memory_mb", "device", "dtype", "threads", "versions", "cached"):
        assert key in d
    human = run("measure", "--preset", "tiny", "--budget-s", "0.5", "--memory", "predicted",
                "--threads", "1")  # same fingerprint (threads are part of it): from the cache
    assert human.returncode == 0 and "TTFT" in human.stdout and "from cache" in human.stdout
    # preprocessing is reported beside TTFT, with the cached encoder timing it was measured with
    assert d["preprocess_ms"] > 0 and "preprocess" not in d["stages"]
    assert (f"image preprocessing, not in TTFT: {d['preprocess_ms']:,.1f} ms median "
            "(1920x1080 JPEG (q90) -> ") in human.stdout


@pytest.mark.parametrize("args, fragment", [
    (["--preset", "nope"], "unknown preset 'nope'"),
    (["--preset", "tiny", "--resolution", "100"], "not divisible by the encoder's total stride"),
    (["--preset", "tiny", "--llm", "gpt5"], "unknown llm 'gpt5'"),
    (["--preset", "tiny", "--widths", "16,x"], "comma-separated integers"),
    (["--preset", "tiny", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["--preset", "tiny", "--device", ABSENT], f"device '{ABSENT}' is not available here"),
    (["--preset", "tiny", "--threads", "-3"], "--threads: must be an integer >= 1, got '-3'"),
    (["--preset", "tiny", "--budget-s", "0"], "--budget-s: must be a number > 0, got '0'"),
    (["--preset", "tiny", "--bogus"], "measure: error: unrecognized arguments: --bogus"),
])
def test_bad_configurations_exit_2_with_one_line(args, fragment, run_cli):
    r = run_cli("measure", *args)
    assert r.returncode == 2
    assert fragment in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_an_error_is_one_line_in_a_fresh_process_too():
    # import-time warnings (torch, timm, transformers) show only in a new interpreter
    r = run("measure", "--preset", "tiny", "--device", ABSENT)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f"error: device '{ABSENT}' is not available here; available: cpu")


def test_proxy_says_when_an_option_has_no_effect(run_cli):
    r = run_cli("proxy", "--preset", "tiny", "--budget-s", "5", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["tier"] == 0
    assert "note: --budget-s has no effect on tier 0 (it applies to tier 2)" in r.stderr
