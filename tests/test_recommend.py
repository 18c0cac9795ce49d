"""recommend() on a hand-made study frame: ties, budgets, explanation."""

from explorer.recommend import ladder, recommend
from explorer.results import Budgets, StudyFrame


def row(n, ttft, proxy, unc=0.01, mem=1000.0):
    return {"number": n, "state": "COMPLETE", "values": [ttft, proxy], "ttft_ms": ttft,
            "proxy_text_rich": proxy, "proxy_text_rich_unc": unc, "memory_mb": mem,
            "summary": f"cfg{n}", "encoder_ms": ttft / 2, "prefill_ms": ttft / 2}


def frame(rows):
    return StudyFrame("s", ["minimize", "maximize"], ["ttft_ms", "proxy_text_rich"],
                      {"constraints": {}}, rows)


def test_best_within_budget_and_next_better():
    f = frame([row(0, 100, 0.40), row(1, 300, 0.60), row(2, 900, 0.70), row(3, 200, 0.45)])
    rec = recommend(f, Budgets(max_ttft_ms=500))
    assert rec.choice["number"] == 1 and rec.feasible == 3
    assert rec.next_better["number"] == 2
    assert "+600 ms TTFT" in rec.reason and "fastest feasible option (trial 0" in rec.reason


def test_ties_within_uncertainty_prefer_the_faster():
    f = frame([row(0, 400, 0.600, unc=0.02), row(1, 250, 0.590, unc=0.02)])
    rec = recommend(f, Budgets(max_ttft_ms=500))
    assert rec.choice["number"] == 1 and [r["number"] for r in rec.tied_with] == [0]


def test_a_noisy_tie_never_picks_a_dominated_trial():
    """Ties are not transitive: trial 2 ties with the best only through its wide uncertainty,
    while trial 1 is faster *and* more accurate than it. The pick must be on the front."""
    f = frame([row(0, 5000, 0.661, unc=0.032), row(1, 1575, 0.610, unc=0.02),
               row(2, 1921, 0.597, unc=0.058), row(3, 500, 0.40)])
    rec = recommend(f, Budgets(max_ttft_ms=6000))
    assert rec.choice["number"] == 0 and rec.tied_with == []
    assert "has the highest proxy accuracy (text-rich, tier ?) 0.661" in rec.reason


def test_a_tie_pick_says_what_it_ties_with():
    f = frame([row(0, 400, 0.600, unc=0.02), row(1, 250, 0.590, unc=0.02)])
    rec = recommend(f, Budgets(max_ttft_ms=500))
    assert ("ties within the proxy's uncertainty with the most accurate of the 2 trials within "
            "budget (trial 0, 0.600 +- 0.020 at 400 ms) and is 150 ms faster") in rec.reason


def test_memory_budget_and_nothing_fits():
    f = frame([row(0, 100, 0.4, mem=5000), row(1, 200, 0.5, mem=900)])
    assert recommend(f, Budgets(max_ttft_ms=1000, max_memory_mb=1000)).choice["number"] == 1
    none = recommend(f, Budgets(max_ttft_ms=50))
    assert none.choice is None and "fastest is trial 0 at 100 ms" in none.reason
    assert "budgets (TTFT <= 50 ms)" in none.reason


def test_repeats_of_one_configuration_tie_once():
    """A configuration sampled three times is one candidate, not three ties."""
    from fastvlm.presets import preset

    a, b = (preset("fastvlm-0.5b", resolution=r).to_dict() for r in (512, 768))
    rows = [row(0, 300, 0.60), row(1, 301, 0.60), row(2, 300, 0.60), row(3, 320, 0.605)]
    for r, cfg in zip(rows, (a, a, a, b)):
        r["config"] = cfg
    rec = recommend(frame(rows), Budgets(max_ttft_ms=500))
    assert rec.choice["number"] == 0
    assert [r["number"] for r in rec.tied_with] == [3]
    assert "1 other configuration(s) on the front tie" in rec.reason


def test_most_accurate_takes_the_highest_proxy_outright():
    f = frame([row(0, 400, 0.600, unc=0.02), row(1, 250, 0.590, unc=0.02),
               row(2, 900, 0.620, unc=0.03)])
    rec = recommend(f, Budgets(max_ttft_ms=500), ties=False)
    assert rec.choice["number"] == 0 and rec.tied_with == [] and not rec.to_dict()["ties"]
    assert "has the highest" in rec.reason
    assert rec.next_better["number"] == 2  # 0.62 vs 0.60 is no tie either
    assert recommend(f, Budgets(max_ttft_ms=500)).next_better is None  # a tie by default


def test_a_tie_beyond_the_budget_is_named_not_counted_as_better():
    """Trial 2, over the budget, is more accurate than the pick by less than the uncertainty:
    not the next better option, but what a slightly bigger budget buys, said as such. Trial 3
    is clearly better; trial 4 ties too but is slower than trial 3, so it goes unmentioned."""
    f = frame([row(0, 400, 0.600, unc=0.02), row(1, 250, 0.590, unc=0.02),
               row(2, 700, 0.620, unc=0.03), row(3, 900, 0.700), row(4, 950, 0.61)])
    rec = recommend(f, Budgets(max_ttft_ms=500))
    assert rec.choice["number"] == 1 and rec.next_better["number"] == 3
    assert rec.closer["number"] == 2 and rec.to_dict()["more_accurate_within_uncertainty"]
    assert ("trial 2 (cfg2), beyond the budget, is +0.030 proxy for +450 ms: within the "
            "proxy's uncertainty") in rec.reason
    assert "next better option (more accurate beyond the proxy's uncertainty), trial 3" \
        in rec.reason
    rec = recommend(frame([row(1, 250, 0.590, unc=0.02), row(3, 900, 0.700)]),
                    Budgets(max_ttft_ms=500))
    assert rec.closer is None and "beyond the budget, is" not in rec.reason
    strict = recommend(f, Budgets(max_ttft_ms=500), ties=False)  # no ties, nothing "within"
    assert strict.closer is None and strict.next_better["number"] == 2
    assert "next better option, trial 2" in strict.reason


def skipped(n, lower, summary, budget=500.0):
    """A sample the sweep did not measure: predicted over its TTFT budget (explorer/predict.py)."""
    return {"number": n, "state": "PRUNED", "values": None,
            "predicted_over_budget": {"summary": summary, "lower_ms": lower,
                                      "max_ttft_ms": budget}}


def test_a_budget_bigger_than_the_sweeps_names_what_was_never_measured():
    """The sweep skipped cfgA (twice) and cfgB as predicted over its 500 ms budget; under a
    bigger budget they might fit, so the recommendation says it never measured them."""
    f = frame([row(0, 100, 0.40), row(1, 300, 0.60), skipped(2, 700, "cfgA"),
               skipped(3, 650, "cfgA"), skipped(4, 1200, "cfgB")])
    rec = recommend(f, Budgets(max_ttft_ms=500))
    assert rec.unmeasured == [] and "Not measured" not in rec.reason
    rec = recommend(f, Budgets(max_ttft_ms=800))
    assert [u["number"] for u in rec.unmeasured] == [3]  # one per configuration, lowest bound
    assert ("Not measured: 1 configuration(s) the sweep skipped as predicted over its TTFT "
            "budget of 500 ms have lower bounds within this one (650 ms; first: trial 3)"
            ) in rec.reason
    assert rec.to_dict()["unmeasured_within_budget"][0]["lower_ms"] == 650
    rec = recommend(f, Budgets())  # no limit: every skipped configuration
    assert "2 configuration(s)" in rec.reason and "(650-1,200 ms;" in rec.reason
    none = recommend(f, Budgets(max_ttft_ms=800, min_proxy=0.9))  # nothing fits: said too
    assert none.choice is None and "Not measured: 1 configuration(s)" in none.reason


def test_rows_without_a_proxy_or_uncertainty():
    """A trial with no proxy value is neither feasible nor the next-better option; a missing
    uncertainty counts as zero, so only an equal proxy ties with it."""
    rows = [row(0, 100, 0.50, unc=None), row(1, 200, None), row(2, 300, 0.505, unc=None),
            row(3, 900, 0.60, unc=None), row(4, 950, None)]
    rec = recommend(frame(rows), Budgets(max_ttft_ms=500))
    assert rec.feasible == 2 and rec.choice["number"] == 2 and rec.tied_with == []
    assert rec.fastest["number"] == 0 and rec.next_better["number"] == 3


def _reference(rows, budgets, ties):
    """The rule as the module docstring states it, one row at a time (the numbers picked)."""
    import math

    def same(a, b):
        if not ties:
            return a["proxy_text_rich"] == b["proxy_text_rich"]
        unc = math.hypot(a["proxy_text_rich_unc"] or 0, b["proxy_text_rich_unc"] or 0)
        return abs(a["proxy_text_rich"] - b["proxy_text_rich"]) <= unc

    fits = [r for r in rows if r["proxy_text_rich"] is not None
            and (budgets.max_ttft_ms is None or r["ttft_ms"] <= budgets.max_ttft_ms)
            and (budgets.min_proxy is None or r["proxy_text_rich"] >= budgets.min_proxy)]
    if not fits:
        return None
    best = max(r["proxy_text_rich"] for r in fits)
    top = min((r for r in fits if r["proxy_text_rich"] == best), key=lambda r: r["ttft_ms"])
    front = [r for r in fits if not any(
        o["ttft_ms"] <= r["ttft_ms"] and o["proxy_text_rich"] >= r["proxy_text_rich"]
        and (o["ttft_ms"], o["proxy_text_rich"]) != (r["ttft_ms"], r["proxy_text_rich"])
        for o in fits)]
    tied = sorted((r for r in front if same(r, top)), key=lambda r: (r["ttft_ms"], r["number"]))
    choice = tied[0]
    inside = {r["number"] for r in fits}
    better = [r for r in sorted(rows, key=lambda r: r["ttft_ms"])
              if r["proxy_text_rich"] is not None and r["number"] not in inside
              and r["proxy_text_rich"] > choice["proxy_text_rich"] and not same(r, choice)]
    return (choice["number"], [r["number"] for r in tied[1:]],
            min(fits, key=lambda r: r["ttft_ms"])["number"],
            better[0]["number"] if better else None)


def test_agrees_with_the_rule_one_row_at_a_time():
    """recommend() works on columns (fast on 10,000 trials); on random studies with coarse
    values (many exact ties) and missing proxies or uncertainties it picks what the rule,
    applied row by row, picks."""
    import numpy as np

    rng = np.random.default_rng(0)
    for case in range(200):
        n = int(rng.integers(1, 60))
        rows = [row(i, float(rng.integers(1, 30)) * 50, float(rng.integers(0, 40)) / 80,
                    unc=None if rng.random() < 0.2 else float(rng.integers(0, 5)) / 100)
                for i in range(n)]
        for r in rows:
            if rng.random() < 0.1:
                r["proxy_text_rich"] = None
        b = Budgets(max_ttft_ms=None if case % 3 == 0 else float(rng.integers(1, 30)) * 50,
                    min_proxy=None if case % 4 else float(rng.integers(0, 10)) / 40)
        for ties in (True, False):
            rec = recommend(frame(rows), b, ties=ties)
            got = None if rec.choice is None else (
                rec.choice["number"], [r["number"] for r in rec.tied_with],
                rec.fastest["number"], rec.next_better and rec.next_better["number"])
            assert got == _reference(rows, b, ties), (case, ties)


def test_ladder_steps_only_where_the_choice_changes():
    f = frame([row(0, 100, 0.40), row(1, 200, 0.41), row(2, 300, 0.60), row(3, 400, 0.61),
               row(4, 500, 0.50)])  # unc 0.01 each: 1 ties with 0, 3 with 2; 4 is dominated
    steps = ladder(f, Budgets())
    assert [(r.from_ms, r.choice["number"]) for r in steps] == [(100, 0), (300, 2)]
    assert steps[1].most_accurate["number"] == 2
    # the outright rule moves at every step of the front
    outright = ladder(f, Budgets(), ties=False)
    assert [(r.from_ms, r.choice["number"]) for r in outright] == [
        (100, 0), (200, 1), (300, 2), (400, 3)]
    # a TTFT budget ends the ladder; the other budgets apply at every step
    capped = ladder(f, Budgets(max_ttft_ms=350), ties=False)
    assert [r.choice["number"] for r in capped] == [0, 1, 2]
    assert [r.choice["number"] for r in ladder(f, Budgets(min_proxy=0.5))] == [2]
    assert ladder(f, Budgets(max_ttft_ms=50)) == []


def test_ladder_agrees_with_recommend_at_every_budget():
    """The ladder tries only the budgets of the front's TTFTs, on the front's rows alone;
    recommend() on the whole study at every trial's TTFT (keeping the changes) must give the
    same steps: budget, choice and the most accurate trial within it."""
    import numpy as np

    rng = np.random.default_rng(1)
    for case in range(100):
        rows = [row(i, float(rng.integers(1, 40)) * 25, float(rng.integers(0, 40)) / 80,
                    unc=float(rng.integers(0, 5)) / 100) for i in range(int(rng.integers(1, 40)))]
        b = Budgets(max_memory_mb=None if case % 2 else 1000.0)
        for r in rows:
            r["memory_mb"] = float(rng.choice([900.0, 1100.0]))
        for ties in (True, False):
            brute = []
            for limit in sorted({r["ttft_ms"] for r in rows}):
                rec = recommend(frame(rows), Budgets(limit, b.max_memory_mb), ties=ties)
                if rec.choice and (not brute or brute[-1][1] != rec.choice["number"]):
                    brute.append((limit, rec.choice["number"], rec.most_accurate["number"]))
            got = [(r.from_ms, r.choice["number"], r.most_accurate["number"])
                   for r in ladder(frame(rows), b, ties=ties)]
            assert got == brute, (case, ties)


def test_ladder_from_the_cli(tmp_path, run_cli):
    import json

    from tests.dashboard_fixtures import build_study

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    build_study(url, "s", n=60, seed=1, max_ttft_ms=4000.0)
    rc, out, _ = run_cli("recommend", "--study", "s", "--storage", url, "--ladder", "--json")
    steps = json.loads(out)["steps"]
    assert rc == 0 and len(steps) >= 3
    budgets = [s["from_ttft_budget_ms"] for s in steps]
    assert budgets == sorted(budgets) and budgets[-1] > 4000  # the stored budget is not applied
    for step in steps:  # each step is what `recommend` says at that budget
        _, one, _ = run_cli("recommend", "--study", "s", "--storage", url, "--json",
                            "--max-ttft-ms", str(step["from_ttft_budget_ms"]))
        assert json.loads(one)["choice"]["number"] == step["number"]
    rc, text, _ = run_cli("recommend", "--study", "s", "--storage", url, "--ladder",
                          "--max-ttft-ms", "4000")
    assert rc == 0 and "budget from ms" in text and "TTFT <= 4,000 ms" in text
    listed = [int(line.split()[1]) for line in text.splitlines()[3:] if line[:1] == " "]
    assert listed == [s["number"] for s in steps if s["from_ttft_budget_ms"] <= 4000]
    rc, _, _ = run_cli("recommend", "--study", "s", "--storage", url, "--ladder",
                       "--max-ttft-ms", "1")
    assert rc == 1


def test_the_cli_names_configurations_the_sweep_never_measured(tmp_path, run_cli):
    """A sample skipped as predicted over the study's 4,000 ms budget (bound 4,500 ms): the
    ladder and a recommendation under a bigger budget say it was never measured."""
    import json

    import optuna
    from optuna.trial import TrialState, create_trial

    from tests.dashboard_fixtures import build_study

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    build_study(url, "s", n=30, seed=1, max_ttft_ms=4000.0)
    study = optuna.load_study(study_name="s", storage=url)
    t = next(t for t in study.trials if t.state == TrialState.COMPLETE)
    bound = {"summary": "cfg skipped", "lower_ms": 4500.0, "max_ttft_ms": 4000.0}
    study.add_trial(create_trial(state=TrialState.PRUNED, params=t.params,
                                 distributions=t.distributions,
                                 user_attrs={"predicted_over_budget": bound}))
    rc, out, _ = run_cli("recommend", "--study", "s", "--storage", url, "--ladder", "--json")
    assert rc == 0 and json.loads(out)["unmeasured"] == [
        {"number": 30, "summary": "cfg skipped", "lower_ms": 4500.0, "max_ttft_ms": 4000.0}]
    rc, text, _ = run_cli("recommend", "--study", "s", "--storage", url, "--ladder")
    assert "leave out 1 configuration(s) the sweep skipped" in " ".join(text.split())
    _, out, _ = run_cli("recommend", "--study", "s", "--storage", url, "--json")
    assert json.loads(out)["unmeasured_within_budget"] == []  # the study's own budget
    _, out, _ = run_cli("recommend", "--study", "s", "--storage", url, "--json",
                        "--max-ttft-ms", "5000")
    assert "Not measured: 1 configuration(s)" in json.loads(out)["reason"]
    rc, text, _ = run_cli("recommend", "--study", "s", "--storage", url, "--max-ttft-ms", "5000")
    why = text.split("why:\n")[1].split("\nconfirm:")[0].splitlines()  # one bullet per point
    assert rc == 0 and why[0].startswith("  - trial ") and max(map(len, why)) <= 100
    assert any(line.startswith("  - Not measured: 1 configuration(s)") for line in why)
