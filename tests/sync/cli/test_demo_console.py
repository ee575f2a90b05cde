"""`leadsync demo --console`: the demo ends with the admin console serving its data on 127.0.0.1 and a
printed single-use sign-in URL; Ctrl-C stops it (a subprocess of the real CLI, fetched over HTTP)."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

URL = re.compile(r"sign in \(once\) at (http://127\.0\.0\.1:(\d+)/login\?token=[A-Za-z0-9_-]+)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_demo_console_serves_the_demo_data_behind_a_one_time_link(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    with open(tmp_path / "stderr", "w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "sync.cli.main", "demo", "--people", "40", "--workdir",
                                 str(tmp_path / "demo"), "--console", "--console-port", str(port)],
                                stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        try:
            assert proc.stdout is not None
            lines: list[str] = []
            deadline = time.monotonic() + 300
            url = None
            while url is None and time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                found = URL.search(line)
                url = found.group(1) if found else None
            assert url is not None, "".join(lines)[-3000:] + Path(err.name).read_text()[-3000:]
            assert f":{port}/login?token=" in url and "7. admin console" in "".join(lines)
            # the demo's own state store says how many people it decided
            with sqlite3.connect(tmp_path / "demo" / "leadsync.db") as db:
                (people,) = db.execute("select count(*) from assignments").fetchone()
            assert people > 0
            page = _get_when_up(url)
            assert page.status_code == 200 and str(page.url).endswith(f":{port}/")
            assert f"{people:,} people in the store" in page.text
            again = httpx.get(url)  # the link is used up
            assert again.status_code == 401
            proc.send_signal(signal.SIGINT)  # Ctrl-C
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _get_when_up(url: str) -> httpx.Response:
    """The URL, followed to the overview (the URL is printed just before the server listens)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with httpx.Client(follow_redirects=True) as client:
                return client.get(url)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
