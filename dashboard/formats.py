"""How the front's numbers are shown, by column name: one rule for the dashboard's tables and
the static page (`pareto --html`).

    python -c "from dashboard.formats import column_kind, show; print(show('TTFT ms', 1234.56))"

Milliseconds with one decimal and thousands separators, megabytes whole, proxy values with
three decimals, spreads as percentages.
"""

from __future__ import annotations

import math


def column_kind(name: str) -> str | None:
    """'ms', 'mb', 'proxy', 'share', 'ratio' or None (shown as it is)."""
    if name.endswith(" ms") or name.endswith(" ms)") or " TTFT ms" in name:
        return "ms"
    if "memory MB" in name or name.endswith(" MB"):
        return "mb"
    if name.startswith("proxy") or name == "±":
        return "proxy"
    if "spread" in name:
        return "share"
    if name == "ratio" or name.startswith("ratio"):
        return "ratio"
    return None


def show(name: str, value) -> str:
    """`value` of column `name` as text: '' for missing, 'yes'/'' for flags."""
    if value is None or isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    kind = column_kind(name)
    if not isinstance(value, (int, float)) or kind is None:
        return str(value)
    return {"ms": f"{value:,.1f}", "mb": f"{value:,.0f}", "proxy": f"{value:.3f}",
            "share": f"{value:.1%}", "ratio": f"{value:.2f}x"}[kind]
