"""Fuzz: every command, on broken state files and broken settings files, ends with a documented exit code
(0, 1, 2, 3) and never prints a Python traceback.

The state files are a real store made by a short sync against the sandbox, then damaged at random
(bytes flipped, runs of bytes overwritten, truncated at random lengths), plus the named kinds of
`broken_state.BREAKERS`. The settings files are the working settings mutated at random (bytes
deleted, inserted — also bytes that are not UTF-8 —, lines duplicated, dropped or swapped, values
replaced). Both systems are unreachable (a closed port, one attempt), so each command ends quickly
whatever the store holds. Seeded: a failure names its seed, and re-running that seed repeats it.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox
from tests.reliability.broken_state import (
    BREAKERS,
    COMMANDS,
    DOCTOR,
    EXIT_CODES,
    TRACEBACK,
    Runner,
    settings_text,
)
from tests.reliability.harness import Harness

# 24 seeds each, plus the seeds that once found a traceback (a wider search: FUZZ_SEEDS=450 runs 0..449)
_WIDER = os.environ.get("FUZZ_SEEDS")
STATE_SEEDS = range(int(_WIDER)) if _WIDER else [*range(24), 66, 118, 367, 426]
SETTINGS_SEEDS = range(int(_WIDER)) if _WIDER else [*range(24), 84]
COMMANDS_PER_CASE = 2
EVERY_COMMAND = {**COMMANDS, "doctor": DOCTOR}
SCHEDULE_STOP_AFTER = "next run at"  # `schedule` on a usable store: stop it once its first run is done


@pytest.fixture(scope="module")
def real_store(rel_box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a state store after a real sync of a small book (WAL folded into the file)."""
    h = Harness(rel_box, tmp_path_factory.mktemp("fuzz-source"))
    try:
        h.load(people=40)
        h.configure()
        h.setup()
        assert h.run().status == "ok"
    finally:
        rel_box.reset(people=0)
    conn = sqlite3.connect(h.state_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    return h.state_path.read_bytes()


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    r = Runner(tmp_path_factory.mktemp("fuzz-runner"))
    yield r
    r.close()


def damage(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A randomly damaged copy of a state file, and what was done to it."""
    out = bytearray(data)
    how = rng.choice(["flip", "flip", "overwrite", "truncate", "page"])
    if how == "flip":
        spots = sorted(rng.randrange(len(out)) for _ in range(rng.randint(1, 40)))
        for i in spots:
            out[i] ^= 1 << rng.randrange(8)
        return bytes(out), f"{len(spots)} bits flipped at {spots[:5]}..."
    if how == "overwrite":
        start = rng.randrange(len(out))
        length = rng.randint(1, 512)
        out[start:start + length] = rng.randbytes(min(length, len(out) - start))
        return bytes(out), f"{length} random bytes at {start}"
    if how == "page":  # one whole page (4 KiB) wiped: a table's or an index's
        page = rng.randrange(max(1, len(out) // 4096))
        out[page * 4096:(page + 1) * 4096] = b"\0" * 4096
        return bytes(out), f"page {page + 1} zeroed"
    cut = rng.choice([rng.randrange(100), rng.randrange(len(out))])
    return bytes(out[:cut]), f"truncated to {cut} bytes"


def mutate(text: str, rng: random.Random) -> tuple[bytes, str]:
    """A randomly broken copy of a settings file, and what was done to it."""
    data = bytearray(text.encode("utf-8"))
    lines = text.splitlines(keepends=True)
    done = []
    for _ in range(rng.randint(1, 3)):
        how = rng.choice(["delete", "insert", "bad byte", "duplicate line", "drop line", "swap lines",
                          "replace value"])
        if how == "delete" and data:
            i = rng.randrange(len(data))
            del data[i:i + rng.randint(1, 8)]
        elif how == "insert":
            data[rng.randrange(len(data) + 1):0] = rng.choice(
                [b"[", b"]", b"'", b'"', b"=", b"\n", b"\0", b"\\", b"[[x]]\n", b"\xe2\x80\xae", b" = 1\n"])
        elif how == "bad byte":
            data[rng.randrange(len(data) + 1):0] = bytes([rng.choice([0x80, 0xc3, 0xe9, 0xff, 0xfe])])
        else:
            lines = data.decode("utf-8", errors="surrogateescape").splitlines(keepends=True)
            if how == "duplicate line" and lines:
                i = rng.randrange(len(lines))
                lines.insert(i, lines[i])
            elif how == "drop line" and lines:
                del lines[rng.randrange(len(lines))]
            elif how == "swap lines" and len(lines) > 1:
                i, j = rng.sample(range(len(lines)), 2)
                lines[i], lines[j] = lines[j], lines[i]
            elif how == "replace value" and lines:
                i = rng.randrange(len(lines))
                if "=" in lines[i]:
                    key = lines[i].split("=", 1)[0]
                    value = rng.choice(["-1", "1e999", "true", "''", "'http://x'", "[1, 2]", "{a = 1}",
                                        "'sqlite://'", "'postgres://nobody@127.0.0.1:9/x'", "'../'",
                                        "'\\u0000'", "9999999999999999999999"])
                    lines[i] = f"{key}= {value}\n"
            data = bytearray("".join(lines).encode("utf-8", errors="surrogateescape"))
        done.append(how)
    return bytes(data), ", ".join(done)


def drive(runner: Runner, folder: Path, argv: list[str]) -> tuple[int, str]:
    """Run one command in `folder`; `schedule` is stopped with SIGTERM once its first run is over."""
    runner.n += 1
    out, err = folder / f"{runner.n}.out", folder / f"{runner.n}.err"
    proc = runner.server.spawn(argv, cwd=folder, stdout=out, stderr=err)
    if argv[0] == "schedule":
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if err.exists() and SCHEDULE_STOP_AFTER in err.read_text(errors="replace"):
                os.kill(proc.pid, signal.SIGTERM)
                break
            time.sleep(0.05)
    code = proc.wait(120)
    return code, out.read_text(errors="replace") + err.read_text(errors="replace")


def check(runner: Runner, folder: Path, case: str, commands: list[str]) -> None:
    for name in commands:
        argv = [*EVERY_COMMAND[name], "--config", "settings.toml"]
        code, output = drive(runner, folder, argv)
        where = f"{case}; leadsync {' '.join(argv)} in {folder}"
        assert TRACEBACK not in output, f"{where}\n{output[-4000:]}"
        assert code in EXIT_CODES, f"{where}: exit {code}\n{output[-2000:]}"


def _case_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("seed", STATE_SEEDS)
def test_commands_on_a_damaged_state_file(runner: Runner, real_store: bytes, tmp_path: Path,
                                          seed: int) -> None:
    rng = random.Random(seed)
    folder = _case_folder(tmp_path)
    data, how = damage(real_store, rng)
    (folder / "state.db").write_bytes(data)
    (folder / "settings.toml").write_text(settings_text("sqlite:///state.db"), encoding="utf-8")
    (folder / "settings.toml").chmod(0o600)
    commands = rng.sample(sorted(EVERY_COMMAND), COMMANDS_PER_CASE)
    for name in commands:  # each command gets the damaged file as it was made
        (folder / "state.db").write_bytes(data)
        for leftover in ("state.db-wal", "state.db-shm"):
            (folder / leftover).unlink(missing_ok=True)
        check(runner, folder, f"seed {seed}: state file {how}", [name])


@pytest.mark.parametrize("kind", sorted(BREAKERS))
def test_every_command_on_each_kind_of_broken_state_file(runner: Runner, tmp_path: Path, kind: str) -> None:
    folder = _case_folder(tmp_path)
    (folder / "settings.toml").write_text(settings_text("sqlite:///state.db"), encoding="utf-8")
    (folder / "settings.toml").chmod(0o600)
    for name in sorted(EVERY_COMMAND):
        for leftover in ("state.db", "state.db-wal", "state.db-shm"):
            (folder / leftover).unlink(missing_ok=True)
        BREAKERS[kind].make(folder / "state.db")
        check(runner, folder, f"state file {kind}", [name])


@pytest.mark.parametrize("seed", SETTINGS_SEEDS)
def test_commands_on_a_mutated_settings_file(runner: Runner, real_store: bytes, tmp_path: Path,
                                             seed: int) -> None:
    rng = random.Random(1_000 + seed)
    folder = _case_folder(tmp_path)
    data, how = mutate(settings_text("sqlite:///state.db"), rng)
    (folder / "settings.toml").write_bytes(data)
    (folder / "settings.toml").chmod(0o600)
    for name in rng.sample(sorted(EVERY_COMMAND), COMMANDS_PER_CASE):
        (folder / "state.db").write_bytes(real_store)
        check(runner, folder, f"seed {seed}: settings {how}: {data!r}", [name])
    shutil.rmtree(folder, ignore_errors=True)
