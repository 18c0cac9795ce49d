"""The dashboard's views as self-contained HTML files, for someone who will not run a server:
a file to attach to a design review. plotly.js is inside (about 4.8 MB), so they open offline.

    fastvlm-explore pareto --study quick --html quick-front.html
    fastvlm-explore compare --study quick-laptop --study quick-board --html devices.html

`pareto_page`: the Pareto chart (the same figure: hover, zoom, budget lines, the recommended
trial ringed), the recommendation, the budget ladder and the front's table. `compare_page`:
the Compare page's overlaid fronts, the configurations on every front, the speed ratios and
the configurations every study measured.
"""

from __future__ import annotations

import datetime
import html

from explorer.recommend import budget_text, ladder_note

from .charts import PARETO_CONFIG, compare_figure, figure_json, pareto_figure
from .data import (Comparison, FrontView, StudyData, budget_ladder, front_table, ladder_table,
                   state_counts)
from .formats import column_kind, show

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1280px; margin: 1.5rem auto; padding: 0 1rem; }
.note { color: #666; font-size: 0.9rem; }
.metrics span { margin-right: 2rem; }
.rec { background: #eaf6ec; border-radius: 6px; padding: 0.6rem 1rem; }
.warn { background: #fff5e0; border-radius: 6px; padding: 0.6rem 1rem; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #e4e4e4; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
"""


def pareto_page(data: StudyData, view: FrontView, source: str) -> str:
    """The whole page. `source` (the storage; its password is redacted here) goes in its footer
    with this tool's version and the time the page was written."""
    esc = html.escape
    counts = ", ".join(f"{v:,} {k.lower()}" for k, v in sorted(state_counts(data).items()))
    description = data.description()
    parts = [
        f"<h1>{esc(data.name)}: Pareto front</h1>",
        f'<p class="note">{esc(description + " — " if description else "")}TTFT measured on '
        f"{esc(data.device())}; {esc(counts)}. Accuracy is a calibrated proxy, not a benchmark "
        "score.</p>",
        _metrics(view),
        '<div id="chart"></div>',
        _recommendation(view),
        _ladder(data, view),
        f"<h2>Feasible Pareto front ({len(view.front)})</h2>",
        _table(front_table([data.frame.rows[i] for i in view.front], view.family)),
        _footer([source]),
    ]
    return _document(f"{data.name}: Pareto front", parts, pareto_figure(data, view),
                     PARETO_CONFIG)


def compare_page(cmp: Comparison, sources: list[str]) -> str:
    """The Compare page (`data.compare_studies`) as the dashboard shows it; `sources` are the
    studies' storages."""
    esc = html.escape
    names = cmp.names
    overview = [{"study": d.name, "measured on": d.device(),
                 "complete": int(d.complete.sum()), "front": len(v.front),
                 "budgets": budget_text(v.budgets, f"proxy_{v.family}")} for d, v in cmp.studies]
    parts = [
        f"<h1>Compare: {esc(', '.join(names))}</h1>",
        '<p class="note">TTFT is each study\'s own measurement on its own device. Accuracy is '
        "a calibrated proxy, not a benchmark score.</p>",
        _table(overview),
        '<div id="chart"></div>',
        _one_for_all(cmp.one),
        f"<h2>On every front: {len(cmp.common)} configuration(s)</h2>",
        _table(cmp.on_every_front()) if cmp.common else "",
        "<h2>The same configuration in each study</h2>",
        f'<p class="note">{esc(cmp.shared_note())}</p>',
        _table(cmp.shared) if cmp.shared else "",
        _footer(sources),
    ]
    return _document(f"Compare: {', '.join(names)}", parts,
                     compare_figure(cmp).to_plotly_json(), {"displaylogo": False})


def _one_for_all(one: dict) -> str:
    if one["choice"] is None:
        return f'<p class="warn">No one configuration for all: {html.escape(one["reason"])}.</p>'
    return (f'<p class="rec"><b>One configuration for all: '
            f'{html.escape(str(one["choice"]["configuration"]))}</b> (the gold star in each '
            f'study)</p>\n<p class="note">{html.escape(one["reason"])}.</p>')


def _footer(sources: list[str]) -> str:
    """This tool's version, the time and the storages (passwords redacted)."""
    from explorer.cli import package_version
    from explorer.storage import redact

    where = ", ".join(dict.fromkeys(redact(s) for s in sources))
    return (f'<p class="note">Written by fastvlm-explore {html.escape(package_version())} on '
            f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} from "
            f"{html.escape(where)}.</p>")


def _document(title: str, parts: list[str], figure, config: dict) -> str:
    # "</script>" in a string (a study named so) would end the script early; "<\/" is the
    # same string to JSON
    fig = figure_json(figure).replace("</", "<\\/")
    config = figure_json(config | {"responsive": True})
    from plotly.offline import get_plotlyjs  # the plotly.js the dashboard serves

    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n"
            f"<script>{get_plotlyjs()}</script></head>\n<body>\n" + "\n".join(parts)
            + f'\n<script>const fig = {fig};\nPlotly.newPlot("chart", fig.data, fig.layout, '
            f"{config});</script>\n</body></html>\n")


def _metrics(view: FrontView) -> str:
    hv = view.hypervolume
    rec = view.recommendation.choice
    key = f"proxy_{view.family}"
    items = [f"within budget: <b>{int(view.feasible.sum()):,} of {int(view.shown.sum()):,}</b>",
             f"budgets: <b>{html.escape(budget_text(view.budgets, key))}</b>",
             f"hypervolume: <b>{hv:,.0f}</b>" if hv >= 100 else f"hypervolume: <b>{hv:.3g}</b>",
             f"recommended: <b>{'none' if rec is None else 'trial %d' % rec['number']}</b>"]
    return '<p class="metrics">' + "".join(f"<span>{i}</span>" for i in items) + "</p>"


def _recommendation(view: FrontView) -> str:
    rec = view.recommendation
    if rec.choice is None:
        return f'<p class="warn">No recommendation: {html.escape(rec.reason)}</p>'
    c = rec.choice
    out = (f'<p class="rec"><b>Recommended: trial {c["number"]}</b> — '
           f"{html.escape(str(c['summary']))}</p>\n<ul class=\"note\">"
           + "".join(f"<li>{html.escape(p)}</li>" for p in rec.points) + "</ul>")
    if c.get("unstable"):
        out += ('\n<p class="warn">Its TTFT was timed on a busy machine (unstable): run '
                "<code>fastvlm-explore cache clear --unstable</code> and measure it again before "
                "relying on it.</p>")
    return out


def _ladder(data: StudyData, view: FrontView) -> str:
    steps = budget_ladder(data, view.family, view.budgets, ties=view.recommendation.ties)
    if not steps:
        return ""
    note = html.escape("The recommendation at every TTFT budget where it changes, under the "
                       "other budgets, as `fastvlm-explore recommend --ladder` lists it. ◀ "
                       "marks the step in force under this page's TTFT budget. "
                       + ladder_note(view.recommendation.ties,
                                     data.frame.unmeasured_within(None)))
    return (f'<h2>What a bigger TTFT budget buys</h2>\n<p class="note">{note}</p>\n'
            + _table(ladder_table(steps, view.family, view.budgets.max_ttft_ms)))


def _table(rows: list[dict]) -> str:
    if not rows:
        return '<p class="note">No feasible trial under these budgets.</p>'
    names = list(rows[0])
    cls = {n: ' class="num"' if column_kind(n) else "" for n in names}
    head = "".join(f"<th{cls[n]}>{html.escape(n)}</th>" for n in names)
    body = "\n".join("<tr>" + "".join(f"<td{cls[n]}>{html.escape(show(n, r[n]))}</td>"
                                      for n in names) + "</tr>" for r in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>"
