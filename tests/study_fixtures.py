"""Tiny study files for driver tests: toy encoder + toy LLM, proxy tier 0, seconds per trial."""

from __future__ import annotations

from pathlib import Path

TINY_STUDY = """
name = "{name}"
description = "tiny test study"
objectives = ["ttft_ms", "proxy_text_rich"]
references = ["fastvlm-0.5b"]

[space]
resolution = {resolutions}
llm = ["tiny-llm"]
depths = [1, 1, 1, 1, 1]
widths = [16, 32, 32, 64, [64, 128]]
mlp_ratio = [2.0]
prompt_tokens = 8
{extra_space}

[proxy]
tier = 0

[constraints]
max_ttft_ms = {max_ttft_ms}

[sampler]
name = "{sampler}"
seed = 0
population_size = 4

[run]
trials = {trials}
repeats = "{repeats}"

[measure]
device = "cpu"
threads = 1
budget_s = {budget_s}
min_n = {min_n}
max_n = {max_n}
"""


def write_tiny_study(folder: Path, name: str = "tiny", trials: int = 3, sampler: str = "random",
                     resolutions: str = "[64, 128]", budget_s: float = 0.3, min_n: int = 3,
                     max_n: int = 5, max_ttft_ms: float = 1e6, extra_space: str = "",
                     repeats: str = "skip") -> Path:
    path = Path(folder) / f"{name}.toml"
    path.write_text(TINY_STUDY.format(name=name, trials=trials, sampler=sampler,
                                      resolutions=resolutions, budget_s=budget_s, min_n=min_n,
                                      max_n=max_n, max_ttft_ms=max_ttft_ms,
                                      extra_space=extra_space, repeats=repeats))
    return path


def check_skip_counts(url: str, name: str, capsys) -> None:
    """`studies` tells the driver's skips (PRUNED trials marked by a user attribute: repeats,
    predicted over budget) from other prunes, in its JSON and its table."""
    import json

    import optuna
    from optuna.trial import TrialState, create_trial

    from explorer.cli import main
    from explorer.storage import open_storage

    study = optuna.create_study(study_name=name, storage=open_storage(url))
    marks = [{"repeat_of": 0}, {"predicted_over_budget": {"lower_ms": 9e3}},
             {"predicted_over_budget": {"lower_ms": 8e3}}, {}]
    for attrs in marks:
        study.add_trial(create_trial(state=TrialState.PRUNED, user_attrs=attrs))
    study.add_trial(create_trial(value=1.0, user_attrs={"repeat_of": 0}))  # complete: no skip
    assert main(["studies", "--json", "--storage", url]) == 0
    found = next(s for s in json.loads(capsys.readouterr().out)["studies"] if s["name"] == name)
    assert found["trials"] == {"PRUNED": 4, "COMPLETE": 1}
    assert found["skipped"] == {"REPEATS SKIPPED": 1, "SKIPPED OVER BUDGET": 2}
    assert main(["studies", "--storage", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "repeats  over budget  pruned" in lines[0]
    row = next(line for line in lines if line.startswith(name + " "))
    assert row.split()[2:7] == ["1", "0", "1", "2", "1"]  # complete, failed, repeats, over, other


def open_storage_at_once(url: str, processes: int = 4) -> list[str]:
    """`open_storage(url)` in `processes` fresh processes released together: "ok" or the
    error, one per process (a new storage's schema is what they race to create)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # no forked copy of pytest's state
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_open_after, args=(url, barrier, results))
             for _ in range(processes)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    return [results.get(timeout=5) for _ in procs]


def _open_after(url: str, barrier, results) -> None:
    from explorer.storage import open_storage

    barrier.wait()
    try:
        open_storage(url)
        results.put("ok")
    except Exception as e:  # reported to the test, which shows it
        results.put(f"{type(e).__name__}: {e}")
