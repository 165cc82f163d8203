"""A throwaway PostgreSQL cluster for the tests (no mock): ``initdb`` into a temporary
directory, ``pg_ctl start`` listening only on a Unix socket in that directory, stopped
(immediate) at the end of the session. Run as root, the cluster runs as the ``postgres``
user (``runuser``): PostgreSQL refuses to run as root.

Tests that need it FAIL when the cluster cannot start (CI must run them); set
``WAICT_SKIP_POSTGRES=1`` to skip them on a machine without PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

SKIP_ENV = "WAICT_SKIP_POSTGRES"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


class Cluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="waict-pg-"))
        self.data = self.dir / "data"
        self.port = 5432 + (os.getpid() % 20000) + 1000
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no postgres user") from None
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.user = "waict"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed: {(done.stderr or done.stdout)[-800:]}"
            )

    def start(self) -> Cluster:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("initdb / pg_ctl not found (install Debian's postgresql package)")
        self.pg_ctl = pg_ctl
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8")
        options = f"-k {self.dir} -c listen_addresses= -p {self.port} -c max_connections=200"
        self._run(
            pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start"
        )
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{dbname}?host={self.dir}&port={self.port}"

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


_cluster: Cluster | None = None
_failure: str | None = None


def cluster() -> Cluster:
    """The session's cluster, started on first use; a test that needs it fails (or skips,
    with WAICT_SKIP_POSTGRES=1) when it cannot start."""
    global _cluster, _failure
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1")
    if _cluster is None and _failure is None:
        try:
            _cluster = Cluster().start()
        except Exception as exc:
            _failure = f"cannot start a PostgreSQL cluster for the tests: {exc}"
    if _cluster is None:
        pytest.fail(_failure or "no PostgreSQL cluster")
    return _cluster


def stop() -> None:
    global _cluster
    if _cluster is not None:
        _cluster.stop()
        _cluster = None
