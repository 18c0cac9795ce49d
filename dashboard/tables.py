"""How the dashboard's tables show their numbers (st.column_config by column name).

    python -c "from dashboard.tables import column_formats; print(column_formats(['TTFT ms']))"

The formats of `dashboard.formats` (one decimal for milliseconds, whole megabytes, three
decimals for proxy values, spreads as percentages); the numbers stay numbers, so columns sort.
"""

from __future__ import annotations

import streamlit as st

from .formats import column_kind


def column_formats(names) -> dict:
    """`column_config` for the numeric columns among `names` (others are left as they are)."""
    out = {}
    for name in names:
        kind = column_kind(name)
        if kind == "ms":
            out[name] = st.column_config.NumberColumn(name, format="localized", step=0.1)
        elif kind == "mb":
            out[name] = st.column_config.NumberColumn(name, format="localized", step=1)
        elif kind == "proxy":
            out[name] = st.column_config.NumberColumn(name, format="%.3f")
        elif kind == "share":
            out[name] = st.column_config.NumberColumn(name, format="percent", step=0.001)
        elif kind == "ratio":
            out[name] = st.column_config.NumberColumn(name, format="%.2fx")
    return out


def table(rows: list[dict], key: str | None = None, all_rows: bool = False) -> None:
    """`st.dataframe` of `rows` with `column_formats`; `all_rows`: tall enough for every row
    (no inner scroll bar)."""
    if not rows:
        return
    names = list(rows[0])
    height = 38 + 35 * len(rows) if all_rows else "auto"
    st.dataframe(rows, hide_index=True, width="stretch", height=height, key=key,
                 column_config=column_formats(names))
