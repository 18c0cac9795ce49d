"""Streamlit entry: pick a study and a page; the pages live in dashboard/views/.

    fastvlm-explore dashboard --storage sqlite:///results/fastvlm-explorer.db
    streamlit run dashboard/app.py --server.enableStaticServing true -- --storage URL [--study NAME]

The storage comes from `--storage` (after `--`; several: a results file per machine, picked in
the sidebar and overlaid on the Compare page), else $FASTVLM_DASHBOARD_STORAGE, else the
explorer's default SQLite file. Any error reading it is a message in the page, not a traceback.
Static serving lets the Pareto chart update in place (dashboard/live_chart.py); without it the
chart still works, redrawn from scratch on every change.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

try:
    import dashboard  # noqa: F401
except ModuleNotFoundError:  # `streamlit run dashboard/app.py` from a checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.sidebar import Context, sidebar  # noqa: E402
from dashboard.views import compare, pareto, search, trial  # noqa: E402

PAGES = {"Pareto front": pareto.render, "Trial": trial.render, "Search": search.render,
         "Compare studies": compare.render}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dashboard/app.py", add_help=False)
    p.add_argument("--storage", action="append")
    p.add_argument("--study", default=os.environ.get("FASTVLM_DASHBOARD_STUDY"))
    args, _ = p.parse_known_args(argv)
    from explorer.storage import default_storage_url, storage_url

    given = args.storage or [os.environ.get("FASTVLM_DASHBOARD_STORAGE")]
    # resolved once, so a storage has one key in the caches and one entry in the pickers
    args.storage = list(dict.fromkeys(storage_url(u or default_storage_url()) for u in given))
    return args


def main() -> None:
    st.set_page_config(page_title="FastVLM explorer", page_icon="⏱️", layout="wide")
    args = parse_args(sys.argv[1:])
    ctx: Context | None = sidebar(args.storage, args.study, list(PAGES))
    if ctx is not None:
        PAGES[ctx.page](ctx)


main()
