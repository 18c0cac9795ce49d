"""A throwaway PostgreSQL server for tests (Debian `postgresql` binaries, no system service).

initdb refuses to run as root, so as root the server runs as the `postgres` user the Debian
package creates (via runuser); as anyone else it runs as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or \
        [p for p in [shutil.which(name)] if p]
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: run scripts/setup.sh "
                           "(Debian package `postgresql`)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server():
    """Yield a `postgresql://` URL of a fresh database; stop and delete everything after."""
    root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if root else []
    base = tempfile.mkdtemp(prefix="fvlm-pg-")
    data, sock = os.path.join(base, "data"), os.path.join(base, "sock")
    os.makedirs(sock)
    if root:
        pw = pwd.getpwnam("postgres")
        for path in (base, sock):
            os.chown(path, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    user = "postgres" if root else pwd.getpwuid(os.geteuid()).pw_name

    def run(*cmd):
        subprocess.run(run_as + list(cmd), check=True, capture_output=True, text=True,
                       timeout=120)

    try:
        run(_bin("initdb"), "-D", data, "-U", user, "--auth=trust", "-E", "UTF8")
        run(_bin("pg_ctl"), "-D", data, "-l", os.path.join(base, "log"), "-w", "-o",
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=100", "start")
        for _ in range(50):
            if subprocess.run(run_as + [_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        run(_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, "fvlm")
        yield f"postgresql://{user}@127.0.0.1:{port}/fvlm"
    finally:
        subprocess.run(run_as + [_bin("pg_ctl"), "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
