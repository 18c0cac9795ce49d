"""The Pareto scatter as a chart that updates in place when the budgets move.

    fastvlm-explore dashboard      # serves dashboard/static/plotly.min.js, so the live chart is on

`st.plotly_chart` remounts its chart whenever the figure changes (its identity hashes the
figure): every slider step creates a WebGL context, compiles its shaders, plots twice and loses
the user's zoom (benchmarks/bench_dashboard.py: 0.83 s per step on 2 cores, 2.1x the live
chart's). The `live_chart.js` renderer keeps one plotly <div> across reruns and calls
`Plotly.react`.

It needs app static serving (`--server.enableStaticServing`, which `fastvlm-explore dashboard`
passes) to load plotly.js: the copy shipped with the plotly package, put under dashboard/static/
at first use. Without it, or when the browser cannot load the script, the chart falls back to
`st.plotly_chart` and says why in a caption.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import numpy as np
import plotly
import plotly.graph_objects as go
import streamlit as st

from .charts import figure_json

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"  # Streamlit serves <app dir>/static/ at app/static/
PLOTLY_JS = "plotly.min.js"
FAILED = "live_chart_failed"  # session key: the browser could not load plotly.js
SENT = "live_chart_tables"  # session key: {chart key: key of the hover table the browser holds}
_JS = (HERE / "live_chart.js").read_text()


def _component():
    # registered on every run (8 us), not cached: Streamlit up to 1.64 at least keeps the
    # registry per runtime, where a cached callable fails "not registered" in a new one
    return st.components.v2.component("fastvlm_live_chart", js=_JS, isolate_styles=False)


def ensure_plotly_js(static: Path = STATIC) -> Path | None:
    """dashboard/static/plotly.min.js, copied from the installed plotly package when missing or
    from another plotly version; None when it cannot be written (read-only install)."""
    source = Path(plotly.__file__).resolve().parent / "package_data" / PLOTLY_JS
    target = static / PLOTLY_JS
    try:
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            static.mkdir(exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(source, tmp)
            tmp.replace(target)  # atomic: a concurrent server never serves half a file
        return target
    except OSError:
        return None


def unavailable_reason() -> str | None:
    """Why the live chart cannot be used in this session (None: it can)."""
    if st.session_state.get(FAILED):
        return f"the browser could not load plotly.js ({st.session_state[FAILED]})"
    if not st.get_option("server.enableStaticServing"):
        return "static serving is off (start with `fastvlm-explore dashboard`)"
    if ensure_plotly_js() is None:
        return f"cannot write {STATIC / PLOTLY_JS}"
    return None


def live_chart(fig: dict, key: str, config: dict,
               table: tuple[str, np.ndarray, np.ndarray] | None = None) -> int | None:
    """Draw the figure dict `fig` (`charts.pareto_figure`); return customdata[0] (the trial
    number) of a point clicked in this rerun.

    `table` = (key, text, customdata) of every row (`charts.hover_table`): traces whose `meta`
    lists their rows there are sent without their hover data, which the browser keeps from
    the first render (for 10,000 trials, 1.1 of the 1.4 MB sent on each budget change)."""
    reason = unavailable_reason()
    if reason is not None:
        return _fallback(fig, key, config, reason)
    data = {"config": config | {"responsive": True},
            "src": f"app/static/{PLOTLY_JS}?v={plotly.__version__}"}
    if table is not None:
        sent = st.session_state.setdefault(SENT, {})
        data |= {"table_key": table[0],
                 "table": None if sent.get(key) == table[0] else _table_payload(table)}
        sent[key] = table[0]
        fig = fig | {"data": [_without_hover(t) for t in fig["data"]]}
    result = _component()(
        key=key, data=data | {"figure": figure_json(fig)}, on_clicked_change=lambda: None,
        on_failed_change=lambda: None, on_missing_change=lambda: None)
    if result.failed:
        st.session_state[FAILED] = result.failed
        st.rerun()
    if table is not None and result.missing == table[0]:  # the browser lost it: send again
        st.session_state[SENT].pop(key, None)
        st.rerun()
    return None if result.clicked is None else int(result.clicked)


def _without_hover(trace: dict) -> dict:
    if trace.get("meta") is None:
        return trace
    return {k: v for k, v in trace.items() if k not in ("text", "customdata")}


def _table_payload(table: tuple[str, np.ndarray, np.ndarray]) -> dict:
    _, text, custom = table
    custom = np.ascontiguousarray(custom, dtype="<f4")
    return {"text": text.tolist(), "ncol": int(custom.shape[1]),
            "custom": base64.b64encode(custom.tobytes()).decode("ascii")}


def _fallback(fig: dict, key: str, config: dict, reason: str) -> int | None:
    event = st.plotly_chart(go.Figure(fig), key=key, on_select="rerun", selection_mode="points",
                            config=config)
    st.caption(f"Chart redrawn from scratch on every change: {reason}.")
    try:
        points = event.selection.points if event is not None else []
    except AttributeError:
        return None
    for p in points:
        cd = p.get("customdata")
        if cd is not None:
            return int(cd[0] if isinstance(cd, (list, tuple)) else cd)
    return None
