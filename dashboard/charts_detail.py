"""Plotly figures for one trial and for how the search went (pure: data in, figure out).

    python -c "from dashboard.charts_detail import STAGE_COLOURS; print(STAGE_COLOURS)"
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.records import TrialRecord

from .data import StudyData, accuracy_label

STAGE_COLOURS = {"encoder": "#4c78a8", "projector": "#f58518", "prefill": "#54a24b"}


def breakdown_figure(rec: TrialRecord) -> go.Figure:
    """One stacked bar: encoder / projector / prefill medians, with the TTFT CI as a whisker."""
    t = rec.ttft or {}
    fig = go.Figure()
    for stage, colour in STAGE_COLOURS.items():
        ms = t.get(f"{stage}_ms")
        if ms is None:
            continue
        label = stage + (" (extrapolated)" if stage == "prefill" and t.get("extrapolated") else "")
        fig.add_trace(go.Bar(y=["TTFT"], x=[ms], orientation="h", name=label,
                             marker_color=colour, text=[f"{ms:,.1f} ms"], textposition="inside",
                             hovertemplate=f"{label}: %{{x:,.1f}} ms<extra></extra>"))
    ci = t.get("ttft_ci_ms")
    if t.get("ttft_ms") is not None and ci:
        fig.add_trace(go.Scatter(
            y=["TTFT"], x=[t["ttft_ms"]], mode="markers", name="TTFT median, 95% CI",
            marker=dict(color="black", symbol="line-ns-open", size=18),
            error_x=dict(type="data", symmetric=False, array=[ci[1] - t["ttft_ms"]],
                         arrayminus=[t["ttft_ms"] - ci[0]])))
    fig.update_layout(barmode="stack", height=200, xaxis_title="ms (median, measured)",
                      margin=dict(l=40, r=20, t=20, b=40), legend=dict(orientation="h", y=-0.5))
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
        fig.add_hline(y=roof["peak_gflops_s"], line=dict(dash="dash", color="black"),
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


def importance_figure(imp: dict[str, float], title: str) -> go.Figure:
    names = list(imp)[::-1]
    fig = go.Figure(go.Bar(x=[imp[n] for n in names], y=names, orientation="h",
                           marker_color="#4c78a8"))
    fig.update_layout(title=title, height=60 + 28 * len(names), xaxis_title="importance",
                      margin=dict(l=120, r=20, t=40, b=40))
    return fig


def resolution_figure(data: StudyData) -> go.Figure:
    """TTFT vs resolution per LLM (FastVLM paper Figure 5 style): median encoder, projector
    and prefill time over the complete trials at each resolution, stacked."""
    c, ok = data.cols, data.complete & np.isfinite(data.cols["ttft_ms"])
    llms = sorted(set(c["llm"][ok].tolist()))
    fig = make_subplots(rows=1, cols=max(len(llms), 1), shared_yaxes=True,
                        subplot_titles=llms or ["no complete trials"])
    for k, llm in enumerate(llms, start=1):
        sel = ok & (c["llm"] == llm)
        res = np.unique(c["resolution"][sel])
        for stage, colour in STAGE_COLOURS.items():
            med = [np.nanmedian(c[f"{stage}_ms"][sel & (c["resolution"] == r)]) for r in res]
            fig.add_trace(go.Bar(x=[str(int(r)) for r in res], y=med, name=stage,
                                 marker_color=colour, showlegend=k == 1, legendgroup=stage,
                                 hovertemplate=f"{llm} @%{{x}} px: {stage} %{{y:,.1f}} ms"
                                 "<extra></extra>"), row=1, col=k)
        fig.update_xaxes(title_text="resolution (px)", type="category", row=1, col=k)
    fig.update_layout(barmode="stack", height=380, yaxis_title="median ms (measured)",
                      margin=dict(l=60, r=20, t=40, b=40))
    return fig


def parallel_figure(data: StudyData, family: str, shown: np.ndarray) -> go.Figure:
    """Parallel coordinates over the complete trials, coloured by proxy accuracy."""
    c, idx = data.cols, np.flatnonzero(shown)
    llms = sorted(set(c["llm"][idx].tolist()))
    first_width = np.array([float(w.split("-")[0]) if w else np.nan for w in c["widths"][idx]])
    dims = [dict(label="resolution", values=c["resolution"][idx]),
            dict(label="visual tokens", values=c["visual_tokens"][idx]),
            dict(label="first width", values=first_width),
            dict(label="attention stages", values=c["attention_stages"][idx]),
            dict(label="output pool", values=c["output_pool"][idx]),
            dict(label="LLM", values=[llms.index(v) for v in c["llm"][idx]],
                 tickvals=list(range(len(llms))), ticktext=llms),
            dict(label="memory MB", values=c["memory_mb"][idx]),
            dict(label="log10 TTFT ms", values=np.log10(c["ttft_ms"][idx])),
            dict(label=f"proxy {family.replace('_', '-')}", values=data.proxy(family)[idx])]
    dims = [d for d in dims if np.isfinite(np.asarray(d["values"], dtype=float)).any()
            and np.nanstd(np.asarray(d["values"], dtype=float)) > 0]
    fig = go.Figure(go.Parcoords(
        line=dict(color=data.proxy(family)[idx], colorscale="Viridis", showscale=True,
                  colorbar=dict(title="proxy")), dimensions=dims))
    fig.update_layout(height=420, margin=dict(l=60, r=60, t=50, b=30),
                      title=accuracy_label(data, family, short=True) + " by configuration")
    return fig
