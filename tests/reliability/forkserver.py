"""Start `leadsync` commands without paying for Python start-up and imports each time.

A helper process imports the command (`sync.cli.main`) once, then forks a child per command; the child
runs `sync.cli.main.main()` — the `leadsync` console script's entry point — with the command's argv, its
own working folder and its own stdout/stderr files, exactly as the script would after its imports.
The crash test starts twenty-odd runs to kill them: with the imports paid once, its kills land in
the run itself rather than in the interpreter's start-up (which the trials that use the real
executable cover).

Protocol over the helper's stdin/stdout, one JSON object a line: the helper says {"ready": true};
the test sends {"argv": [...], "cwd": ..., "stdout": path, "stderr": path}; the helper answers
{"pid": N} once the child runs and {"exit": code} when it has reaped it (negative: killed by that
signal). One child at a time.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

HELPER = r"""
import json, os, sys, threading, traceback
import sync.cli.main
if threading.active_count() != 1:
    raise SystemExit("fork server: importing sync.cli.main started threads; forking would be unsafe")
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(cmd["cwd"])
            null = os.open(os.devnull, os.O_RDONLY)
            out = os.open(cmd["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            err = os.open(cmd["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            for fd, target in ((null, 0), (out, 1), (err, 2)):
                os.dup2(fd, target)
                os.close(fd)
            sys.argv = ["leadsync", *cmd["argv"]]
            try:
                sync.cli.main.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class ForkServerError(RuntimeError):
    pass


class ForkServer:
    """The helper process. `spawn(...)` gives a `ForkedProcess` (poll / wait / pid, like Popen)."""

    def __init__(self, env: dict[str, str], log_file: Path, timeout: float = 240.0) -> None:
        self.timeout = timeout
        self._log = log_file.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-c", HELPER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, env=env)
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._buffer = b""
        self._expect("ready")

    def _read(self, timeout: float) -> dict[str, Any] | None:
        """The helper's next message, waiting up to `timeout` seconds for it (None: none yet)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([self._fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(self._fd, 4096)
            if not chunk:
                raise ForkServerError(f"fork server exited (code {self.proc.poll()}); see {self._log.name}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _expect(self, key: str) -> Any:
        msg = self._read(self.timeout)
        if msg is None or key not in msg:
            raise ForkServerError(f"fork server: expected {key!r}, got {msg!r}; see {self._log.name}")
        return msg[key]

    def spawn(self, argv: list[str], *, cwd: Path, stdout: Path, stderr: Path) -> ForkedProcess:
        assert self.proc.stdin is not None
        cmd = {"argv": argv, "cwd": str(cwd), "stdout": str(stdout), "stderr": str(stderr)}
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        return ForkedProcess(self, int(self._expect("pid")))

    def close(self) -> None:
        if self.proc.stdin is not None:
            with suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


class ForkedProcess:
    """One command run by the fork server: enough of Popen's interface for the tests."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            msg = self.server._read(0)
            if msg is not None:
                self.returncode = int(msg["exit"])
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout if timeout is not None else self.server.timeout)
        while self.returncode is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(f"leadsync (pid {self.pid})", timeout or 0)
            msg = self.server._read(left)
            if msg is not None:
                self.returncode = int(msg["exit"])
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
