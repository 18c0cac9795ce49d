"""dashboard: a Streamlit app over the explorer's Optuna storage (reads only; imports no torch).

    fastvlm-explore dashboard [--storage URL] [--port 8501]

`data` and `details` compute (pure), `charts*` draw plotly figures (pure), `cache` wraps the slow
reads in `st.cache_data`, `views/*` lay out one page each, and `app.py` is the Streamlit entry.
"""
