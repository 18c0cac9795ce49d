"""dashboard: a Streamlit app over the explorer's Optuna storage (reads only; imports no torch).

    fastvlm-explore dashboard [--storage URL] [--port 8501]

`data` and `details` compute (pure), `charts*` draw plotly figures (pure), `cache` keeps the slow
reads in Streamlit's caches, `views/*` lay out one page each, and `app.py` is the Streamlit entry.
"""
