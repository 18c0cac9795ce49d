"""`fastvlm-explore dashboard`: serve the Streamlit dashboard over a study storage."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from pathlib import Path

from ._options import add_storage_arg

EXAMPLES = """examples:
  fastvlm-explore dashboard                      # the default SQLite file, http://127.0.0.1:8501
  fastvlm-explore dashboard --study quick --port 8600
  fastvlm-explore dashboard --storage postgresql://me@db/fastvlm --host 0.0.0.0
  # each machine's `make sweep` results side by side (sidebar: Results; page: Compare studies)
  fastvlm-explore dashboard --storage laptop.db --storage jetson.db

Binds to 127.0.0.1 unless --host says otherwise. The dashboard only reads the storage."""


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {text!r} is invalid; valid: 1..65535")
    return value


def register(sub) -> None:
    p = sub.add_parser("dashboard", help="serve the interactive Pareto dashboard (Streamlit)",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_storage_arg(p, several="give it again for more results files, e.g. one per "
                               "machine, to compare them")
    p.add_argument("--study", help="study to open first (default: the first by name, in the "
                                   "first storage)")
    p.add_argument("--host", default="127.0.0.1", metavar="ADDR",
                   help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=8501, metavar="N", help="port (default 8501)")
    p.set_defaults(func=run)


def app_path() -> Path:
    import dashboard

    return Path(dashboard.__file__).resolve().parent / "app.py"


def streamlit_command(urls: list[str], host: str, port_: int,
                      study: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_path()),
           "--server.address", host, "--server.port", str(port_), "--server.headless", "true",
           "--browser.gatherUsageStats", "false",
           # a viewer's toolbar: no "Deploy" to Streamlit's cloud, no developer menu items
           "--client.toolbarMode", "viewer",
           # serves dashboard/static/plotly.min.js to the in-place Pareto chart (live_chart.py)
           "--server.enableStaticServing", "true", "--"]
    cmd += [arg for url in urls for arg in ("--storage", url)]
    return cmd + (["--study", study] if study else [])


def check_port(host: str, port_: int) -> None:
    """A one-line error now, not Streamlit's after its start-up, when the port is taken or the
    host is not an address of this machine. (The port is free again when Streamlit binds it.)"""
    from explorer.errors import UsageError

    try:
        _bind(host, port_)
    except socket.gaierror:
        raise UsageError(f"--host {host!r} is not a known address; e.g. 127.0.0.1 (this "
                         "machine only) or 0.0.0.0 (every interface)") from None
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port_} on {host} is in use (another dashboard?); pick "
                             f"a free one, e.g. --port {free_port(host, port_)}") from None
        if e.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"--host {host} is not an address of this machine; e.g. "
                             "127.0.0.1 (this machine only) or 0.0.0.0 (every "
                             "interface)") from None
        raise UsageError(f"cannot listen on {host}:{port_}: {e.strerror or e}") from None


def free_port(host: str, after: int) -> int:
    """The first port above `after` that `host` can bind (for the error's suggestion)."""
    for candidate in range(after + 1, min(after + 100, 65535) + 1):
        try:
            _bind(host, candidate)
            return candidate
        except OSError:
            continue
    return 0  # nothing near: let the system pick


def _bind(host: str, port_: int) -> None:
    """Bind and release `host:port_` as Streamlit will bind it (SO_REUSEADDR); OSError if not."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port_))


def run(args) -> int:
    from explorer.storage import default_storage_url, load_study, open_storage, redact

    urls = list(dict.fromkeys(args.storage or [default_storage_url()]))
    storages = [open_storage(url, create=False) for url in urls]  # unreachable: one line, exit 1
    if args.study:
        load_study(args.study, storages[0])  # unknown: one line listing the studies, exit 2
    check_port(args.host, args.port)
    from dashboard.live_chart import ensure_plotly_js

    ensure_plotly_js()  # before the server starts; the app falls back when it cannot
    print(f"dashboard on http://{args.host}:{args.port} reading "
          f"{', '.join(redact(url) for url in urls)} (Ctrl-C stops)", file=sys.stderr)
    sys.stderr.flush()
    cmd = streamlit_command(urls, args.host, args.port, args.study)
    # this process becomes Streamlit: a SIGTERM (a service manager, `kill`) reaches the server
    # itself instead of leaving it running orphaned behind a stopped parent
    os.execv(cmd[0], cmd)
