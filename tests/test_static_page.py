"""`fastvlm-explore pareto --html FILE`: the dashboard's Pareto view as one offline page.

The page is read back as a browser would get it (the figure JSON inside its script, the front
table's rows) and checked against the CLI's own `pareto --json` and `recommend --json` under
the same budgets; tests/test_dashboard_browser.py opens it in Chromium.
"""

from __future__ import annotations

import base64
import html
import json
import re

import numpy as np
import pytest

from dashboard.static_page import pareto_page
from tests.dashboard_fixtures import build_study

SPECIAL = ("recommended", "selected")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('html')}/s.db"
    build_study(url, "s", n=60, seed=3)
    return url


def figure(page: str) -> dict:
    """The figure the page hands to Plotly.newPlot."""
    found = re.search(r"const fig = (\{.*?\});\nPlotly\.newPlot", page, re.S)
    assert found, "the page holds its figure"
    return json.loads(found.group(1))  # JSON reads the page's "<\/" escapes as "</"


def length(values) -> int:
    if isinstance(values, dict):  # a typed array: {dtype, bdata}
        return len(base64.b64decode(values["bdata"])) // np.dtype(values["dtype"]).itemsize
    return len(values)


def trial_points(fig: dict) -> int:
    return sum(length(t["x"]) for t in fig["data"]
               if "markers" in t.get("mode", "") and t["name"] not in SPECIAL
               and not t["name"].startswith("published FastVLM") and t.get("hoverinfo") != "skip")


def table_numbers(page: str) -> list[int]:
    """The trials in the front's table (the page's last)."""
    if "<tbody>" not in page:
        return []
    body = page.rsplit("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", body)]


def ladder_rows(page: str) -> list[tuple[bool, int]]:
    """(marked as in force, trial) of each row of the budget ladder's table (the page's first)."""
    body = page.split("What a bigger TTFT budget buys", 1)[1].split("</tbody>", 1)[0]
    return [(mark == "◀", int(n)) for mark, n in
            re.findall(r'<tr><td>(◀?)</td><td class="num">[\d,.]+</td><td>(\d+)</td>', body)]


def test_page_shows_what_the_cli_reports_under_the_same_budget(url, tmp_path, run_cli):
    out = tmp_path / "front.html"
    budget = ["--max-ttft-ms", "2500"]
    rc, table, err = run_cli("pareto", "--study", "s", "--storage", url, "--html", str(out),
                         *budget)
    assert rc == 0 and f"wrote {out}" in err and "feasible Pareto-optimal" in table
    page = out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["front.html"]  # no temporary file left
    _, front, _ = run_cli("pareto", "--study", "s", "--storage", url, "--json", *budget)
    _, rec, _ = run_cli("recommend", "--study", "s", "--storage", url, "--json", *budget)
    numbers = [t["number"] for t in json.loads(front)["trials"]]
    choice = json.loads(rec)["choice"]["number"]
    assert table_numbers(page) == numbers and len(numbers) >= 2
    first = json.loads(front)["trials"][0]  # formatted as the dashboard's tables show them
    ttft, proxy = first["ttft_breakdown"]["ttft_ms"], first["proxy"]["proxy_text_rich"]
    assert (f'<tr><td>{first["number"]}</td><td class="num">{ttft:,.1f}</td>'
            f'<td class="num">{proxy:.3f}</td>') in page
    assert f"<b>Recommended: trial {choice}</b>" in page
    first_reason = html.escape(json.loads(rec)["reason"].split("; ")[0])
    assert f'<ul class="note"><li>{first_reason}</li>' in page  # the CLI's bullets
    _, ladder, _ = run_cli("recommend", "--study", "s", "--storage", url, "--json", "--ladder")
    steps = json.loads(ladder)["steps"]
    rows = ladder_rows(page)
    assert [n for _, n in rows] == [s["number"] for s in steps] and len(steps) >= 2
    in_force = max(i for i, s in enumerate(steps) if s["from_ttft_budget_ms"] <= 2500)
    assert [i for i, (mark, _) in enumerate(rows) if mark] == [in_force]
    assert rows[in_force][1] == choice
    fig = figure(page)
    rows = json.loads(front)  # every complete trial is drawn, in budget or greyed over it
    _, everything, _ = run_cli("studies", "--storage", url, "--json")
    complete = json.loads(everything)["studies"][0]["trials"]["COMPLETE"]
    assert trial_points(fig) == complete > len(rows["trials"])
    assert any("over budget" in t["name"] for t in fig["data"])
    assert [s["x0"] for s in fig["layout"]["shapes"] if s["xref"] == "x"] == [2500]
    ring = next(t for t in fig["data"] if t["name"] == "recommended")
    assert ring["meta"] and "</b>" in ring["hovertemplate"]  # escaped in the page, intact here
    assert "TTFT measured on synthetic-cpu" in page and "not a benchmark score" in page


def test_page_of_a_budget_nothing_meets_says_so(url, tmp_path, run_cli):
    out = tmp_path / "none.html"
    rc, _, _ = run_cli("pareto", "--study", "s", "--storage", url, "--html", str(out),
                   "--max-ttft-ms", "0.001")
    page = out.read_text()
    assert rc == 0 and "No recommendation: no complete trial meets the budgets" in page
    assert "No feasible trial under these budgets." in page and table_numbers(page) == []


@pytest.mark.parametrize("target, fragment", [
    ("missing/front.html", "folder {tmp}/missing does not exist"),
    (".", "is a folder; give a file name"),
])
def test_an_unwritable_target_is_refused_before_reading(url, tmp_path, run_cli, target,
                                                        fragment):
    path = tmp_path / target
    rc, _, err = run_cli("pareto", "--study", "s", "--storage", url, "--html", str(path))
    assert rc == 2 and fragment.format(tmp=tmp_path) in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_study_writes_nothing(url, tmp_path, run_cli):
    rc, _, err = run_cli("pareto", "--study", "nope", "--storage", url, "--html",
                     str(tmp_path / "x.html"))
    assert rc == 2 and "no study 'nope'" in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["empty", "only failed"])
def test_a_study_with_nothing_to_draw_writes_no_page(tmp_path, run_cli, kind):
    from tests.dashboard_fixtures import empty_study

    url = f"sqlite:///{tmp_path}/n.db"
    empty_study(url, "s") if kind == "empty" else build_study(url, "s", n=6, only_failed=True)
    out = tmp_path / "x.html"
    rc, _, err = run_cli("pareto", "--study", "s", "--storage", url, "--html", str(out))
    assert rc == 1 and "--html: nothing to draw, study 's' has no complete trial" in err
    assert "(0 complete); no page written" in err and not out.exists()


def test_text_from_the_study_is_escaped(tmp_path):
    """A study name with markup shows as text, and inside the figure's script it cannot end
    the script early."""
    from dashboard.data import default_budgets, front_view, load_study_data

    url, name = f"sqlite:///{tmp_path}/e.db", "</script><i>odd</i>"
    build_study(url, name, n=12)
    data = load_study_data(url, name)
    page = pareto_page(data, front_view(data, "text_rich", default_budgets(data)), url)
    assert "<h1>&lt;/script&gt;&lt;i&gt;odd&lt;/i&gt;: Pareto front</h1>" in page
    assert page.count("</script>") == 2  # plotly.js's and the plot's own
    assert figure(page)["layout"]["uirevision"] == f"{name}/text_rich"  # intact as data
