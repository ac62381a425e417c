"""A private PostgreSQL server for the test session (Debian's `postgresql` package; `.ci/run` installs it):
initdb in a temporary folder, listening on 127.0.0.1 on a free port, trust authentication, stopped at the end.
MARSAD_TEST_POSTGRES_URL points the tests at an existing server instead."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MISSING = ("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): `apt-get install postgresql`, "
           "or set MARSAD_TEST_POSTGRES_URL; .ci/run installs it")


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: as root, run them as the package's postgres user.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def server(folder: Path) -> Iterator[str]:
    """A running server's SQLAlchemy URL (database marsad_test)."""
    given = os.environ.get("MARSAD_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bindir = binaries()
    if bindir is None:
        raise FileNotFoundError(MISSING)
    if os.geteuid() == 0:
        # the postgres user must reach the folder: pytest's temporary folders are private to root
        folder = Path(tempfile.mkdtemp(prefix="marsad-test-pg-"))
        folder.chmod(0o755)
    data, sock = folder / "data", folder / "sock"
    data.mkdir(parents=True)
    sock.mkdir()
    if os.geteuid() == 0:
        for p in (folder, data, sock):
            shutil.chown(p, "postgres")
    subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                              "--encoding=UTF8", "--locale=C.UTF-8"]), check=True, capture_output=True)
    port = _free_port()
    log = folder / "postgres.log"
    if os.geteuid() == 0:
        log.touch()
        shutil.chown(log, "postgres")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off -c synchronous_commit=off"
    subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "start"]),
                   check=True, capture_output=True)
    try:
        for _ in range(100):
            ok = subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                                capture_output=True).returncode == 0
            if ok:
                break
            time.sleep(0.1)
        subprocess.run(_as_owner([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                                  "marsad_test"]), check=True, capture_output=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/marsad_test"
    finally:
        subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
