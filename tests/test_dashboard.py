"""The dashboard as Streamlit runs it (AppTest): every page, sliders, trial selection, errors;
plus its pure data layer against the CLI's Pareto code, and the `dashboard` command."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
from optuna.trial import create_trial
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from dashboard import data as dd
from dashboard.sidebar import ttft_options
from explorer import compare
from explorer.results import Budgets, config_key, load_frame
from explorer.storage import open_storage
from tests.dashboard_fixtures import build_study, empty_study

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    """alpha and beta: the same 60 configurations on two (synthetic) devices."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'studies.db'}"
    build_study(url, "alpha", n=60, seed=1)
    build_study(url, "beta", n=60, seed=1, speed=2.0, device="synthetic-gpu")
    return url


@pytest.fixture(scope="module")
def odd_storage(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('odd') / 'odd.db'}"
    empty_study(url, "empty")
    build_study(url, "failed", n=6, only_failed=True)
    return url


@pytest.fixture(autouse=True)
def static_serving():
    """Every test runs the app as `fastvlm-explore dashboard` serves it: with app static
    serving on, so the Pareto page draws the live chart. A test may switch it off."""
    was = st_config.get_option("server.enableStaticServing")
    st_config.set_option("server.enableStaticServing", True)
    yield
    st_config.set_option("server.enableStaticServing", was)


def app(monkeypatch, url: str, study: str | None = None) -> AppTest:
    monkeypatch.setenv("FASTVLM_DASHBOARD_STORAGE", url)
    if study:
        monkeypatch.setenv("FASTVLM_DASHBOARD_STUDY", study)
    return AppTest.from_file(APP, default_timeout=60).run()


def chart(at: AppTest, index: int = 0) -> dict:
    """Figure `index` of the page: the live Pareto chart first, then any st.plotly_chart."""
    live = [json.loads(json.loads(c.proto.json)["figure"]) for c in at.get("bidi_component")]
    return (live + [json.loads(c.proto.spec) for c in at.get("plotly_chart")])[index]


def chart_config(at: AppTest) -> dict:
    live = at.get("bidi_component")
    if live:
        return json.loads(live[0].proto.json)["config"]
    return json.loads(at.get("plotly_chart")[0].proto.config)


def values(arr) -> np.ndarray:
    """A plotly JSON array: a list, or numpy's typed-array form {dtype, bdata}."""
    if isinstance(arr, dict):
        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype=arr["dtype"])
    return np.asarray(arr)


def trial_traces(fig: dict) -> list[dict]:
    """The traces that plot trials: not the rings, the published points or the legend-only
    entries (which draw nothing and have no hover)."""
    return [t for t in fig["data"] if "markers" in t.get("mode", "")
            and t.get("hoverinfo") != "skip" and t.get("name") not in ("recommended", "selected")
            and not t.get("name", "").startswith("published FastVLM")]


def points(fig: dict) -> int:
    return sum(len(values(t.get("x", []))) for t in trial_traces(fig))


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def front_table_of(at: AppTest):
    """The Pareto page's front table (the budget ladder's table comes first)."""
    return next(df for df in at.dataframe if df.value.columns[0] == "trial")


# ---- pages ----

def test_pareto_page(monkeypatch, storage):
    at = app(monkeypatch, storage, "alpha")
    assert not at.exception and not at.error
    d = dd.load_study_data(storage, "alpha")
    fig = chart(at)
    assert points(fig) == int(dd.plottable(d, "text_rich").sum())  # infeasible greyed, not hidden
    assert fig["layout"]["xaxis"]["type"] == "log"
    ylabel = fig["layout"]["yaxis"]["title"]["text"]
    assert ylabel == "proxy accuracy (text-rich, tier 1) ±0.041 RMSE"
    assert "textvqa" not in json.dumps(fig).lower()
    names = [t.get("name", "") for t in fig["data"]]
    assert "feasible front" in names
    # the published point is over the stored 4,000 ms budget: a star, greyed like the others
    ref = d.index_of(0)
    assert d.cols["ttft_ms"][ref] > 4000
    star = next(t for t in fig["data"] if t.get("name", "").startswith("published FastVLM"))
    assert star["name"] == "published FastVLM: over budget"
    assert star["marker"]["symbol"] == "star" and star["marker"]["color"] != "gold"
    assert "over budget" in star["hovertemplate"]
    front = next(t for t in fig["data"] if t.get("name") == "feasible front")
    assert front["line"]["shape"] == "hv"
    frame = load_frame("alpha", storage)  # the CLI's code path: same front, same choice
    assert len(values(front["x"])) == len(frame.front())
    assert metric(at, "recommended") == f"trial {_cli_choice(frame)}"
    assert at.get("download_button")[0].proto.label == "Download the front as CSV"
    assert at.get("bidi_component")[0].proto.component_name == "fastvlm_live_chart"
    assert chart_config(at)["plotGlPixelRatio"] == 1  # WebGL at CSS resolution (no GPU: 4x cheaper)


def test_pareto_chart_falls_back_without_static_serving(monkeypatch, storage):
    """`streamlit run dashboard/app.py` without --server.enableStaticServing cannot load
    plotly.js for the live chart: the page draws st.plotly_chart instead and says why."""
    st_config.set_option("server.enableStaticServing", False)
    at = app(monkeypatch, storage, "alpha")
    assert not at.exception and not at.get("bidi_component")
    d = dd.load_study_data(storage, "alpha")
    assert points(chart(at)) == int(dd.plottable(d, "text_rich").sum())
    assert any("static serving is off" in c.value for c in at.caption)


def test_plotly_js_is_served_from_the_plotly_package(tmp_path):
    import plotly

    from dashboard.live_chart import PLOTLY_JS, ensure_plotly_js

    source = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    target = ensure_plotly_js(tmp_path / "static")
    assert target.read_bytes() == source.read_bytes()
    target.write_text("stale")  # another plotly version's copy is replaced
    assert ensure_plotly_js(tmp_path / "static").stat().st_size == source.stat().st_size
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")  # cannot be written into (even by root): the app falls back
    assert ensure_plotly_js(blocked) is None


def _cli_choice(frame) -> int:
    from explorer.recommend import recommend

    return recommend(frame, frame.stored_budgets).choice["number"]


def test_budget_sliders_update_front_and_recommendation(monkeypatch, storage):
    at = app(monkeypatch, storage, "alpha")
    before = metric(at, "within budget")
    d = dd.load_study_data(storage, "alpha")
    t = d.cols["ttft_ms"][d.complete]
    tight = ttft_options(t.min(), t.max(), 4000.0)[8]
    at.sidebar.select_slider(key="max_ttft:alpha").set_value(tight).run()
    assert not at.exception
    budget = at.sidebar.select_slider(key="max_ttft:alpha").value
    frame = load_frame("alpha", storage)
    b = Budgets(max_ttft_ms=budget)
    assert metric(at, "within budget") != before
    assert metric(at, "front size") == str(len(frame.front(b)))
    # the dashed budget line sits at the budget; its label too (log axis: log10 units)
    layout = chart(at)["layout"]
    assert [s["x0"] for s in layout["shapes"]] == [budget]
    label = next(a for a in layout["annotations"] if a["text"] == "max TTFT")
    assert label["x"] == pytest.approx(np.log10(budget))
    from explorer.recommend import recommend

    choice = recommend(frame, b).choice
    assert metric(at, "recommended") == ("none" if choice is None else f"trial {choice['number']}")
    from dashboard.sidebar import limit_options

    proxies = d.proxy("text_rich")[d.complete]
    best = limit_options(proxies, upper=False, step=0.005)[-1]  # the slider's strict end
    at.sidebar.select_slider(key="min_proxy:alpha:text_rich").set_value(best).run()
    assert not at.exception  # only the most accurate trial(s) fit, and none within the TTFT
    assert metric(at, "within budget") == f"0 of {int(dd.plottable(d, 'text_rich').sum())}"
    assert metric(at, "recommended") == "none"
    assert any("No recommendation" in w.value for w in at.warning)
    at.sidebar.select_slider(key="max_ttft:alpha").set_value(
        ttft_options(t.min(), t.max(), 4000.0)[-1]).run()  # no TTFT limit: the best trial fits
    assert metric(at, "within budget") == f"{int((proxies >= best).sum())} of " \
        f"{int(dd.plottable(d, 'text_rich').sum())}"
    assert metric(at, "recommended") != "none"


def test_budget_ladder_is_the_clis_and_marks_the_slider_step(monkeypatch, storage):
    from explorer.recommend import ladder

    frame = load_frame("alpha", storage)
    steps = ladder(frame, Budgets())  # no stored memory budget: every TTFT budget, as the CLI
    assert len(steps) >= 3
    at = app(monkeypatch, storage, "alpha")
    assert any(e.label == "What a bigger TTFT budget buys" for e in at.expander)
    shown = at.dataframe[0].value
    assert list(shown["trial"]) == [s.choice["number"] for s in steps]
    assert np.allclose(shown["budget from ms"], [s.from_ms for s in steps])
    budget = at.sidebar.select_slider(key="max_ttft:alpha").value  # the study's 4,000 ms
    in_force = max(i for i, s in enumerate(steps) if s.from_ms <= budget)
    assert list(shown["now"]).index("◀") == in_force
    assert shown["trial"][in_force] == int(metric(at, "recommended").split()[1])
    at.sidebar.toggle(key="most_accurate").set_value(True).run()
    assert list(at.dataframe[0].value["trial"]) == [
        s.choice["number"] for s in ladder(frame, Budgets(), ties=False)]


def test_most_accurate_toggle_recommends_as_the_cli_flag_does(monkeypatch, storage):
    from explorer.recommend import recommend

    frame, d = load_frame("alpha", storage), dd.load_study_data(storage, "alpha")
    t = d.cols["ttft_ms"][d.complete]
    picks = {o: (recommend(frame, Budgets(max_ttft_ms=o)).choice,
                 recommend(frame, Budgets(max_ttft_ms=o), ties=False).choice)
             for o in ttft_options(t.min(), t.max(), 4000.0)[:-1]}
    # a budget under which a faster trial ties with the most accurate one
    budget = next(o for o, (tie, top) in picks.items()
                  if tie and top and tie["number"] != top["number"])
    at = app(monkeypatch, storage, "alpha")
    at.sidebar.select_slider(key="max_ttft:alpha").set_value(budget).run()
    assert metric(at, "recommended") == f"trial {picks[budget][0]['number']}"
    at.sidebar.toggle(key="most_accurate").set_value(True).run()
    assert not at.exception
    assert metric(at, "recommended") == f"trial {picks[budget][1]['number']}"
    ring = next(tr for tr in chart(at)["data"] if tr.get("name") == "recommended")
    top = picks[budget][1]
    assert values(ring["x"])[0] == pytest.approx(top["ttft_ms"], rel=1e-6)


def test_live_chart_sends_the_hover_table_once(monkeypatch, storage):
    """The study's hover data goes to the browser with the first render only; later budget
    changes send each trace's rows in it (`meta`), not its text and numbers again."""
    at = app(monkeypatch, storage, "alpha")
    first = json.loads(at.get("bidi_component")[0].proto.json)
    d = dd.load_study_data(storage, "alpha")
    table = first["table"]
    assert len(table["text"]) == d.n and table["ncol"] == 8
    custom = np.frombuffer(base64.b64decode(table["custom"]), "<f4").reshape(d.n, 8)
    assert (custom[:, 0] == d.cols["number"]).all()  # customdata[0] is the trial number
    fig = json.loads(first["figure"])
    marked = [t for t in fig["data"] if t.get("meta") is not None]
    assert marked and all("text" not in t and "customdata" not in t for t in marked)
    assert sum(len(t["meta"]) for t in marked if t["mode"] == "markers"
               and t["name"] not in ("recommended", "selected")) == points(fig)
    t = d.cols["ttft_ms"][d.complete]
    at.sidebar.select_slider(key="max_ttft:alpha").set_value(
        ttft_options(t.min(), t.max(), 4000.0)[8]).run()
    again = json.loads(at.get("bidi_component")[0].proto.json)
    assert again["table"] is None and again["table_key"] == first["table_key"]
    at.sidebar.radio(key="family").set_value("general").run()  # other hover numbers: resent
    general = json.loads(at.get("bidi_component")[0].proto.json)
    assert general["table_key"] != first["table_key"] and general["table"] is not None


def test_unstable_recommendation_is_flagged(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'shaky.db'}"
    build_study(url, "shaky", n=40, seed=4)  # one unstable trial on the front
    front = load_frame("shaky", url).front(Budgets())
    k = next(i for i, r in enumerate(front) if r["unstable"])
    d = dd.load_study_data(url, "shaky")
    t = d.cols["ttft_ms"][d.complete]
    # a TTFT budget on the slider that admits the unstable trial but not the next front trial
    budget = next(o for o in ttft_options(t.min(), t.max(), 4000.0)
                  if front[k]["ttft_ms"] <= o < front[k + 1]["ttft_ms"])
    at = app(monkeypatch, url, "shaky")
    assert not any("busy machine" in w.value for w in at.warning)
    at.sidebar.select_slider(key="max_ttft:shaky").set_value(budget).run()
    assert metric(at, "recommended") == f"trial {front[k]['number']}"
    assert any("timed on a busy machine" in w.value for w in at.warning)


def test_family_switch_relabels_every_axis_and_resets_the_zoom(monkeypatch, storage):
    """plotly keeps the user's zoom while `uirevision` stays the same: across budget changes,
    not across a switch of accuracy family (another y axis)."""
    at = app(monkeypatch, storage, "alpha")
    zoom = chart(at)["layout"]["uirevision"]
    d = dd.load_study_data(storage, "alpha")
    t = d.cols["ttft_ms"][d.complete]
    at.sidebar.select_slider(key="max_ttft:alpha").set_value(
        ttft_options(t.min(), t.max(), 4000.0)[8]).run()
    assert chart(at)["layout"]["uirevision"] == zoom
    at.sidebar.radio(key="family").set_value("general").run()
    assert not at.exception
    assert chart(at)["layout"]["yaxis"]["title"]["text"] == \
        "proxy accuracy (general, tier 1) ±0.027 RMSE"
    assert chart(at)["layout"]["uirevision"] != zoom
    label = at.sidebar.select_slider(key="min_proxy:alpha:general").label
    assert label == "Min proxy accuracy (general, tier 1) ±0.027 RMSE"


def test_budget_sliders_reach_every_trial_and_read_no_limit(monkeypatch, storage):
    """The strict end of a slider still admits the extreme trial (the review found a memory
    minimum 2019 below a trial's 2019.95, and a proxy maximum above the best trial); the
    permissive end reads "no limit"."""
    from dashboard.sidebar import limit_options

    mem = np.array([2019.95, 2300.2, 2614.3])
    opts = limit_options(mem, upper=True, step=1.0)
    assert opts[0] == 2020.0 and opts[-1] == 2615.0  # admits the smallest; and every trial
    assert mem.min() <= opts[0] and opts[-1] >= mem.max()
    proxy = np.array([0.3601, 0.5, 0.661])
    opts = limit_options(proxy, upper=False, step=0.005)
    assert opts[-1] == 0.66 and opts[0] == 0.36
    assert opts[-1] <= proxy.max() and opts[0] <= proxy.min()
    assert limit_options(np.array([0.66, 0.66]), upper=False, step=0.005) == [0.655, 0.66]
    assert limit_options(np.array([np.nan]), upper=True, step=1.0) == []
    t = np.array([444.2, 900.0, 5083.0])
    opts = ttft_options(t.min(), t.max(), 4000.0)
    assert opts[0] == 450.0 and opts[-1] == 5083.0 and 4000.0 in opts
    from dashboard.sidebar import memory_step

    at = app(monkeypatch, storage, "alpha")
    d = dd.load_study_data(storage, "alpha")
    n = int(dd.plottable(d, "text_rich").sum())
    for key, open_end in (("max_memory:alpha", -1), ("min_proxy:alpha:text_rich", 0),
                          ("max_ttft:alpha", -1)):
        s = at.sidebar.select_slider(key=key)
        assert s.options[open_end] == "no limit" and s.options.count("no limit") == 1
        assert s.options[-1 - open_end] != "no limit"
    assert at.sidebar.select_slider(key="max_memory:alpha").options[-1] == "no limit"
    t = d.cols["ttft_ms"][d.complete]
    at.sidebar.select_slider(key="max_ttft:alpha").set_value(
        ttft_options(t.min(), t.max(), 4000.0)[-1])  # no TTFT limit
    mem = d.cols["memory_mb"][d.complete]
    strictest = limit_options(mem, True, memory_step(mem))[0]
    at.sidebar.select_slider(key="max_memory:alpha").set_value(strictest).run()
    assert not at.exception
    within = int(metric(at, "within budget").split(" of ")[0])
    assert within == int((mem <= strictest).sum()) and 1 <= within < n


def test_trial_page_selection_and_export(monkeypatch, storage):
    at = app(monkeypatch, storage, "alpha")
    recommended = int(metric(at, "recommended").removeprefix("trial "))
    at.button(key="open_recommended").click().run()
    assert at.sidebar.radio(key="page").value == "Trial" and not at.exception
    assert at.number_input(key="trial_input").value == recommended
    at.number_input(key="trial_input").set_value(0).run()  # the published reference point
    assert not at.exception
    assert any("fastvlm-0.5b" in s.value for s in at.subheader)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download config + model card (.zip)" in labels
    d = dd.load_study_data(storage, "alpha")
    failed = int(d.cols["number"][~d.complete][0])
    at.number_input(key="trial_input").set_value(failed).run()
    assert not at.exception and any("is fail" in w.value or "is pruned" in w.value
                                    for w in at.warning)


def test_trial_page_reads_well(monkeypatch, storage):
    """Every analytic count is shown without an inner scroll bar; the CI whisker sits on its
    own row in a grey that shows on light and dark; stage times are in the legend; notes
    name families by their labels; predicted memory says so."""
    import streamlit as st

    heights, shown = {}, {}
    real = st.dataframe

    def dataframe(rows, **kw):  # what the page asks of st.dataframe, by first column
        heights[next(iter(rows[0]))] = (kw.get("height"), len(rows))
        shown[next(iter(rows[0]))] = rows
        return real(rows, **kw)

    monkeypatch.setattr(st, "dataframe", dataframe)
    at = app(monkeypatch, storage, "alpha")
    at.sidebar.radio(key="page").set_value("Trial").run()
    at.number_input(key="trial_input").set_value(0).run()
    assert not at.exception
    height, n = heights["quantity"]  # the analytic counts
    assert n > 10 and height >= 35 * (n + 1)  # every row, with its header, without scrolling
    stages = [row["stage"] for row in shown["stage"]]  # preprocessing beside TTFT, after it
    assert stages[:3] == ["encoder", "projector", "prefill"] and stages[3].startswith("TTFT")
    assert stages[4] == "image preprocessing (not in TTFT)"
    fig = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
               if json.loads(c.proto.spec)["layout"].get("barmode") == "stack"
               and "stages" in json.dumps(json.loads(c.proto.spec)["data"][0]))
    bars = [t for t in fig["data"] if t["type"] == "bar"]
    whisker = next(t for t in fig["data"] if t["type"] == "scatter")
    assert {tuple(t["y"]) for t in bars} == {("stages",)} and whisker["y"] == ["TTFT, 95% CI"]
    assert whisker["marker"]["color"] == whisker["error_x"]["color"] == "#888888"
    assert any(t["name"].startswith("projector ") and t["name"].endswith(" ms") for t in bars)
    assert any("Peak memory" in m.value and "(predicted)" in m.value for m in at.markdown)
    from dashboard.details import humanise_note

    assert humanise_note("text_rich legibility 0.438 +/- 0.064 measured") == \
        "text-rich legibility 0.438 ± 0.064 measured"


def test_skipped_repeat_links_to_the_trial_it_repeats(monkeypatch, tmp_path):
    from optuna.trial import TrialState

    url = f"sqlite:///{tmp_path / 'rep2.db'}"
    build_study(url, "rep2", n=12, seed=2)
    study = optuna.load_study(study_name="rep2", storage=url)
    t = next(t for t in study.trials if t.state == TrialState.COMPLETE and t.number > 0)
    study.add_trial(create_trial(state=TrialState.PRUNED, params=t.params,
                                 distributions=t.distributions,
                                 user_attrs={"repeat_of": t.number,
                                             "error": f"repeat of trial {t.number}"}))
    at = app(monkeypatch, url, "rep2")
    at.sidebar.radio(key="page").set_value("Trial").run()
    at.number_input(key="trial_input").set_value(12).run()
    assert any(f"repeat of trial {t.number}" in w.value for w in at.warning)
    at.button(key="open_repeat_of").click().run()
    assert not at.exception
    assert at.number_input(key="trial_input").value == t.number
    assert any(s.value.startswith(f"Trial {t.number}: ") for s in at.subheader)


def test_trial_page_shows_a_confirmation_added_after_loading(monkeypatch, tmp_path):
    """`confirm` adds no trial, so the cached study would not see it: the page reads it anew."""
    from explorer.confirm import Confirmation

    url = f"sqlite:///{tmp_path / 'confirmed.db'}"
    build_study(url, "c", n=12, seed=3)
    at = app(monkeypatch, url, "c")
    at.sidebar.radio(key="page").set_value("Trial").run()
    at.number_input(key="trial_input").set_value(0).run()
    assert any("Not confirmed yet" in c.value and "--trials 0" in c.value for c in at.caption)
    sweep_ms = load_frame("c", url).row(0)["ttft_ms"]
    runs = [{"ttft_ms": sweep_ms * f, "encoder_ms": 1.0, "projector_ms": 1.0, "prefill_ms": 1.0,
             "canary_ms": 2.0 * f} for f in (1.1, 1.3, 1.2)]
    record = Confirmation(0, "x", sweep_ms, runs).to_dict() | {"date": "2026-11-26 15:00"}
    study = optuna.load_study(study_name="c", storage=url)
    study.set_user_attr("confirmations", {"0": record})
    from dashboard import cache

    cache.confirmations.clear()  # what its 5 s time-to-live does for a user
    at.run()
    text = " ".join(m.value for m in at.markdown)
    assert "Confirmed in 3 fresh processes" in text and "+20% vs the sweep" in text
    assert "spread 16.7%" in text
    assert load_frame("c", url).row(0)["confirmed_ttft_ms"] == pytest.approx(1.2 * sweep_ms)


def test_search_page(monkeypatch, storage):
    at = app(monkeypatch, storage, "alpha")
    at.sidebar.radio(key="page").set_value("Search").run()
    assert not at.exception and not at.error
    subheaders = [s.value for s in at.subheader]
    assert "Hypervolume over trials" in subheaders
    assert "Parallel coordinates, coloured by proxy accuracy (text-rich, tier 1)" in subheaders
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    keys = [f["layout"].get("title", {}).get("text", "") for f in figs]
    assert "for TTFT" in keys and "for proxy accuracy (text-rich, tier 1)" in keys
    bars = [f for f, k in zip(figs, keys) if k.startswith("for ")]
    names = [n for f in bars for n in f["data"][0]["y"]]
    assert names and not any("_" in n for n in names)  # 'width multiplier', not raw names
    assert "LLM" in names
    # importances follow the accuracy family picked in the sidebar
    at.sidebar.radio(key="family").set_value("general").run()
    assert not at.exception
    keys = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "")
            for c in at.get("plotly_chart")]
    assert "for proxy accuracy (general, tier 1)" in keys
    assert not any("text-rich" in k for k in keys)
    d = dd.load_study_data(storage, "alpha")
    # the TTFT breakdown: each bar one real trial, the fastest at its resolution and LLM
    res = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
               if "fastest trial" in json.dumps(json.loads(c.proto.spec)["layout"]))
    enc = [t for t in res["data"] if t["name"] == "encoder"]
    for trace in enc:
        for x, info in zip(trace["x"], trace["customdata"]):
            i = d.index_of(int(info[0]))
            same = (d.complete & (d.cols["resolution"] == int(x))
                    & (d.cols["llm"] == d.cols["llm"][i]))
            assert d.cols["ttft_ms"][i] == pytest.approx(np.nanmin(d.cols["ttft_ms"][same]))
    par = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
               if json.loads(c.proto.spec)["data"][0]["type"] == "parcoords")
    dims = {dim["label"]: dim for dim in par["data"][0]["dimensions"]}
    ttft = dims["TTFT ms (log scale)"]
    assert "1,000" in ttft["ticktext"] and not any("log10" in k for k in dims)
    assert all(v % 100 == 0 for v in dims["memory MB"]["range"])
    assert "title" not in par["layout"] or not par["layout"]["title"].get("text")


def test_importances_per_objective_from_one_read(storage, tmp_path, monkeypatch):
    from dashboard import details
    from explorer import storage as explorer_storage

    loads = []
    real = explorer_storage.load_study
    monkeypatch.setattr(explorer_storage, "load_study", lambda *a: loads.append(a) or real(*a))
    ttft, proxy = details.importances(storage, "alpha")
    assert len(loads) == 1  # the slow part, once for both objectives
    for imp in (ttft, proxy):
        assert imp.method == "PED-ANOVA" and set(imp.values)
        assert all(v >= 0 for v in imp.values.values())
        assert sum(imp.values.values()) == pytest.approx(1.0)
    # the importances of the proxy picked are those of a study whose trials carry that proxy
    # as their objective (trials that lack it left out); the evaluator reads the trials in
    # place, nothing copied. (A copy renumbers the trials: a proxy looked up by trial number
    # then belongs to another trial wherever failed or pruned trials come before.)
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    copies = []
    real_add = optuna.Study.add_trials
    monkeypatch.setattr(optuna.Study, "add_trials", lambda s, t: copies.append(len(t))
                        or real_add(s, t))
    d = dd.load_study_data(storage, "alpha")
    proxy = dict(zip(d.cols["number"].astype(int).tolist(), d.proxy("general").tolist()))
    for n in d.cols["number"][d.complete][:3].astype(int).tolist():
        proxy[n] = float("nan")
    found = details.importances(storage, "alpha", proxy)
    assert copies == []
    study = optuna.load_study(study_name="alpha", storage=storage)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert done[-1].number > len(done) - 1  # failed trials in between: numbers differ
    for imp, objective in [(found[0], lambda t: t.values[0]),
                           (found[1], lambda t: proxy[t.number])]:
        reference = optuna.create_study(directions=["minimize"])
        reference.add_trials([create_trial(params=t.params, distributions=t.distributions,
                                           value=objective(t)) for t in done
                              if np.isfinite(objective(t))])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sign = 1 if imp is found[0] else -1  # the proxy is maximised
            assert imp.values == pytest.approx(get_param_importances(
                reference, evaluator=PedAnovaImportanceEvaluator(),
                target=lambda t: sign * t.value))
    few = f"sqlite:///{tmp_path / 'few.db'}"
    build_study(few, "few", n=2, seed=1, failed=0)
    assert all("at least 3 complete trials (2 so far)" in m for m in details.importances(few,
                                                                                          "few"))
    with pytest.raises(dd.DashboardError, match="few"):
        details.importances(few, "nope")


def test_a_small_study_gets_eta_squared_computed_by_hand(tmp_path, monkeypatch):
    """Under 10 complete trials (quick.toml's whole space is 8): each parameter's one-way
    eta-squared, checked against a hand count on a 2 x 2 grid where only resolution moves
    TTFT and only width moves the proxy."""
    from dashboard import details

    trials = [SimpleNamespace(params={"resolution": r, "width": w, "llm": "a"},
                              values=[100.0 * (4 if r == 1024 else 1), 0.5 + 0.1 * (w == 96)])
              for r in (512, 1024) for w in (48, 96)]
    ttft = details.variance_explained(trials, lambda t: np.log(t.values[0]))
    assert ttft.method == "eta-squared" and ttft.values == pytest.approx(
        {"resolution": 1.0, "width": 0.0})  # 'llm' has one value: not a parameter here
    # an uneven design: proxy 0.5, 0.6, 0.7 at widths 48, 48, 96 -> between SS / total SS
    y = np.array([0.5, 0.6, 0.7])
    uneven = [SimpleNamespace(params={"width": w}, values=[1.0, v])
              for w, v in zip((48, 48, 96), y)]
    between = 2 * (0.55 - y.mean()) ** 2 + (0.7 - y.mean()) ** 2
    assert details.variance_explained(uneven, lambda t: t.values[1]).values["width"] == \
        pytest.approx(between / ((y - y.mean()) ** 2).sum())
    flat = [SimpleNamespace(params={"width": w}, values=[1.0]) for w in (1, 2, 3)]
    assert "the same in every complete trial" in details.variance_explained(
        flat, lambda t: t.values[0])
    # from a real study file: TTFT in log, the proxy as it is; the page says which method
    url = f"sqlite:///{tmp_path / 's.db'}"
    build_study(url, "small", n=8, seed=2, failed=0)
    study = optuna.load_study(study_name="small", storage=url)
    assert dd.load_study_data(url, "small").search_setup() == ""  # no sampler stored: silent
    spec = dict(study.user_attrs["spec"], sampler="nsga2", population_size=16, seed=0)
    study.set_user_attr("spec", spec)
    assert dd.load_study_data(url, "small").search_setup() == "NSGA-II (population 16, seed 0)"
    study.set_user_attr("spec", dict(spec, sampler="tpe", n_startup_trials=8, seed=3))
    ttft, proxy = details.importances(url, "small")
    assert ttft.method == proxy.method == "eta-squared"
    assert all(0 <= v <= 1 for imp in (ttft, proxy) for v in imp.values.values())
    assert list(ttft.values.values()) == sorted(ttft.values.values(), reverse=True)
    assert "eta-squared" in ttft.axis_title
    at = app(monkeypatch, url, "small")
    at.sidebar.radio(key="page").set_value("Search").run()
    assert not at.exception and not at.error
    axes = [json.loads(c.proto.spec)["layout"].get("xaxis", {}).get("title", {}).get("text")
            for c in at.get("plotly_chart")]
    assert axes.count(ttft.axis_title) == 2
    assert any("Fewer than 10 complete trials: eta-squared" in c.value for c in at.caption)
    assert any("Searched with TPE (8 random startup trials, seed 3)." in c.value
               for c in at.caption)


def test_compare_page_tells_studies_apart_and_gives_ratios(monkeypatch, storage):
    """Hover has TTFT and proxy; each study has its own symbol and dash (identical studies
    still show both); the configurations of both studies are listed with their TTFT ratio."""
    at = app(monkeypatch, storage, "alpha")
    at.sidebar.radio(key="page").set_value("Compare studies").run()
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    trials = [t for t in fig["data"] if t.get("name", "").endswith(": trials")]
    assert len({t["marker"]["symbol"] for t in trials}) == 2
    assert all("TTFT %{x:,.1f} ms" in t["hovertemplate"] and "%{y:.3f}" in t["hovertemplate"]
               for t in trials)
    assert all(t["opacity"] >= 0.5 and t["marker"]["size"] >= 8 for t in trials)
    fronts = [t for t in fig["data"] if ": front" in t.get("name", "")]
    assert len({t["line"]["dash"] for t in fronts}) == 2
    a, b = (dd.load_study_data(storage, s) for s in ("alpha", "beta"))
    rows = compare.common_configs([a.frame, b.frame])
    assert len(rows) == len({config_key(r) for r in a.frame.rows if r["state"] == "COMPLETE"})
    ratio = np.array([r["ratio beta / alpha"] for r in rows])
    assert np.allclose(ratio, [r["beta TTFT ms"] / r["alpha TTFT ms"] for r in rows])
    assert 0.4 < ratio.min() and ratio.max() < 0.6  # beta's synthetic device is 2x faster
    shown = at.dataframe[-1].value
    assert list(shown.columns[:4]) == ["configuration", "alpha TTFT ms", "beta TTFT ms",
                                       "ratio beta / alpha"]
    assert len(shown) == len(rows)
    speed = compare.speed_summary(rows, ["alpha", "beta"])[0]
    assert any(compare.speed_line(speed) in c.value for c in at.caption)


def test_compare_page_marks_configs_on_every_front(monkeypatch, storage):
    at = app(monkeypatch, storage, "alpha")
    at.sidebar.radio(key="page").set_value("Compare studies").run()
    assert not at.exception and at.multiselect(key="compare_studies").value == ["alpha", "beta"]
    a, b = (dd.load_study_data(storage, s) for s in ("alpha", "beta"))
    budgets = a.frame.stored_budgets
    fronts = {d.name: dd.front_rows(d, dd.front_view(d, "text_rich", budgets)) for d in (a, b)}
    common = compare.common_front(fronts)
    assert any(s.value == f"On every front: {len(common)} configuration(s)" for s in at.subheader)
    assert common  # same configurations, device 2x faster: most of the front survives
    shown = at.dataframe[0].value
    assert list(shown.columns) == ["configuration", "alpha trial", "alpha TTFT ms", "beta trial",
                                   "beta TTFT ms"]
    assert len(shown) == len(common) and shown["alpha TTFT ms"].is_monotonic_increasing


@pytest.fixture(scope="module")
def two_machines(tmp_path_factory):
    """`make sweep` on a laptop and on a board, each into its own results file (same file
    name, other folders): study quick in both, the board 2x faster; mobile only on the board."""
    root = tmp_path_factory.mktemp("machines")
    urls = []
    for machine, speed in (("laptop", 1.0), ("board", 2.0)):
        (root / machine).mkdir()
        url = f"sqlite:///{root / machine / 'fastvlm-explorer.db'}"
        build_study(url, "quick", n=40, seed=3, speed=speed, device=f"synthetic-{machine}")
        urls.append(url)
    build_study(urls[1], "mobile", n=20, seed=5, device="synthetic-board")
    return urls


def several(monkeypatch, urls: list[str]) -> AppTest:
    """The app as `fastvlm-explore dashboard --storage A --storage B` starts it."""
    monkeypatch.setattr(sys, "argv", ["app.py"] + [a for u in urls for a in ("--storage", u)])
    return AppTest.from_file(APP, default_timeout=60).run()


def test_several_results_files_one_picked_in_the_sidebar(monkeypatch, two_machines):
    laptop, board = two_machines
    at = several(monkeypatch, two_machines)
    assert not at.exception and not at.error
    picker = at.sidebar.selectbox(key="storage")
    assert picker.options == ["laptop/fastvlm-explorer.db", "board/fastvlm-explorer.db"]
    assert at.sidebar.selectbox(key="study").options == ["quick · synthetic-laptop"]
    d = dd.load_study_data(laptop, "quick")
    t = d.cols["ttft_ms"][d.complete]
    laptop_budget = ttft_options(t.min(), t.max(), 4000.0)[5]
    at.sidebar.select_slider(key="max_ttft:quick").set_value(laptop_budget).run()
    assert at.sidebar.select_slider(key="max_ttft:quick").value == laptop_budget
    picker.set_value(board).run()  # a budget that is not one of the board's options
    assert not at.exception and not at.error
    assert at.sidebar.selectbox(key="study").options == ["mobile · synthetic-board",
                                                         "quick · synthetic-board"]
    assert at.sidebar.selectbox(key="study").value == "quick"  # the same study, other machine
    assert points(chart(at)) == int(dd.plottable(dd.load_study_data(board, "quick"),
                                                 "text_rich").sum())


def test_a_link_names_its_results_file(monkeypatch, two_machines):
    """The picked file is in the page's address (by its label, not its path), so a shared
    link opens the same file and study."""
    at = several(monkeypatch, two_machines)
    at.sidebar.selectbox(key="storage").set_value(two_machines[1]).run()
    at.sidebar.selectbox(key="study").set_value("mobile").run()
    # AppTest gives each parameter as a string (Streamlit 1.67) or a list of them (1.56)
    address = {k: v if isinstance(v, str) else v[-1] for k, v in at.query_params.items()}
    assert address == {"storage": "board/fastvlm-explorer.db", "study": "mobile"}
    monkeypatch.setattr(sys, "argv", ["app.py"] + [a for u in two_machines
                                                   for a in ("--storage", u)])
    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params.update(storage="board/fastvlm-explorer.db", study="mobile")
    again.run()
    assert not again.exception and not again.error
    assert again.sidebar.selectbox(key="storage").value == two_machines[1]
    assert again.sidebar.selectbox(key="study").value == "mobile"


def test_compare_page_overlays_studies_from_several_results_files(monkeypatch, two_machines):
    """The study's twin on the other machine is compared by default; the ratios say the
    board is 2x faster; every study of every file can be picked."""
    at = several(monkeypatch, two_machines)
    at.sidebar.radio(key="page").set_value("Compare studies").run()
    assert not at.exception and not at.error
    pick = at.multiselect(key="compare_studies")
    here, there = "quick (laptop/fastvlm-explorer.db)", "quick (board/fastvlm-explorer.db)"
    assert pick.options == [f"{here} · synthetic-laptop", "mobile · synthetic-board",
                            f"{there} · synthetic-board"]
    assert pick.value == [here, there]
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in fig["data"] if t.get("name", "").endswith(": trials")} == {
        f"{here}: trials", f"{there}: trials"}
    shown = at.dataframe[-1].value
    ratio = shown[f"ratio {there} / {here}"].to_numpy(dtype=float)
    assert len(shown) > 20 and 0.4 < ratio.min() and ratio.max() < 0.6
    laptop, board = two_machines
    frames = [dataclasses.replace(load_frame("quick", u), study_name=label)
              for u, label in ((laptop, here), (board, there))]
    one = compare.one_for_all(frames, [Budgets(max_ttft_ms=4000.0)] * 2)  # the stored budget
    assert one["choice"] and any(s.value.startswith("**One configuration for all: "
                                 f"{one['choice']['configuration']}**") for s in at.success)
    stars = [t for t in fig["data"] if t.get("legendgroup") == "one"]  # marked in each study
    assert sorted(float(values(t["x"])[0]) for t in stars) == sorted(
        one["choice"]["ttft_ms"].values())
    assert [b.proto.label for b in at.get("download_button")] == [
        "Download this comparison as a page (HTML, opens offline)",
        "Download these configurations as CSV"]
    outright = compare.one_for_all(frames, [Budgets(max_ttft_ms=4000.0)] * 2, ties=False)
    assert outright["choice"]["trials"] != one["choice"]["trials"]  # the switch matters here
    at.sidebar.toggle(key="most_accurate").set_value(True).run()
    assert any(s.value.startswith("**One configuration for all: "
                                  f"{outright['choice']['configuration']}**") for s in at.success)
    pick.set_value([here, there, "mobile"]).run()
    assert not at.exception and len(json.loads(at.get("plotly_chart")[0].proto.spec)["data"]) > 4


def test_a_results_file_that_cannot_be_read_is_left_out_of_compare(monkeypatch, two_machines):
    gone = "sqlite:////nonexistent/elsewhere.db"
    at = several(monkeypatch, [two_machines[0], gone])
    at.sidebar.radio(key="page").set_value("Compare studies").run()
    assert not at.exception
    assert any("/nonexistent/elsewhere.db left out: no study storage" in w.value
               for w in at.warning)
    assert at.multiselect(key="compare_studies").options == ["quick · synthetic-laptop"]
    at.sidebar.selectbox(key="storage").set_value(gone).run()
    assert not at.exception
    assert any("no study storage at /nonexistent/elsewhere.db" in e.value for e in at.error)


# ---- error states: a message in the page, never a traceback ----

@pytest.mark.parametrize("url, fragment", [
    ("sqlite:////nonexistent/dir/x.db", "no study storage at /nonexistent/dir/x.db"),
    ("postgresql://me:secret@127.0.0.1:1/db", "cannot open storage postgresql://me:***@"),
    ("redis://localhost", "unsupported storage URL"),
])
def test_unreachable_storage(monkeypatch, url, fragment):
    at = app(monkeypatch, url)
    assert not at.exception
    assert any(fragment in e.value for e in at.error), [e.value for e in at.error]
    assert "secret" not in json.dumps([e.value for e in at.error])


def test_storage_without_studies(monkeypatch, tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 'none.db'}"
    optuna.storages.RDBStorage(url)
    at = app(monkeypatch, url)
    assert not at.exception and any("No studies" in w.value for w in at.warning)


def test_empty_study_and_only_failed(monkeypatch, odd_storage):
    at = app(monkeypatch, odd_storage, "empty")
    assert not at.exception and any("has no trials yet" in i.value for i in at.info)
    at.sidebar.selectbox(key="study").set_value("failed").run()
    assert not at.exception
    assert any("None of the 6 trials" in w.value for w in at.warning)
    assert at.table  # the failure reasons


def test_study_picker_names_each_studys_device(monkeypatch, storage):
    """The same space on two devices: the picker tells the studies apart by device."""
    at = app(monkeypatch, storage, "alpha")
    assert at.sidebar.selectbox(key="study").options == ["alpha · synthetic-cpu",
                                                          "beta · synthetic-gpu"]
    at.sidebar.radio(key="page").set_value("Compare studies").run()
    assert not at.exception
    assert at.multiselect(key="compare_studies").options == ["alpha · synthetic-cpu",
                                                             "beta · synthetic-gpu"]


def test_wrong_study_name(monkeypatch, storage):
    at = app(monkeypatch, storage, "nope")
    assert not at.exception
    assert any("No study 'nope'" in e.value and "alpha, beta" in e.value for e in at.error)
    assert at.sidebar.selectbox(key="study").value == "alpha"


# ---- the pure layer ----

def test_front_view_matches_cli_front(storage):
    d = dd.load_study_data(storage, "alpha")
    for b in (Budgets(), Budgets(max_ttft_ms=2000), Budgets(min_proxy=0.6, max_memory_mb=9000)):
        view = dd.front_view(d, "text_rich", b)
        assert [d.frame.rows[i]["number"] for i in view.front] == d.frame.pareto_numbers(b)
        assert view.feasible.sum() == len([r for r in d.frame.feasible(b)])


def test_repeated_configuration_is_listed_once_on_the_front(tmp_path):
    """A sampler that proposes a front configuration again (its twin measures the same from the
    cache) must not list it twice: CLI and dashboard keep the first trial of it."""
    import optuna
    from optuna.trial import create_trial

    url = f"sqlite:///{tmp_path / 'twins.db'}"
    build_study(url, "twins", n=40, seed=5)
    first = load_frame("twins", url).front(Budgets())[0]
    study = optuna.load_study(study_name="twins", storage=url)
    t = study.trials[first["number"]]
    study.add_trial(create_trial(state=t.state, values=t.values, params=t.params,
                                 distributions=t.distributions, user_attrs=t.user_attrs))
    frame = load_frame("twins", url)
    twin = frame.rows[-1]
    assert twin["number"] == 40 and twin["values"] == first["values"]
    assert frame.pareto_numbers(Budgets()).count(first["number"]) == 1
    assert 40 not in frame.pareto_numbers(Budgets())
    d = dd.load_study_data(url, "twins")
    view = dd.front_view(d, "text_rich", Budgets())
    assert [d.frame.rows[i]["number"] for i in view.front] == frame.pareto_numbers(Budgets())
    assert view.shown[d.index_of(40)]  # the twin is still a plotted trial


def test_skipped_repeats_and_over_budget_samples_are_counted_apart(monkeypatch, tmp_path):
    import optuna
    from optuna.trial import TrialState, create_trial

    url = f"sqlite:///{tmp_path / 'rep.db'}"
    build_study(url, "rep", n=20, seed=2)
    study = optuna.load_study(study_name="rep", storage=url)
    t = next(t for t in study.trials if t.state == TrialState.COMPLETE)
    study.add_trial(create_trial(state=TrialState.PRUNED, params=t.params,
                                 distributions=t.distributions,
                                 user_attrs={"repeat_of": t.number,
                                             "error": f"repeat of trial {t.number}"}))
    for _ in range(2):  # explorer/predict.py's skips: PRUNED with the bound and why
        study.add_trial(create_trial(state=TrialState.PRUNED, params=t.params,
                                     distributions=t.distributions,
                                     user_attrs={"predicted_over_budget": {"lower_ms": 9e3},
                                                 "error": "predicted over budget: ..."}))
    d = dd.load_study_data(url, "rep")
    assert dd.state_counts(d)["REPEATS SKIPPED"] == 1
    assert dd.state_counts(d)["SKIPPED OVER BUDGET"] == 2
    assert ("skipped: TTFT predicted over the budget (not measured)", 2) in dd.failure_summary(d)
    at = app(monkeypatch, url, "rep")
    caption = at.caption[0].value
    assert not at.exception and "1 repeats skipped" in caption
    assert "2 skipped over budget" in caption
    # never measured, so the ladder and the recommendation say what they leave out
    captions = " ".join(c.value for c in at.caption)
    assert "leave out 2 configuration(s) the sweep skipped as predicted over it" in captions
    assert "Not measured" not in captions  # bounds of 9,000 ms: not within the 4,000 ms budget


def test_webgl_pareto_keeps_every_trial_and_its_hover(monkeypatch, storage):
    """Above GL_ABOVE points the trial markers are WebGL traces: still one point per complete
    trial (over-budget ones grey), each with its trial number and configuration on hover."""
    from dashboard import charts

    d = dd.load_study_data(storage, "alpha")
    view = dd.front_view(d, "text_rich", Budgets(max_ttft_ms=2000))
    monkeypatch.setattr(charts, "GL_ABOVE", 10)
    fig = json.loads(charts.figure_json(charts.pareto_figure(d, view)))
    trials = trial_traces(fig)
    assert {t["type"] for t in trials} == {"scattergl"}
    assert points(fig) == int(view.shown.sum())
    assert any(t["marker"]["color"] == charts.GREY for t in trials)  # over budget: grey
    numbers = np.concatenate([values(t["customdata"]).reshape(len(values(t["x"])), -1)[:, 0]
                              for t in trials])
    assert sorted(numbers.astype(int)) == sorted(d.cols["number"][view.shown].astype(int))
    assert all("%{text}" in t["hovertemplate"] and "trial %{customdata[0]}" in t["hovertemplate"]
               for t in trials)
    assert all(len(t["text"]) == len(values(t["x"])) for t in trials)


def test_trial_count_and_export_zip(storage):
    assert dd.trial_count(storage, "alpha") == 60
    with pytest.raises(dd.DashboardError, match="available: alpha, beta"):
        dd.trial_count(storage, "nope")
    from dashboard.details import export_zip, load_trial

    d = dd.load_study_data(storage, "alpha")
    number = int(d.cols["number"][d.complete][0])
    name, payload = export_zip(load_trial(storage, "alpha", number), "alpha", d.frame.attrs)
    files = zipfile.ZipFile(io.BytesIO(payload)).namelist()
    assert name == f"alpha-{number}.zip"
    assert f"alpha-{number}/MODEL_CARD.md" in files
    assert f"alpha-{number}/fastvlm_explorer.json" in files


def test_trial_count_on_a_journal_and_a_vanished_file(tmp_path):
    journal = f"journal://{tmp_path / 'j.log'}"
    study = optuna.create_study(storage=open_storage(journal), study_name="j",
                                directions=["minimize", "maximize"])
    for v in range(5):
        study.add_trial(create_trial(values=[1.0 + v, 0.3]))
    assert dd.trial_count(journal, "j") == 5  # no SQL here: Optuna's own count
    db = tmp_path / "gone.db"
    build_study(f"sqlite:///{db}", "g", n=3, seed=0)
    assert dd.trial_count(f"sqlite:///{db}", "g") == 3  # the storage is now kept open
    db.unlink()
    with pytest.raises(dd.DashboardError, match="no study storage"):
        dd.trial_count(f"sqlite:///{db}", "g")
    assert not db.exists()  # reported, not created empty by the kept connection
    build_study(f"sqlite:///{db}", "g", n=5, seed=1)  # a new sweep, same file name
    assert dd.trial_count(f"sqlite:///{db}", "g") == 5  # read from the new file


def test_csv_has_the_cli_columns(storage):
    import csv

    d = dd.load_study_data(storage, "alpha")
    rows = dd.front_rows(d, dd.front_view(d, "text_rich", Budgets()))
    text = dd.front_csv(rows)
    header = text.splitlines()[0].split(",")
    assert "ttft_ms" in header and "proxy_text_rich" in header and "values" not in header
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert json.loads(parsed[0]["config"]) == rows[0]["config"]  # JSON, not a Python repr


def test_front_table_puts_the_deciding_columns_first_and_formats_them(monkeypatch, tmp_path):
    """TTFT, proxy, memory and the confirmed TTFT lead; the breakdown has the projector; ms
    are shown with one decimal and thousands separators, proxies with three decimals."""
    from explorer.confirm import Confirmation

    url = f"sqlite:///{tmp_path / 'table.db'}"
    build_study(url, "t", n=30, seed=6)
    first = load_frame("t", url).front()[0]
    runs = [{"ttft_ms": first["ttft_ms"] * f, "encoder_ms": 1.0, "projector_ms": 1.0,
             "prefill_ms": 1.0, "canary_ms": 2.0} for f in (1.0, 1.1, 1.2)]
    optuna.load_study(study_name="t", storage=url).set_user_attr(
        "confirmations", {str(first["number"]): Confirmation(first["number"], "x",
                                                             first["ttft_ms"], runs).to_dict()})
    at = app(monkeypatch, url, "t")
    assert not at.exception
    df = front_table_of(at)
    cols = list(df.value.columns)
    assert cols[:7] == ["trial", "TTFT ms", "proxy text-rich", "±", "memory MB (predicted)",
                        "confirmed TTFT ms", "confirmed spread"]
    assert "projector ms" in cols
    row = df.value.iloc[0]
    assert row["trial"] == first["number"]
    assert row["confirmed TTFT ms"] == pytest.approx(first["ttft_ms"] * 1.1)
    fmt = {k: v["type_config"] for k, v in json.loads(df.proto.columns).items()
           if "type_config" in v}
    assert fmt["TTFT ms"] == {"type": "number", "format": "localized", "step": 0.1}
    assert fmt["projector ms"]["format"] == "localized"
    assert fmt["proxy text-rich"]["format"] == "%.3f" and fmt["±"]["format"] == "%.3f"
    assert fmt["memory MB (predicted)"] == {"type": "number", "format": "localized", "step": 1}
    assert not any("No TTFT on the front is confirmed" in c.value for c in at.caption)


def test_pareto_axis_ticks_legend_and_colour_bar(storage):
    """Log-axis ticks are whole numbers (plotly labelled minor ticks "5 6 7 8 9 1000 2 3");
    the LLM legend swatch is neutral (not a colour of the resolution scale); the colour bar is
    horizontal under the plot so a narrow window keeps its width for the plot."""
    from dashboard import charts

    ticks = charts.log_ticks(np.array([495.4, 1574.7, 5077.0]))
    shown = [t for v, t in zip(ticks["tickvals"], ticks["ticktext"]) if 495.4 <= v <= 5077]
    assert shown == ["500", "700", "1,000", "2,000", "3,000", "5,000"]
    wide = charts.log_ticks(np.array([40.0, 90_000.0]))
    assert {"50", "100", "200", "500", "1,000", "10,000", "50,000"} <= set(wide["ticktext"])
    d = dd.load_study_data(storage, "alpha")
    view = dd.front_view(d, "text_rich", Budgets())
    fig = charts.pareto_figure(d, view)
    legend_only = [t for t in fig["data"] if t.get("hoverinfo") == "skip"
                   and t["mode"] == "markers"]
    llm = d.cols["llm"]
    assert sorted(t["name"] for t in legend_only) == sorted(
        f"{m} ({int((view.feasible & (llm == m)).sum())})" for m in set(llm[view.feasible]))
    assert all(t["marker"]["color"] == charts.NEUTRAL for t in legend_only)
    coloured = [t for t in trial_traces(fig) if not isinstance(t["marker"]["color"], str)]
    assert coloured and all(t["showlegend"] is False for t in coloured)
    assert {t["legendgroup"] for t in coloured} == {t["legendgroup"] for t in legend_only}
    bar = next(t["marker"]["colorbar"] for t in coloured if t["marker"].get("showscale"))
    assert bar["orientation"] == "h"
    assert fig["layout"]["margin"]["r"] <= 40
    assert fig["layout"]["legend"]["itemsizing"] == "constant"  # not the token sizes
    assert "1,000" in fig["layout"]["xaxis"]["ticktext"]


def test_marker_sizes_follow_tokens_and_shrink_on_dense_charts():
    """Size grows with the visual tokens; a chart of thousands of trials gets smaller markers
    (a 22-px blob hides where the trials lie), and the legend swatches keep one size."""
    from dashboard import charts

    tokens = np.array([16, 64, 256, 1024, np.nan])
    few, many = charts.token_sizes(tokens, 20), charts.token_sizes(tokens, 9000)
    assert few.min() == 6 and few.max() == 22 and np.all(np.diff(few[:4]) > 0)
    assert many.min() == 3 and 9 < many.max() < 10 and np.all(np.diff(many[:4]) > 0)
    assert charts.token_sizes(np.array([256, 256]), 50).tolist() == [6, 6]


def test_compare_markers_shrink_when_the_studies_hold_thousands(storage):
    """The compare chart's trial markers follow the same density rule as the Pareto chart's;
    the fronts keep their size, and the legend swatches one size."""
    from dashboard import charts

    def views(copies: int):
        out = []
        for name in ("alpha", "beta"):
            d = dd.load_study_data(storage, name)
            rows = [dict(r, number=i) for i, r in enumerate(d.frame.rows * copies)]
            d = dd.StudyData(dataclasses.replace(d.frame, rows=rows), dd.columns(rows))
            out.append((d, dd.front_view(d, "text_rich", Budgets())))
        return out

    def sizes(studies):
        fig = charts.compare_figure(dd.compare_studies(studies))
        size = lambda part: {t.marker.size for t in fig.data if part in (t.name or "")}  # noqa: E731
        return size(": trials"), size(": front"), fig.layout.legend.itemsizing

    small, dense = views(1), views(100)
    points = sum(int(v.feasible.sum()) for _, v in dense)
    assert points > 3000
    assert sizes(small) == ({9}, {10}, "constant")
    trials, front, _ = sizes(dense)
    assert len(trials) == 1 and front == {10}
    assert trials.pop() == pytest.approx(9 * (300 / points) ** 0.25)  # ~4.5 px at 4,000


def test_command_checks_every_storage_before_starting(two_machines, run_cli):
    """With several --storage, a missing one stops the command (exit 1, the file named), and
    --study must be in the first."""
    rc, _, err = run_cli("dashboard", "--storage", two_machines[0], "--storage",
                         "sqlite:////nonexistent/board.db")
    assert rc == 1 and "no study storage at /nonexistent/board.db" in err
    rc, _, err = run_cli("dashboard", "--storage", two_machines[0], "--storage",
                         two_machines[1], "--study", "mobile")
    assert rc == 2 and "no study 'mobile' in this storage; available: quick" in err


def test_command_says_what_would_stop_the_server_before_starting_it(storage, capsys):
    """A taken port (with a free one suggested), an address not of this machine and an unknown
    study: one line each and exit 2, before Streamlit starts."""
    import re
    import socket

    from explorer.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert main(["dashboard", "--storage", storage, "--port", str(taken)]) == 2
        err = capsys.readouterr().err
        assert f"port {taken} on 127.0.0.1 is in use" in err and len(err.splitlines()) == 1
        suggested = int(re.search(r"--port (\d+)", err).group(1))
        with socket.socket() as s:
            s.bind(("127.0.0.1", suggested))  # the suggestion is free
    for args, fragment in [(["--host", "192.0.2.1"], "is not an address of this machine"),
                           (["--host", "no-such-host.invalid"], "is not a known address"),
                           (["--study", "nope"], "no study 'nope' in this storage; available: "
                                                 "alpha, beta")]:
        assert main(["dashboard", "--storage", storage, *args]) == 2
        err = capsys.readouterr().err
        assert fragment in err and len(err.splitlines()) == 1, err


def test_command_is_the_server_so_a_sigterm_stops_it(storage):
    """`fastvlm-explore dashboard` becomes the Streamlit server: a SIGTERM to the pid it was
    started as (what a service manager or `kill` sends) stops serving, no orphan left."""
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "explorer.cli", "dashboard", "--storage",
                             storage, "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    health = f"http://127.0.0.1:{port}/_stcore/health"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(health, timeout=2).status == 200:
                    break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, "the server did not start"
                time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        with pytest.raises(OSError):
            urllib.request.urlopen(health, timeout=2)
    finally:
        try:  # whatever the session still holds (a server orphaned by a stopped parent)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_dashboard_imports_no_torch():
    code = ("import sys, dashboard.data, dashboard.details, dashboard.charts, "
            "dashboard.charts_detail, dashboard.cache, dashboard.sidebar, dashboard.views.pareto, "
            "dashboard.views.trial, dashboard.views.search, dashboard.views.compare, "
            "explorer.commands.dashboard; print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


# ---- the command ----

def test_command_validates_and_binds_localhost(storage):
    from explorer.cli import build_parser
    from explorer.commands.dashboard import streamlit_command

    args = build_parser().parse_args(["dashboard", "--storage", storage])
    assert (args.host, args.port) == ("127.0.0.1", 8501)
    cmd = streamlit_command([storage], args.host, args.port, "alpha")
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--") + 1:] == ["--storage", storage, "--study", "alpha"]
    args = build_parser().parse_args(["dashboard", "--storage", storage, "--storage", "b.db"])
    cmd = streamlit_command(args.storage, args.host, args.port)
    assert cmd[cmd.index("--") + 1:] == ["--storage", storage, "--storage", "sqlite:///b.db"]
    for bad in ("0", "70000", "http"):
        r = subprocess.run([sys.executable, "-m", "explorer.cli", "dashboard", "--port", bad],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "valid: 1..65535" in r.stderr
    r = subprocess.run([sys.executable, "-m", "explorer.cli", "dashboard", "--storage",
                        "sqlite:////nonexistent/x.db"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and "no study storage" in r.stderr and "Traceback" not in r.stderr
