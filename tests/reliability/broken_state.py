"""Broken state stores and settings for the state-trouble tests, and a quick way to run `leadsync` on
them: every command, through the console script's entry point, forked from a helper that imported
leadsync once (`forkserver.py`), with real stdout/stderr files.

Kinds of broken SQLite state file (`BREAKERS`): empty (0 bytes), junk (not a database), truncated,
corrupted pages, a newer schema, a foreign database with a `runs` table. `read_only(folder)` makes a
folder read-only (a read-only bind mount when running as root, whom permission bits do not stop);
`small_disk(folder)` mounts a tiny tmpfs (root only) for real full-disk errors.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sync.state.store import StateStore
from tests.reliability.forkserver import ForkServer

EXIT_CODES = {0, 1, 2, 3}  # sync/exit_codes.py: the only codes a command may end with
TRACEBACK = "Traceback (most recent call last)"

# Every command, with the arguments it needs; none reaches either system before the state store.
COMMANDS: dict[str, list[str]] = {
    "sync": ["sync"],
    "sync --dry-run": ["sync", "--dry-run"],
    "backfill": ["backfill", "--since", "2020-01-01"],
    "schedule": ["schedule", "--every", "1h"],
    "setup": ["setup"],
    "setup --check": ["setup", "--check"],
    "runs": ["runs"],
    "runs show": ["runs", "show", "1"],
    "failures": ["failures"],
    "failures retry": ["failures", "retry"],
    "report": ["report"],
    "mappings explain": ["mappings", "explain", "someone@example.com"],
}
DOCTOR = ["doctor"]  # does not open the state store; reaches both systems


def settings_text(state_url: str, extra: str = "") -> str:
    """Settings whose systems are unreachable (a closed port) and never retried: only the state store
    decides how a command ends."""
    return (f"[salesforce]\nauth = 'session'\nsession_id = 's'\ninstance_url = 'https://127.0.0.1:9'\n"
            f"login_url = 'https://127.0.0.1:9'\n"
            f"[hubspot]\naccess_token = 't'\nhost = 'https://127.0.0.1:9'\n"
            f"[sync]\nmax_attempts = 1\nmax_backoff_seconds = 0.1\n[state]\nurl = '{state_url}'\n{extra}")


def write_settings(folder: Path, state_url: str, extra: str = "") -> Path:
    path = folder / "settings.toml"
    path.write_text(settings_text(state_url, extra), encoding="utf-8")
    path.chmod(0o600)
    return path


def make_store(path: Path) -> None:
    """A real, small state store: one finished run and one open failure."""
    with StateStore.open(f"sqlite:///{path}") as store:
        run = store.start_run(mapping_version=1)
        store.finish_run(run, status="ok", counts={"people": 1}, api_calls={})
    _checkpoint(path)


def _checkpoint(path: Path) -> None:
    """Move the WAL into the main file and drop -wal/-shm, so the file alone is the store."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()


def _empty(path: Path) -> None:
    make_store(path)
    path.write_bytes(b"")


def _junk(path: Path) -> None:
    path.write_bytes(b"name,email\nAda,ada@example.com\n" * 200)


def _truncated(path: Path) -> None:
    make_store(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _corrupted(path: Path) -> None:
    """Page 1 (the schema) overwritten past the header: the database cannot even list its tables."""
    make_store(path)
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xa5" * (4096 - 100)
    path.write_bytes(bytes(data))


def _newer(path: Path) -> None:
    make_store(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO schema_version (version, description, applied_at) "
                     "VALUES (99, 'from the future', ?)", (datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),))
    conn.close()


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, athlete TEXT, km REAL)")
        conn.execute("INSERT INTO runs (athlete, km) VALUES ('Ada', 10.5)")
    conn.close()


@dataclass(frozen=True)
class Breaker:
    make: Callable[[Path], None]
    words: tuple[str, ...]  # the message must say these (besides the file's path)


BREAKERS: dict[str, Breaker] = {
    "empty": Breaker(_empty, ("empty (0 bytes)", "--reset-state")),
    "junk": Breaker(_junk, ("damaged or not a SQLite database",)),
    "truncated": Breaker(_truncated, ("damaged or not a SQLite database",)),
    "corrupted": Breaker(_corrupted, ("damaged or not a SQLite database",)),
    "newer schema": Breaker(_newer, ("schema version 99", "upgrade leadsync")),
    "foreign runs table": Breaker(_foreign, ("not a leadsync state store", "runs")),
}


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` read-only for this process: a read-only bind mount over it as root (root ignores
    permission bits), else chmod."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
            yield
        finally:
            subprocess.run(["umount", str(folder)], check=True)
        return
    files = [folder, *folder.iterdir()]
    modes = {p: p.stat().st_mode & 0o777 for p in files}
    for p in files:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def can_mount() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("mount") is not None


@contextmanager
def small_disk(folder: Path, size_kb: int) -> Iterator[Path]:
    """A tmpfs of `size_kb` KiB mounted on `folder` (root only): a disk that really fills up."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0700", "tmpfs", str(folder)],
                   check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Fill the file system of `folder` to the last byte; returns the filler file (delete to free)."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def traceback(self) -> bool:
        return TRACEBACK in self.stdout or TRACEBACK in self.stderr


class Runner:
    """Runs `leadsync ARGV` through the fork server; results read back from files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
        env.update({"COLUMNS": "200", "NO_COLOR": "1"})
        self.server = ForkServer(env, folder / "forkserver.log", timeout=120)
        self.n = 0

    def __call__(self, *argv: str, timeout: float = 120) -> Result:
        self.n += 1
        out, err = self.folder / f"{self.n}.out", self.folder / f"{self.n}.err"
        proc = self.server.spawn(list(argv), cwd=self.folder, stdout=out, stderr=err)
        code = proc.wait(timeout)
        return Result(code, out.read_text(errors="replace"), err.read_text(errors="replace"))

    def close(self) -> None:
        self.server.close()


def squeeze(text: str) -> str:
    """Without whitespace: rich may wrap a long message (even inside a path)."""
    return "".join(text.split())
