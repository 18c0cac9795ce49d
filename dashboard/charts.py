"""Plotly figures of the Pareto view and the study comparison (pure: data in, figure out).

    python -c "from dashboard.charts import LLM_SYMBOLS; print(LLM_SYMBOLS)"

The Pareto scatter: TTFT on a log axis against proxy accuracy; colour = resolution, symbol =
LLM, size = visual tokens; trials over budget stay visible in grey; the feasible front is a
step line; published FastVLM reference points are stars. Every marker carries its trial number
in `customdata` (what a click selects) and its whole configuration in the hover text.
"""

from __future__ import annotations

import base64
import json
import os

import numpy as np
import plotly.graph_objects as go

from explorer.results import config_key

from .data import (FAMILIES, Comparison, FrontView, StudyData, accuracy_label, calibration_rmse,
                   ttft_label)

LLM_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x")
PARETO_HEIGHT = 660
# Below the plot (yref "container": a fraction of the figure's fixed height from its bottom):
# the colour bar 140 px up, under the x-axis title, and the legend 85 px up, under the bar.
COLORBAR = dict(title=dict(text="resolution (px)", side="right"), orientation="h",
                x=0.55, xanchor="center", len=0.7, thickness=12, tickangle=0,
                yref="container", y=140 / PARETO_HEIGHT, ypad=0, yanchor="top")
LEGEND_Y = 85 / PARETO_HEIGHT
GREY = "#c4c4c4"
FRONT = "#d62728"
# Points above which the scatter uses WebGL markers (SVG slows down); the browser test lowers it
# to exercise WebGL on a small study.
GL_ABOVE = int(os.environ.get("FASTVLM_DASHBOARD_GL_ABOVE", "2000"))
# plotly.js config for the Pareto chart. plotly draws WebGL at twice the CSS resolution by
# default: 4x the pixels, the largest cost of a page load without a GPU (SwiftShader).
PARETO_CONFIG = {"displaylogo": False, "plotGlPixelRatio": 1}
# Fixed margins with room for what sits outside the plot (below it: tick labels and the axis
# title, a horizontal colour bar, up to three legend rows): when the first draw already has
# them, plotly does not redraw every trace to make room. No colour bar on the right, so a
# narrow window (800 px) keeps most of its width for the plot.
PARETO_MARGIN = dict(l=70, r=30, t=30, b=215)
NEUTRAL = "#8c8c8c"  # legend swatches of the LLM symbols (their markers take the colour scale)
# numpy dtypes that plotly.js reads as typed arrays ({dtype, bdata}); others go as lists
TYPED_ARRAYS = {"f4", "f8", "i1", "u1", "i2", "u2", "i4", "u4"}


def density_scale(points: int) -> float:
    """Marker size factor for a chart of `points` markers: 1 up to 300, then points^-1/4
    (0.43 at 9,000). Full-size markers turn thousands of trials into one blob that hides where
    they lie."""
    return min(1.0, (300 / points) ** 0.25) if points > 0 else 1.0


def token_sizes(tokens: np.ndarray, points: int = 0) -> np.ndarray:
    """Marker size growing with sqrt(visual tokens): 6..22 px on a chart of up to 300 points,
    smaller on denser charts (`density_scale`: 3..9.4 px at 9,000)."""
    hi = 22 * density_scale(points)
    lo = max(3.0, hi * 6 / 22)
    t = np.sqrt(np.nan_to_num(tokens, nan=0.0))
    span = t.max() - t.min() if t.size else 0.0
    return lo + (hi - lo) * ((t - t.min()) / span if span > 0 else np.zeros_like(t))


def hover(data: StudyData, idx: np.ndarray, family: str) -> dict:
    """Trace arguments giving each point its whole configuration and TTFT breakdown on hover:
    `text` is the configuration summary (plus flags), `customdata` the numbers, kept numeric
    so that 10,000 points stay a small payload. customdata[0] is the trial number. `meta`
    holds the points' rows in `hover_table`, so the live chart can send the hover data of a
    study once instead of on every budget change."""
    _, text, custom = hover_table(data, family)
    return dict(text=text[idx], customdata=custom[idx], meta=idx.astype(int).tolist(),
                hovertemplate=(
        "<b>trial %{customdata[0]}</b><br>%{text}<br>TTFT %{x:,.1f} ms = encoder "
        "%{customdata[1]:,.1f} + projector %{customdata[2]:,.1f} + prefill %{customdata[3]:,.1f}"
        f" (n=%{{customdata[4]}})<br>proxy {FAMILIES[family]} %{{y:.3f}} ± "
        "%{customdata[5]:.3f}; memory %{customdata[6]:,.0f} MB; attention stages "
        "%{customdata[7]}"))


def hover_table(data: StudyData, family: str) -> tuple[str, np.ndarray, np.ndarray]:
    """(key, text, customdata) of every row: what `hover` takes its points' hover data from."""
    return (f"{data.name}/{data.n}/{family}/{id(data):x}",
            data.memoised("hover_text", lambda: _hover_text(data)),
            data.memoised(("hover_custom", family), lambda: _hover_custom(data, family)))


def _hover_custom(data: StudyData, family: str) -> np.ndarray:
    """The hover numbers as float32: half the bytes of float64 in the figure JSON (plotly
    sends numpy arrays as typed binary), exact for trial numbers below 2**24 and finer than
    the 0.1 ms / 0.001 the hover shows."""
    c = data.cols
    return np.column_stack([c["number"], c["encoder_ms"], c["projector_ms"], c["prefill_ms"],
                            c["n"], c[f"proxy_{family}_unc"], c["memory_mb"],
                            c["attention_stages"]]).astype(np.float32)


def _hover_text(data: StudyData) -> np.ndarray:
    out = []
    for r in data.frame.rows:
        flags = [f for f, on in (("UNSTABLE", r.get("unstable")),
                                 ("prefill extrapolated", r.get("extrapolated"))) if on]
        ref = f"[{r['reference']}] " if r.get("reference") else ""
        out.append(ref + str(r.get("summary") or "") + (f"<br>{', '.join(flags)}" if flags else ""))
    return np.array(out, dtype=object)


def _suffix(args: dict, extra: str) -> dict:
    return args | {"hovertemplate": args["hovertemplate"] + extra + "<extra></extra>"}


def _scatter_type(n: int) -> str:
    return "scattergl" if n > GL_ABOVE else "scatter"


def _scatter(n: int):
    return go.Scattergl if _scatter_type(n) == "scattergl" else go.Scatter


def pareto_figure(data: StudyData, view: FrontView, selected: int | None = None) -> dict:
    """The Pareto scatter as a plotly figure dict (numpy arrays inside; `figure_json` sends it).

    Built as plain dicts, not graph objects: plotly.py validates every element of every array
    it is given, which cost more than all the rest of a budget-slider rerun on 10,000 trials."""
    fam, c = view.family, data.cols
    # float32 halves what each budget change sends; finer than the 0.1 ms / 0.001 hover shows
    x, y = c["ttft_ms"].astype(np.float32), data.proxy(fam).astype(np.float32)
    llms = sorted(set(c["llm"][view.shown].tolist()))
    symbol = {llm: LLM_SYMBOLS[i % len(LLM_SYMBOLS)] for i, llm in enumerate(llms)}
    sizes = data.memoised("marker_sizes", lambda: token_sizes(
        c["visual_tokens"], int(data.complete.sum())).astype(np.float32))
    kind = _scatter_type(int(view.shown.sum()))
    traces = []
    over_all = view.shown & ~view.feasible
    for llm in llms:
        over = np.flatnonzero(over_all & (c["llm"] == llm))
        if over.size:
            traces.append(dict(
                type=kind, x=x[over], y=y[over], mode="markers",
                name=f"{llm}: over budget ({over.size})",
                **_suffix(hover(data, over, fam), "<br><i>over budget</i>"),
                marker=dict(color=GREY, size=sizes[over], opacity=0.6, symbol=symbol[llm])))
    # one colour scale for every LLM's trace, drawn once. Not a layout.coloraxis: plotly's
    # legend cannot take a colour from one (it warns and draws the LLM symbols black).
    res = c["resolution"][view.shown]
    scale = dict(colorscale="Viridis", cmin=float(res.min()), cmax=float(res.max()),
                 colorbar=COLORBAR)
    first = True
    for llm in llms:
        idx = np.flatnonzero(view.feasible & (c["llm"] == llm))
        if not idx.size:
            continue
        # the legend would take an arbitrary colour of the scale for the symbol: an empty
        # trace in a neutral colour carries the legend entry (a click on it hides the LLM)
        traces.append(dict(type="scatter", x=[None], y=[None], mode="markers",
                           name=f"{llm} ({idx.size})",
                           legendgroup=f"llm:{llm}", hoverinfo="skip",
                           marker=dict(color=NEUTRAL, size=10, symbol=symbol[llm])))
        traces.append(dict(
            type=kind, x=x[idx], y=y[idx], mode="markers", name=f"{llm} ({idx.size})",
            legendgroup=f"llm:{llm}", showlegend=False,
            **_suffix(hover(data, idx, fam), ""),
            marker=dict(color=c["resolution"][idx].astype(np.float32), **scale,
                        showscale=first, size=sizes[idx], symbol=symbol[llm], opacity=0.85,
                        line=dict(width=0.5, color="white"))))
        first = False
    front = view.front
    if front.size:
        traces.append(dict(
            type="scatter", x=x[front], y=y[front], mode="lines", name="feasible front",
            line=dict(color=FRONT, width=2, shape="hv"), hoverinfo="skip"))
    traces += _references(data, view, x, y) + _choices(data, view, selected, x, y)
    shapes, notes = _budget_lines(view)
    tick = log_ticks(x[view.shown])
    layout = dict(
        shapes=shapes, annotations=notes,  # no template: plotly.js's look, as before (*)
        xaxis=dict(type="log", title=dict(text=ttft_label(data)), **tick),
        yaxis=dict(title=dict(text=accuracy_label(data, fam))),
        legend=dict(orientation="h", yref="container", y=LEGEND_Y, yanchor="top", x=0,
                    itemsizing="constant"),  # legend swatches ignore the token sizes
        height=PARETO_HEIGHT, margin=PARETO_MARGIN,
        clickmode="event+select", dragmode="zoom", hovermode="closest",
        # the zoom survives budget changes, not a switch of study or accuracy family
        uirevision=f"{data.name}/{fam}",
        # plotly cannot derive a label colour from colour-axis markers (it warns, draws black)
        hoverlabel=dict(bgcolor="white", bordercolor="#777", font=dict(color="#222")))
    # (*) go.Figure added Streamlit's template, whose only content is a placeholder colourway
    # (#000001...) that st.plotly_chart swaps for the theme's colours; every trace here sets its
    # own colours, so the chart looked like plotly.js's defaults anyway.
    return {"data": traces, "layout": layout}


def _references(data: StudyData, view: FrontView, x: np.ndarray, y: np.ndarray) -> list[dict]:
    """Published FastVLM points: gold stars, grey stars (still named) when over budget."""
    c, out = data.cols, []
    ref = view.shown & (c["reference"] != "")
    for name, sel, colour, line, extra in (
            ("published FastVLM", ref & view.feasible, "gold", "black", ""),
            ("published FastVLM: over budget", ref & ~view.feasible, GREY, "#7f7f7f",
             "<br><i>over budget</i>")):
        idx = np.flatnonzero(sel)
        if idx.size:
            out.append(dict(type="scatter", x=x[idx], y=y[idx], mode="markers+text", name=name,
                            textposition="top center", cliponaxis=False,
                            texttemplate=c["reference"][idx],
                            **_suffix(hover(data, idx, view.family), extra),
                            marker=dict(symbol="star", size=18, color=colour,
                                        line=dict(width=1, color=line))))
    return out


def log_ticks(values: np.ndarray) -> dict:
    """Tick values and labels of a log axis as whole numbers (500, 1,000, 2,000, 5,000): plotly
    labels the minor ticks of a log axis with their first digit only ("5 6 7 8 9 1000 2 3").
    1-2-5 per decade; every digit when the values span less than a decade and a half."""
    v = values[np.isfinite(values) & (values > 0)]
    if v.size == 0:
        return {}
    lo, hi = float(v.min()), float(v.max())
    digits = (1, 2, 3, 5, 7) if hi / lo < 30 else (1, 2, 5)
    if hi / lo < 3:
        digits = tuple(range(1, 10))
    vals = [m * 10.0 ** e for e in range(int(np.floor(np.log10(lo))) - 1,
                                         int(np.ceil(np.log10(hi))) + 2) for m in digits]
    return dict(tickvals=vals, ticktext=[_tick_text(t) for t in vals])


def _tick_text(v: float) -> str:
    return f"{v:,.0f}" if v >= 1 else f"{v:g}"


def _choices(data: StudyData, view: FrontView, selected: int | None, x: np.ndarray,
             y: np.ndarray) -> list[dict]:
    """Rings around the recommended and the selected trial."""
    c, marks = data.cols, []
    if view.recommendation.choice is not None:
        marks.append(("recommended", view.recommendation.choice["number"], "black"))
    if selected is not None and selected in set(c["number"][view.shown].astype(int).tolist()):
        marks.append(("selected", selected, "#1f77b4"))
    out = []
    for name, number, colour in marks:
        i = np.array([data.index_of(number)])
        out.append(dict(
            type="scatter", x=x[i], y=y[i], mode="markers", name=name,
            **_suffix(hover(data, i, view.family), f"<br><b>{name}</b>"),
            marker=dict(symbol="circle-open", size=26, color=colour, line=dict(width=3))))
    return out


def _budget_lines(view: FrontView) -> tuple[list[dict], list[dict]]:
    """Dashed lines at the TTFT and proxy budgets, and their labels (shapes, annotations).
    On a log axis a shape takes data values but an annotation takes log10 of them."""
    b, dash = view.budgets, dict(dash="dash", color="grey")
    shapes, notes = [], []
    if b.max_ttft_ms is not None:
        shapes.append(dict(type="line", xref="x", x0=b.max_ttft_ms, x1=b.max_ttft_ms,
                           yref="y domain", y0=0, y1=1, line=dash))
        notes.append(dict(text="max TTFT", showarrow=False, xref="x",
                          x=float(np.log10(b.max_ttft_ms)), xanchor="right",
                          yref="y domain", y=1, yanchor="top"))
    if b.min_proxy is not None:
        shapes.append(dict(type="line", xref="x domain", x0=0, x1=1, yref="y",
                           y0=b.min_proxy, y1=b.min_proxy, line=dash))
        notes.append(dict(text="min proxy", showarrow=False, xref="x domain", x=1,
                          xanchor="right", yref="y", y=b.min_proxy, yanchor="top"))
    return shapes, notes


def figure_json(fig: dict) -> str:
    """JSON of a figure dict: numeric numpy arrays as plotly.js typed arrays (base64), others
    as lists. A fraction of the size and time of lists of numbers."""
    return json.dumps(fig, default=_encode, separators=(",", ":"))


def _encode(v):
    if isinstance(v, np.ndarray):
        a = np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<"))
        if a.dtype.str == "<i8" and a.size and np.abs(a).max() < 2**31:
            a = a.astype("<i4")  # plotly.js has no 64-bit integer arrays
        if a.dtype.str[1:] not in TYPED_ARRAYS:
            return v.tolist()
        spec = {"dtype": a.dtype.str[1:], "bdata": base64.b64encode(a.tobytes()).decode()}
        return spec | ({"shape": ", ".join(map(str, a.shape))} if a.ndim > 1 else {})
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


STUDY_SYMBOLS = ("circle", "diamond-open", "square", "triangle-up-open", "cross", "x")
STUDY_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def compare_figure(cmp: Comparison) -> go.Figure:
    """Several studies overlaid: all feasible trials, each front a step line, the
    configurations on every front ringed and the one configuration for all starred in gold in
    each study. Each study has its own colour, marker symbol and line dash, so two studies that
    measured the same values still show both."""
    studies, common, chosen = cmp.studies, cmp.common, cmp.starred
    keys = {name: {r["number"]: config_key(r) for r in rows} for name, rows in cmp.fronts.items()}
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
    # 9-px trials, smaller when the studies hold thousands (the fronts keep 10 px, on top)
    size = max(3.0, 9 * density_scale(sum(int(v.feasible.sum()) for _, v in studies)))
    fig = go.Figure()
    for k, (data, view) in enumerate(studies):
        colour = palette[k % len(palette)]
        symbol, dash = STUDY_SYMBOLS[k % len(STUDY_SYMBOLS)], STUDY_DASHES[k % len(STUDY_DASHES)]
        c, fam = data.cols, view.family
        template = (f"<b>{data.name}</b> trial %{{customdata}}<br>%{{text}}<br>TTFT %{{x:,.1f}} "
                    f"ms; proxy {FAMILIES[fam]} %{{y:.3f}}<extra></extra>")
        idx = np.flatnonzero(view.feasible)
        fig.add_trace(_scatter(idx.size)(
            x=c["ttft_ms"][idx], y=data.proxy(fam)[idx], mode="markers", opacity=0.6,
            name=f"{data.name}: trials", customdata=c["number"][idx], legendgroup=data.name,
            text=c["summary"][idx], hovertemplate=template,
            marker=dict(color=colour, size=size, symbol=symbol,
                        line=dict(width=1.5, color=colour))))
        f = view.front
        fig.add_trace(go.Scatter(
            x=c["ttft_ms"][f], y=data.proxy(fam)[f], mode="lines+markers", line_shape="hv",
            name=f"{data.name}: front ({data.device()})", legendgroup=data.name,
            customdata=c["number"][f], text=c["summary"][f], hovertemplate=template,
            line=dict(color=colour, width=2, dash=dash),
            marker=dict(color=colour, size=10, symbol=symbol, line=dict(width=1.5, color=colour))))
        on_all = [i for i in f if keys[data.name].get(int(c["number"][i])) in common]
        if on_all:
            fig.add_trace(go.Scatter(
                x=c["ttft_ms"][on_all], y=data.proxy(fam)[on_all], mode="markers",
                name="on every front" if k == 0 else None, showlegend=k == 0,
                legendgroup="common", hoverinfo="skip",
                marker=dict(symbol="circle-open", size=22, color="#555555", line=dict(width=2))))
        if chosen and data.name in chosen:
            i = data.index_of(chosen[data.name])
            fig.add_trace(go.Scatter(
                x=[c["ttft_ms"][i]], y=[data.proxy(fam)[i]], mode="markers",
                name="one configuration for all", showlegend=k == 0, legendgroup="one",
                hoverinfo="skip",
                marker=dict(symbol="star-open", size=26, color="#d4a017", line=dict(width=2.5))))
    fig.update_layout(xaxis=dict(type="log", title="TTFT (ms, measured on each study's device, "
                                                    "log scale)",
                                 **log_ticks(np.concatenate([d.cols["ttft_ms"][v.feasible]
                                                             for d, v in studies]))),
                      yaxis=dict(title=compare_accuracy_label(studies)),
                      legend=dict(orientation="h", y=-0.2, itemsizing="constant"), height=560,
                      margin=dict(l=60, r=20, t=30, b=40))
    return fig


def compare_accuracy_label(studies: list[tuple[StudyData, FrontView]]) -> str:
    """The y label of several studies: one calibration error when they share it, else each
    study's ('per study')."""
    fam = studies[0][1].family
    labels = {accuracy_label(d, fam) for d, _ in studies}
    if len(labels) == 1:
        return labels.pop()
    errors = []
    for d, _ in studies:
        rmse = calibration_rmse(d, fam)
        errors.append(f"{d.name} " + ("?" if rmse is None else f"±{rmse:.3f}"))
    return (accuracy_label(studies[0][0], fam, short=True) + ", RMSE per study: "
            + ", ".join(errors))
