"""A PostgreSQL server of the test's own, with password authentication, that a test may stop and start
(the session's shared server in conftest.py trusts everyone and must stay up)."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.sync.state.conftest import _free_port, _pg_bin, no_postgres

PASSWORD = "correct-horse-battery"


class OwnPostgres:
    def __init__(self) -> None:
        if importlib.util.find_spec("psycopg") is None:
            no_postgres("no psycopg driver")
        initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not (initdb and self.pg_ctl):
            no_postgres("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.run_as: list[str] = []
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                no_postgres("running as root and there is no 'postgres' user to run the server")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.base = Path(tempfile.mkdtemp(prefix="leadsync-own-pg-"))
        self.data, self.sock = self.base / "data", self.base / "sock"
        self.sock.mkdir()
        pwfile = self.base / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if owner is not None:
            for p in (self.base, self.sock, pwfile):
                os.chown(p, owner.pw_uid, owner.pw_gid)
        self.port = _free_port()
        subprocess.run([*self.run_as, initdb, "-D", str(self.data), "-A", "scram-sha-256", "-U", "leadsync",
                        f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        self.start()

    def url(self, password: str = PASSWORD) -> str:
        return f"postgresql+psycopg://leadsync:{password}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run([*self.run_as, self.pg_ctl, "-D", str(self.data), "-o", opts, "-l",
                        str(self.base / "log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        subprocess.run([*self.run_as, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
