"""`explorer.compare` and `fastvlm-explore compare`: studies side by side (one space, two
devices): shared configurations, speed ratio, rank agreement, configurations on every front."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from explorer.compare import speed_line, speed_summary, spearman, study_labels
from explorer.storage import storage_labels
from tests.dashboard_fixtures import build_study


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """alpha and beta: the same 60 configurations, beta's synthetic device 2x faster; gamma:
    other configurations (another seed) on alpha's device."""
    url = f"sqlite:///{tmp_path_factory.mktemp('compare') / 'studies.db'}"
    build_study(url, "alpha", n=60, seed=1)
    build_study(url, "beta", n=60, seed=1, speed=2.0, device="synthetic-gpu")
    build_study(url, "gamma", n=30, seed=7)
    return url


@pytest.mark.parametrize("seed", range(20))
def test_spearman_is_pearson_of_average_ranks(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    a = rng.integers(0, 8, n).astype(float)  # ties on purpose
    b = a + rng.normal(0, 3, n)
    ref = np.corrcoef(pd.Series(a).rank(), pd.Series(b).rank())[0, 1]
    assert spearman(a, b) == pytest.approx(ref)


def test_spearman_edges():
    x = np.array([1.0, 5.0, 2.0, 9.0])
    assert spearman(x, x * 3 + 1) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)  # ranks, not values
    assert spearman(x[:2], x[:2]) is None and spearman(x, np.ones(4)) is None


def test_speed_summary_of_known_ratios():
    rows = [{"alpha TTFT ms": t, "beta TTFT ms": t * k} for t, k in
            [(100.0, 0.25), (200.0, 1.0), (400.0, 4.0)]]
    (s,) = speed_summary(rows, ["alpha", "beta"])
    assert s["ratio_geomean"] == pytest.approx(1.0) and s["configs"] == 3
    assert (s["ratio_min"], s["ratio_max"]) == (0.25, 4.0)
    assert s["rank_correlation"] == pytest.approx(1.0)  # 25, 200, 1600: the same order
    assert speed_line(s).startswith("beta: 1.00x the TTFT of alpha (geometric mean over 3 "
                                    "configurations; 0.25x to 4.00x), rank correlation 1.00")
    assert speed_summary([], ["alpha", "beta"]) == []


def test_two_devices_compared_from_the_cli(url, run_cli):
    rc, out, _ = run_cli("compare", "--study", "alpha", "--study", "beta", "--storage", url,
                     "--json")
    assert rc == 0
    d = json.loads(out)
    assert [s["study"] for s in d["studies"]] == ["alpha", "beta"]
    assert d["studies"][1]["device"] == "synthetic-gpu"
    (speed,) = d["speed"]
    assert speed["configs"] == len(d["same_configurations"]) > 30
    assert 0.45 < speed["ratio_geomean"] < 0.55  # the synthetic device is 2x faster
    assert speed["rank_correlation"] > 0.95
    for study in d["studies"]:  # the fronts are `pareto`'s, under each study's own budget
        _, front, _ = run_cli("pareto", "--study", study["study"], "--storage", url, "--json")
        assert study["front"] == [t["number"] for t in json.loads(front)["trials"]]
    assert d["on_every_front"], "same configurations, one device 2x faster: fronts overlap"
    for row in d["on_every_front"]:
        assert row["alpha trial"] in d["studies"][0]["front"]
        assert row["beta trial"] in d["studies"][1]["front"]
    rc, text, _ = run_cli("compare", "--study", "alpha", "--study", "beta", "--storage", url)
    assert rc == 0 and speed_line(speed) in text
    shared = len(d["same_configurations"])  # the text lists the fastest 20 of them
    assert f"... and {shared - 20} slower ones (--json lists them all)" in text
    assert f"on every feasible front: {len(d['on_every_front'])} configuration(s)" in text


def test_a_budget_given_applies_to_every_study(url, run_cli):
    rc, out, _ = run_cli("compare", "--study", "alpha", "--study", "beta", "--storage", url,
                     "--json", "--max-ttft-ms", "2000")
    d = json.loads(out)
    for study in d["studies"]:
        _, front, _ = run_cli("pareto", "--study", study["study"], "--storage", url,
                          "--json", "--max-ttft-ms", "2000")
        assert study["front"] == [t["number"] for t in json.loads(front)["trials"]]
        rows = json.loads(front)["trials"]
        assert all(t["values"][0] <= 2000 for t in rows)


def test_studies_without_shared_configurations(url, run_cli):
    rc, out, _ = run_cli("compare", "--study", "alpha", "--study", "gamma", "--storage", url,
                     "--json")
    d = json.loads(out)
    shared = len(d["same_configurations"])
    assert rc == 0 and len(d["speed"]) == (1 if shared else 0)
    rc, text, _ = run_cli("compare", "--study", "alpha", "--study", "gamma", "--storage", url)
    assert rc == 0 and f"{shared} completed in all of them" in text


def test_one_study_name_in_two_storages(tmp_path, run_cli):
    """`make sweep` on two machines: study "quick" in each one's own results file."""
    laptop, board = (f"sqlite:///{tmp_path / f}" for f in ("laptop.db", "board.db"))
    build_study(laptop, "quick", n=40, seed=3)
    build_study(board, "quick", n=40, seed=3, speed=2.0, device="synthetic-gpu")
    rc, out, _ = run_cli("compare", "--study", "quick", "--storage", laptop,
                         "--study", "quick", "--storage", board, "--json")
    assert rc == 0
    d = json.loads(out)
    assert [s["study"] for s in d["studies"]] == ["quick (laptop.db)", "quick (board.db)"]
    assert [s["device"] for s in d["studies"]] == ["synthetic-cpu", "synthetic-gpu"]
    (speed,) = d["speed"]
    assert 0.45 < speed["ratio_geomean"] < 0.55 and speed["configs"] > 20
    rc, _, err = run_cli("compare", "--study", "quick", "--storage", laptop,
                         "--study", "quick", "--storage", board, "--study", "quick")
    assert rc == 2 and "got 2 --storage for 3 --study" in err
    # each file's only study, without naming it; a file that holds two must be named
    rc, short, _ = run_cli("compare", "--storage", laptop, "--storage", board, "--json")
    assert rc == 0 and json.loads(short) == d
    build_study(board, "mobile", n=5, seed=4)
    rc, _, err = run_cli("compare", "--storage", laptop, "--storage", board)
    assert rc == 2 and f"{board}: --study is needed: this storage holds 2 studies: mobile, " \
        "quick" in err


def test_no_study_named_compares_every_study_of_the_storage(url, run_cli):
    """Oldest first: the first study swept is the base of the ratios."""
    rc, out, _ = run_cli("compare", "--storage", url, "--json")
    assert rc == 0, out
    assert [s["study"] for s in json.loads(out)["studies"]] == ["alpha", "beta", "gamma"]


def test_a_results_file_may_be_given_by_its_path(tmp_path, run_cli, monkeypatch):
    """`--storage board.db` means sqlite:///board.db in every command (a .log path is a
    journal already); anything else is still refused with the forms that work."""
    from explorer.storage import storage_url

    assert storage_url("runs/board.db") == "sqlite:///runs/board.db"
    assert storage_url("/abs/x.sqlite3") == "sqlite:////abs/x.sqlite3"
    for as_is in ("sqlite:///x.db", "postgresql://me@db/x.db", "runs/j.log", "x.txt"):
        assert storage_url(as_is) == as_is
    monkeypatch.chdir(tmp_path)
    build_study("sqlite:///laptop.db", "quick", n=20, seed=3)
    build_study("sqlite:///board.db", "quick", n=20, seed=3, speed=2.0, device="synthetic-gpu")
    rc, out, _ = run_cli("compare", "--study", "quick", "--storage", "laptop.db",
                         "--study", "quick", "--storage", "board.db", "--json")
    assert rc == 0 and [s["study"] for s in json.loads(out)["studies"]] == [
        "quick (laptop.db)", "quick (board.db)"]
    rc, _, _ = run_cli("copy", "--study", "quick", "--from", "board.db", "--storage",
                       "laptop.db", "--as", "quick-board", "--no-progress")
    assert rc == 0
    rc, out, _ = run_cli("studies", "--storage", "laptop.db", "--json")
    assert [s["name"] for s in json.loads(out)["studies"]] == ["quick", "quick-board"]
    rc, _, err = run_cli("studies", "--storage", "laptop.txt")
    assert rc == 2 and "or the path of a .db or .log file" in err


def test_storages_and_studies_are_labelled_as_briefly_as_tells_them_apart():
    """Two machines' results files usually share a file name: the folder tells them apart;
    a file whose name is unique keeps just its name; servers are their host, or their URL
    (password masked) when two databases share a host."""
    laptop, board = "sqlite:///runs/laptop/fastvlm-explorer.db", "sqlite:///runs/board/" \
                                                                "fastvlm-explorer.db"
    assert storage_labels([laptop, board, "sqlite:///other.db", "journal:///tmp/j.log"]) == [
        "laptop/fastvlm-explorer.db", "board/fastvlm-explorer.db", "other.db", "j.log"]
    assert storage_labels(["postgresql://me:pw@db1/a", "postgresql://me:pw@db1/b",
                           "postgresql://me@db2/a"]) == [
        "postgresql://me:***@db1/a", "postgresql://me:***@db1/b", "db2"]
    assert storage_labels(["sqlite:////x.db", "sqlite:///x.db"]) == ["/x.db", "x.db"]
    assert storage_labels([laptop, laptop]) == ["fastvlm-explorer.db"] * 2  # one storage
    assert study_labels([("quick", laptop), ("paper", board)]) == ["quick", "paper"]
    assert study_labels([("quick", laptop), ("quick", board), ("paper", board)]) == [
        "quick (laptop/fastvlm-explorer.db)", "quick (board/fastvlm-explorer.db)",
        "paper"]


def test_a_study_copied_from_another_storage(tmp_path, run_cli, monkeypatch):
    """Another machine's results file: its study copied in beside ours under a new name, whole
    (trials of every state, the device it was measured on), then compared in one storage."""
    ours, board = (f"sqlite:///{tmp_path / f}" for f in ("ours.db", "board.db"))
    build_study(ours, "quick", n=40, seed=3)
    build_study(board, "quick", n=40, seed=3, speed=2.0, device="synthetic-gpu")
    rc, out, err = run_cli("copy", "--study", "quick", "--from", board, "--storage", ours,
                           "--as", "quick-board", "--json")
    assert rc == 0, err
    assert json.loads(out)["trials"] == 40
    _, listed, _ = run_cli("studies", "--storage", ours, "--json")
    studies = {s["name"]: s for s in json.loads(listed)["studies"]}
    _, source, _ = run_cli("studies", "--storage", board, "--json")
    (original,) = json.loads(source)["studies"]
    assert studies["quick-board"]["trials"] == original["trials"]  # failed and pruned too
    assert studies["quick-board"]["device"] == "synthetic-gpu"
    import optuna

    def whole(url: str, name: str) -> tuple:
        st = optuna.load_study(study_name=name, storage=url)
        return (st.directions, st.metric_names, st.user_attrs,
                [(t.number, t.state, t.params, t.distributions, t.values, t.user_attrs,
                  t.system_attrs, t.intermediate_values) for t in st.get_trials()])
    assert whole(ours, "quick-board") == whole(board, "quick")  # every trial as it was
    rc, out, _ = run_cli("compare", "--study", "quick", "--study", "quick-board",
                         "--storage", ours, "--json")
    assert rc == 0 and 0.45 < json.loads(out)["speed"][0]["ratio_geomean"] < 0.55
    rc, _, err = run_cli("copy", "--study", "quick", "--from", board, "--storage", ours)
    assert rc == 2 and "study 'quick' is already in" in err and "--as" in err
    rc, _, err = run_cli("copy", "--study", "nope", "--from", board, "--storage", ours)
    assert rc == 2 and "no study 'nope' in this storage; available: quick" in err
    rc, _, err = run_cli("copy", "--study", "quick", "--from", board + ".gone", "--storage", ours)
    assert rc == 1 and "--from must name an existing results file" in err  # not "--storage"

    real, calls = optuna.storages.RDBStorage.create_new_trial, []

    def fails_midway(self, *a, **k):  # the disk fills up at the 11th trial
        calls.append(1)
        if len(calls) > 10:
            raise RuntimeError("disk full")
        return real(self, *a, **k)

    monkeypatch.setattr(optuna.storages.RDBStorage, "create_new_trial", fails_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        run_cli("copy", "--study", "quick", "--from", board, "--storage", ours, "--as", "half",
                "--no-progress")
    monkeypatch.setattr(optuna.storages.RDBStorage, "create_new_trial", real)
    assert len(calls) == 11
    _, listed, _ = run_cli("studies", "--storage", ours, "--json")
    assert "half" not in {s["name"] for s in json.loads(listed)["studies"]}  # nothing half-written


@pytest.mark.parametrize("studies, fragment", [
    (["alpha"], "compare needs two or more different studies, got alpha"),
    (["alpha", "alpha"], "compare needs two or more different studies, got alpha, alpha"),
    (["alpha", "nope"], "no study 'nope' in this storage; available: alpha, beta, gamma"),
])
def test_bad_study_lists_are_one_line_errors(url, run_cli, studies, fragment):
    args = [a for s in studies for a in ("--study", s)]
    rc, out, err = run_cli("compare", *args, "--storage", url)
    assert rc == 2 and fragment in err and len(err.splitlines()) == 1 and out == ""


def test_the_comparison_as_an_offline_page(url, run_cli, tmp_path):
    """`compare --html`: the Compare page's chart and tables, the same numbers as --json, under
    the same budgets; a path that cannot be written is refused before any study is read."""
    from tests.test_static_page import figure, length

    out = tmp_path / "devices.html"
    rc, text, err = run_cli("compare", "--study", "alpha", "--study", "beta", "--storage", url,
                            "--json", "--max-ttft-ms", "3000", "--html", out)
    assert rc == 0 and f"wrote {out}" in err and "the fronts of alpha, beta overlaid" in err
    d, page = json.loads(text), out.read_text()
    fig = figure(page)
    fronts = {t["name"].split(":")[0]: length(t["x"]) for t in fig["data"]
              if ": front" in t.get("name", "")}
    assert fronts == {s["study"]: len(s["front"]) for s in d["studies"]}
    assert f"On every front: {len(d['on_every_front'])} configuration(s)" in page
    shared = len(d["same_configurations"])
    assert f"{shared} configuration(s) completed in every study" in page
    assert page.count("<tr><td>fastvithd") == len(d["on_every_front"]) + shared
    assert "TTFT &lt;= 3,000 ms" in page and url in page  # the budgets and the storage
    assert f"One configuration for all: {d['one_for_all']['choice']['configuration']}" in page
    assert page.count("<script>") == 2 and "Plotly.newPlot" in page  # plotly.js inside
    for bad, fragment in ((tmp_path, "is a folder"), (tmp_path / "no" / "x.html",
                                                      "does not exist")):
        rc, _, err = run_cli("compare", "--study", "alpha", "--study", "nope", "--storage", url,
                             "--html", bad)
        assert rc == 2 and fragment in err  # not "no study 'nope'": the path is checked first


def test_one_configuration_for_every_device(url, run_cli):
    """The choice meets every study's own budget on its own device; with no tighter budget
    elsewhere it is the first study's own recommendation; the CLI prints and returns it."""
    import dataclasses

    from explorer.compare import one_for_all
    from explorer.recommend import recommend
    from explorer.results import Budgets, config_key, load_frame

    alpha, beta = load_frame("alpha", url), load_frame("beta", url)
    loose = [Budgets(max_ttft_ms=1e9)] * 2
    twin = dataclasses.replace(alpha, study_name="alpha again")
    for ties in (True, False):
        alone = recommend(alpha, loose[0], ties).choice
        both = one_for_all([alpha, twin], loose, ties)["choice"]
        assert both["trials"] == {"alpha": alone["number"], "alpha again": alone["number"]}
    # beta's device is 2x faster: a budget of 1,000 ms there admits what 2,000 ms does here,
    # so with 1,500 ms here the binding budget is alpha's, and with 700 ms there, beta's
    for tight in ([Budgets(max_ttft_ms=1500), Budgets(max_ttft_ms=1000)],
                  [Budgets(max_ttft_ms=2000), Budgets(max_ttft_ms=700)]):
        one = one_for_all([alpha, beta], tight)
        ok = [{config_key(r) for r in f.feasible(b)} for f, b in zip((alpha, beta), tight)]
        joint = ok[0] & ok[1]
        assert one["within_every_budget"] == len(joint) > 0
        c = one["choice"]
        assert c["ttft_ms"]["alpha"] <= tight[0].max_ttft_ms
        assert c["ttft_ms"]["beta"] <= tight[1].max_ttft_ms
        best = max(r["proxy_text_rich"] for r in alpha.complete() if config_key(r) in joint)
        unc = {config_key(r): r["proxy_text_rich_unc"] for r in alpha.complete()}
        assert best - c["proxy"] <= np.hypot(c["proxy_unc"], max(unc.values())) + 1e-12
    none = one_for_all([alpha, beta], [Budgets(max_ttft_ms=1), Budgets()])
    assert none["choice"] is None and "meets every study's budgets" in none["reason"]
    rc, out, _ = run_cli("compare", "--study", "alpha", "--study", "beta", "--storage", url,
                         "--json")
    found = json.loads(out)["one_for_all"]
    stored = [f.stored_budgets for f in (alpha, beta)]
    assert found == json.loads(json.dumps(one_for_all([alpha, beta], stored)))
    rc, out, _ = run_cli("compare", "--study", "alpha", "--study", "beta", "--storage", url,
                         "--json", "--most-accurate")
    assert json.loads(out)["one_for_all"] == json.loads(json.dumps(
        one_for_all([alpha, beta], stored, ties=False)))
    rc, text, _ = run_cli("compare", "--study", "alpha", "--study", "beta", "--storage", url)
    assert (f"one configuration for all of them: {found['choice']['configuration']}\n"
            f"  {found['reason']}") in text


def test_the_shared_configurations_as_csv(url, run_cli):
    """`compare --csv`: the rows of --json's same_configurations, numbers parse back; with no
    shared configuration, the header alone."""
    import csv
    import io

    from explorer.compare import shared_columns

    _, out, _ = run_cli("compare", "--study", "alpha", "--study", "beta", "--storage", url,
                        "--json")
    shared = json.loads(out)["same_configurations"]
    rc, text, _ = run_cli("compare", "--study", "alpha", "--study", "beta", "--storage", url,
                          "--csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rc == 0 and len(rows) == len(shared) > 30
    assert list(rows[0]) == list(shared[0]) == shared_columns(["alpha", "beta"])
    for got, want in zip(rows, shared):
        assert got["configuration"] == want["configuration"]
        assert float(got["ratio beta / alpha"]) == pytest.approx(want["ratio beta / alpha"])
        assert int(got["beta trial"]) == want["beta trial"]
    empty = build_study(url.replace("studies.db", "other.db"), "solo", n=3, only_failed=True)
    other = url.replace("studies.db", "other.db")
    rc, text, _ = run_cli("compare", "--study", "alpha", "--storage", url, "--study", empty,
                          "--storage", other, "--csv")
    assert rc == 0 and text.splitlines() == [",".join(shared_columns(["alpha", "solo"]))]
    rc, _, err = run_cli("compare", "--study", "alpha", "--study", "beta", "--storage", url,
                         "--csv", "--json")
    assert rc == 2 and "not allowed with argument" in err
