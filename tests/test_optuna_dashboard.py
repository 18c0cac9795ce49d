"""optuna-dashboard, the tool many Optuna users already run, reads our studies as they are:
metric names, directions, every trial's values and attributes, and which trials break a budget."""

import io
import json
import sys
from wsgiref.util import setup_testing_defaults

import optuna
import optuna_dashboard
import pytest

from explorer.spec import load_spec
from explorer.storage import default_storage_url, open_storage
from explorer.study import run_study
from study_fixtures import write_tiny_study

def _get(app, path: str) -> dict:
    """One GET through the dashboard's WSGI app, as its web page would send it."""
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.errors": sys.stderr,
               "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    status = []
    body = b"".join(app(environ, lambda s, headers, exc=None: status.append(s)))
    assert status[0].startswith("200"), (path, status, body[:300])
    return json.loads(body)


def test_optuna_dashboard_reads_names_values_and_budget_violations(tmp_path):
    # a TTFT budget no trial meets, so every trial must be shown infeasible
    spec = load_spec(write_tiny_study(tmp_path, trials=3, max_ttft_ms=0.001))
    url = default_storage_url()
    run_study(spec, open_storage(url), url, show_progress=False)
    ours = optuna.load_study(study_name="tiny", storage=url).trials

    app = optuna_dashboard.wsgi(url)
    listed = _get(app, "/api/studies")["study_summaries"]
    assert [s["study_name"] for s in listed] == ["tiny"]
    detail = _get(app, f"/api/studies/{listed[0]['study_id']}")

    assert detail["objective_names"] == ["ttft_ms", "proxy_text_rich"]
    assert detail["directions"] == ["minimize", "maximize"]
    shown = detail["trials"]
    assert [t["number"] for t in shown] == [t.number for t in ours]
    for t, mine in zip(shown, ours):
        assert t["values"] == pytest.approx(mine.values)
        attrs = {a["key"] for a in t["user_attrs"]}
        assert {"config", "ttft", "proxy", "constraints"} <= attrs
        # the budget, as the dashboard greys infeasible trials: one value per constraint, > 0
        assert t["constraints"] == [pytest.approx(mine.user_attrs["constraints"]["max_ttft_ms"])]
        assert t["constraints"][0] > 0
