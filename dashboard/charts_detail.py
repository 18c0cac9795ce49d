"""Plotly figures for one trial and for how the search went (pure: data in, figure out).

    python -c "from dashboard.charts_detail import STAGE_COLOURS; print(STAGE_COLOURS)"
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.records import TrialRecord

from .data import StudyData
from .details import Importances, param_label

STAGE_COLOURS = {"encoder": "#4c78a8", "projector": "#f58518", "prefill": "#54a24b"}


CI_COLOUR = "#888888"  # mid grey: shows on the light and the dark theme


def breakdown_figure(rec: TrialRecord) -> go.Figure:
    """One stacked bar of the encoder / projector / prefill medians (each stage's time in the
    legend too, so a stage too thin to hold its label is still named), and below it the TTFT
    median with its 95% CI as a whisker, on its own row so that it covers no label."""
    t = rec.ttft or {}
    fig = go.Figure()
    for stage, colour in STAGE_COLOURS.items():
        ms = t.get(f"{stage}_ms")
        if ms is None:
            continue
        label = stage + (" (extrapolated)" if stage == "prefill" and t.get("extrapolated") else "")
        fig.add_trace(go.Bar(y=["stages"], x=[ms], orientation="h", name=f"{label} {ms:,.1f} ms",
                             marker_color=colour, text=[f"{ms:,.1f} ms"], textposition="inside",
                             insidetextanchor="middle",
                             hovertemplate=f"{label}: %{{x:,.1f}} ms<extra></extra>"))
    ci = t.get("ttft_ci_ms")
    if t.get("ttft_ms") is not None and ci:
        fig.add_trace(go.Scatter(
            y=["TTFT, 95% CI"], x=[t["ttft_ms"]], mode="markers",
            name=f"TTFT {t['ttft_ms']:,.1f} ms (95% CI {ci[0]:,.0f}-{ci[1]:,.0f})",
            marker=dict(color=CI_COLOUR, symbol="line-ns-open", size=18, line=dict(width=2)),
            error_x=dict(type="data", symmetric=False, array=[ci[1] - t["ttft_ms"]],
                         arrayminus=[t["ttft_ms"] - ci[0]], color=CI_COLOUR, thickness=2),
            hovertemplate="TTFT %{x:,.1f} ms<extra></extra>"))
    fig.update_layout(barmode="stack", height=240, xaxis_title="ms (median, measured)",
                      yaxis=dict(categoryorder="array",
                                 categoryarray=["TTFT, 95% CI", "stages"]),
                      uniformtext=dict(minsize=10, mode="hide"),  # hide, not shrink, labels
                      margin=dict(l=100, r=20, t=20, b=40),
                      legend=dict(orientation="h", y=-0.4, traceorder="normal"))
    return fig


def roofline_figure(rec: TrialRecord) -> go.Figure:
    """Achieved GFLOP/s of encoder and prefill against the device's measured matmul peak."""
    roof = (rec.ttft or {}).get("roofline") or {}
    stages = [s for s in ("encoder", "prefill") if roof.get(f"{s}_gflops_s") is not None]
    vals = [roof[f"{s}_gflops_s"] for s in stages]
    text = [f"{v:,.0f} GFLOP/s" + (f" ({roof.get(f'{s}_fraction_of_peak', 0):.0%} of peak)"
                                    if roof.get(f"{s}_fraction_of_peak") is not None else "")
            for s, v in zip(stages, vals)]
    fig = go.Figure(go.Bar(x=stages, y=vals, text=text, textposition="outside",
                           marker_color=[STAGE_COLOURS[s] for s in stages], showlegend=False))
    if roof.get("peak_gflops_s"):
        fig.add_hline(y=roof["peak_gflops_s"], line=dict(dash="dash", color=CI_COLOUR),
                      annotation_text=f"measured matmul peak {roof['peak_gflops_s']:,.0f} GFLOP/s")
    fig.update_layout(height=300, yaxis_title="achieved GFLOP/s (analytic FLOPs / median time)",
                      margin=dict(l=60, r=20, t=30, b=40))
    return fig


def history_figure(numbers: np.ndarray, hv: np.ndarray) -> go.Figure:
    fig = go.Figure(go.Scatter(x=numbers, y=hv, mode="lines", line_shape="hv",
                               name="hypervolume", line=dict(color="#d62728")))
    fig.update_layout(height=320, xaxis_title="trial number", margin=dict(l=60, r=20, t=20, b=40),
                      yaxis_title="feasible hypervolume (ms x proxy)")
    return fig


def importance_figure(imp: Importances, title: str) -> go.Figure:
    """Horizontal bars, most important on top, parameters by their readable names."""
    names = list(imp.values)[::-1]
    fig = go.Figure(go.Bar(x=[imp.values[n] for n in names], y=[param_label(n) for n in names],
                           orientation="h", marker_color="#4c78a8",
                           hovertemplate="%{y}: %{x:.2f}<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=80 + 28 * len(names),
                      xaxis_title=imp.axis_title,
                      margin=dict(l=140, r=20, t=50, b=40))
    return fig


def fastest_per_resolution(data: StudyData) -> list[tuple[str, list[int]]]:
    """(LLM, row indices) of the fastest complete trial at each resolution of each LLM, by
    resolution: a real configuration per bar (a median over the other parameters, e.g. two
    encoder widths, would match none)."""
    c, ok = data.cols, data.complete & np.isfinite(data.cols["ttft_ms"])
    out = []
    for llm in sorted(set(c["llm"][ok].tolist())):
        sel = ok & (c["llm"] == llm)
        rows = []
        for r in np.unique(c["resolution"][sel]):
            idx = np.flatnonzero(sel & (c["resolution"] == r))
            rows.append(int(idx[np.argmin(c["ttft_ms"][idx])]))
        out.append((llm, rows))
    return out


def resolution_figure(data: StudyData) -> go.Figure:
    """TTFT vs resolution per LLM (FastVLM paper Figure 5 style): the encoder, projector and
    prefill time of the fastest complete trial at each resolution, stacked; the hover names
    the trial and its configuration."""
    c = data.cols
    groups = fastest_per_resolution(data)
    fig = make_subplots(rows=1, cols=max(len(groups), 1), shared_yaxes=True,
                        subplot_titles=[g[0] for g in groups] or ["no complete trials"])
    for k, (llm, rows) in enumerate(groups, start=1):
        x = [str(int(c["resolution"][i])) for i in rows]
        info = np.array([[int(c["number"][i]), c["summary"][i], c["ttft_ms"][i]] for i in rows],
                        dtype=object)
        for stage, colour in STAGE_COLOURS.items():
            fig.add_trace(go.Bar(
                x=x, y=[c[f"{stage}_ms"][i] for i in rows], name=stage, marker_color=colour,
                showlegend=k == 1, legendgroup=stage, customdata=info,
                hovertemplate=f"{stage} %{{y:,.1f}} ms of %{{customdata[2]:,.1f}} ms<br>"
                              "trial %{customdata[0]}: %{customdata[1]}<extra></extra>"),
                row=1, col=k)
        fig.update_xaxes(title_text="resolution (px)", type="category", row=1, col=k)
    fig.update_layout(barmode="stack", height=380, margin=dict(l=60, r=20, t=40, b=40),
                      yaxis_title="ms (measured), fastest trial per resolution")
    return fig


def parallel_figure(data: StudyData, family: str, shown: np.ndarray) -> go.Figure:
    """Parallel coordinates over the complete trials, coloured by proxy accuracy. TTFT is on
    a log scale labelled in ms; every axis ends at a round value."""
    c, idx = data.cols, np.flatnonzero(shown)
    llms = sorted(set(c["llm"][idx].tolist()))
    first_width = np.array([float(w.split("-")[0]) if w else np.nan for w in c["widths"][idx]])
    ttft = c["ttft_ms"][idx]
    proxy = data.proxy(family)[idx]
    dims = [dict(label="resolution", values=c["resolution"][idx], tickformat="d"),
            dict(label="visual tokens", values=c["visual_tokens"][idx], tickformat="d"),
            dict(label="first width", values=first_width, tickformat="d"),
            dict(label="attention stages", values=c["attention_stages"][idx], tickformat="d"),
            dict(label="output pool", values=c["output_pool"][idx], tickformat="d"),
            dict(label="LLM", values=[llms.index(v) for v in c["llm"][idx]],
                 tickvals=list(range(len(llms))), ticktext=llms),
            _rounded(dict(label="memory MB", values=c["memory_mb"][idx], tickformat=",.0f"),
                     100.0),
            _log_ms(ttft),
            _rounded(dict(label=f"proxy {family.replace('_', '-')}", values=proxy,
                          tickformat=".2f"), 0.01)]
    dims = [d for d in dims if np.isfinite(np.asarray(d["values"], dtype=float)).any()
            and np.nanstd(np.asarray(d["values"], dtype=float)) > 0]
    fig = go.Figure(go.Parcoords(
        line=dict(color=proxy, colorscale="Viridis", showscale=True,
                  colorbar=dict(title=dict(text="proxy"), tickformat=".2f")),
        dimensions=dims, labelangle=0, labelside="top"))
    # no figure title: it sat on the axis labels; the page's subheader names the chart
    fig.update_layout(height=440, margin=dict(l=70, r=70, t=60, b=40))
    return fig


def _rounded(dim: dict, step: float) -> dict:
    """The axis range widened to multiples of `step` (its end labels are round numbers)."""
    v = np.asarray(dim["values"], dtype=float)
    v = v[np.isfinite(v)]
    if v.size:
        dim["range"] = [float(np.floor(v.min() / step) * step),
                        float(np.ceil(v.max() / step) * step)]
    return dim


def _log_ms(ttft: np.ndarray) -> dict:
    """TTFT on a log10 axis with its ticks labelled in ms (1-2-5 steps)."""
    from .charts import log_ticks

    v = ttft[np.isfinite(ttft) & (ttft > 0)]
    if v.size == 0:
        return dict(label="TTFT ms (log scale)", values=np.log10(np.where(ttft > 0, ttft, np.nan)))
    ticks = log_ticks(v)
    below = [t for t in ticks["tickvals"] if t <= v.min()]
    above = [t for t in ticks["tickvals"] if t >= v.max()]
    lo, hi = (below[-1] if below else v.min()), (above[0] if above else v.max())
    keep = [(t, s) for t, s in zip(ticks["tickvals"], ticks["ticktext"]) if lo <= t <= hi]
    return dict(label="TTFT ms (log scale)", values=np.log10(ttft),
                range=[float(np.log10(lo)), float(np.log10(hi))],
                tickvals=[float(np.log10(t)) for t, _ in keep], ticktext=[s for _, s in keep])
