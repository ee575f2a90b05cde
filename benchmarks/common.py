"""Shared pieces of the benchmarks: machine facts, child processes with their own peak memory, the
sandbox with server-side instrumentation, settings files, and table / JSON output.

Benchmarks run the sync as a child process (`leadsync sync --json ...`) while the emulators serve from
the benchmark's own process, so the child's peak resident set size is the sync's alone and the
benchmark process's CPU time during a run is what the emulators spent answering it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sandbox.settings_toml import dumps_toml  # noqa: E402

BIN = Path(sys.executable).parent
LEADSYNC = BIN / "leadsync"
MIB = 1024 * 1024


# --------------------------------------------------------------------------- machine


def machine_facts() -> dict[str, Any]:
    """What a results table needs to be comparable: date, CPUs, memory, Python, load, commit."""
    mem = psutil.virtual_memory()
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_total_gib": round(mem.total / 1024**3, 1),
        "memory_available_gib": round(mem.available / 1024**3, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "commit": commit,
    }


def self_rss_mib() -> float:
    """This process's current resident set size (the emulators' memory, in the benchmarks)."""
    return round(psutil.Process().memory_info().rss / MIB, 1)


def self_peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- child processes


@dataclass(frozen=True)
class ChildRun:
    """One finished child process: exit code, output, wall time, its own peak RSS and CPU time."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    wall_seconds: float
    peak_rss_mib: float  # the child's own peak RSS (VmHWM after exec; see _HighWater), not the parent's
    cpu_seconds: float  # user + system CPU of the child
    emulator_cpu_seconds: float  # CPU this (the emulators') process spent while the child ran

    def json(self) -> dict[str, Any]:
        """The child's stdout as JSON (the last line that parses), or a clear error."""
        for line in reversed(self.stdout.strip().splitlines()):
            if line.startswith("{"):
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict):
                    return value
        raise RuntimeError(f"{' '.join(self.args[:3])}... printed no JSON (exit {self.returncode}); "
                           f"stderr: {self.stderr[-2000:]}")


def run_child(args: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
              timeout: float | None = None, pass_stderr: bool = False) -> ChildRun:
    """Run `args` to completion and measure it. Output goes through files (no pipe can fill up) and
    the child is reaped with os.wait4, whose rusage belongs to that child only. `pass_stderr`: the
    child's stderr goes to ours (progress lines) instead of being kept."""
    workdir = Path(cwd or ROOT)
    out_path = workdir / f".child-{os.getpid()}-{time.monotonic_ns()}"
    full_env = {**os.environ, **(env or {})}
    cpu0, wall0 = self_cpu_seconds(), time.perf_counter()
    with open(f"{out_path}.out", "w+b") as out, open(f"{out_path}.err", "w+b") as err:
        proc = subprocess.Popen(list(args), cwd=str(workdir), stdout=out, stderr=None if pass_stderr else err,
                                env=full_env)
        killer = None
        if timeout is not None:
            killer = threading.Timer(timeout, proc.kill)
            killer.start()
        hwm = _HighWater(proc.pid)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            hwm.stop()
            if killer is not None:
                killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen consistent
        wall, cpu = time.perf_counter() - wall0, self_cpu_seconds() - cpu0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    for suffix in (".out", ".err"):
        Path(f"{out_path}{suffix}").unlink(missing_ok=True)
    return ChildRun(tuple(args), proc.returncode, stdout, stderr, wall, round(hwm.kib / 1024, 1),
                    usage.ru_utime + usage.ru_stime, cpu)


class _HighWater:
    """The child's own peak RSS: VmHWM of /proc/<pid>/status, read every 50 ms while it runs (the
    last read is within 50 ms of the end; VmHWM only grows).

    Not ru_maxrss: Linux folds the memory map the child had before exec -- a copy of this process,
    which holds the emulators -- into the child's ru_maxrss (exec_mmap's setmax_mm_hiwater_rss), so
    ru_maxrss of a child started from a big parent is at least the parent's RSS. Measured that way the
    sync "grew" with the emulators' book, not with its own work."""

    def __init__(self, pid: int) -> None:
        self.kib = 0
        self._path = Path(f"/proc/{pid}/status")
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.is_set():
            try:
                for line in self._path.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.kib = max(self.kib, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            self._done.wait(0.05)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def leadsync(*args: str, config: Path, timeout: float | None = None, profile: Path | None = None) -> ChildRun:
    """`leadsync <args> --config <config>` as a child process; with `profile`, under cProfile (stats
    written there; read them with `python -m pstats`)."""
    head = ([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "sync.cli.main"] if profile
            else [str(LEADSYNC)])
    return run_child([*head, *args, "--config", str(config)], cwd=config.parent, timeout=timeout)


# --------------------------------------------------------------------------- settings


def write_settings(path: Path, sections: Mapping[str, Mapping[str, Any]]) -> Path:
    """A settings.toml readable by the owner only (leadsync warns about anything looser)."""
    text = "# written by leadsync benchmarks\n" + dumps_toml({k: dict(v) for k, v in sections.items()})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def merge_sections(base: Mapping[str, Mapping[str, Any]],
                   extra: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {k: dict(v) for k, v in base.items()}
    for section, values in extra.items():
        out.setdefault(section, {}).update(values)
    return out


# --------------------------------------------------------------------------- server-side counting

_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)


def soql_object(text: str) -> str:
    """The top-level object of a SOQL query (subqueries in parentheses are skipped)."""
    depth, flat = 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            flat.append(ch)
    match = _FROM.search("".join(flat))
    return match.group(1) if match else "?"


@dataclass
class ServerTally:
    """Requests the emulators received, counted on the server side of the sandbox in this process:
    calls per endpoint (with retries), Salesforce queries per top-level object, HubSpot 429s sent by the
    rate limiter, and the times of calls per endpoint."""

    calls: Counter[str] = field(default_factory=Counter)
    soql_by_object: Counter[str] = field(default_factory=Counter)  # first pages (query / queryAll)
    soql_more_by_object: Counter[str] = field(default_factory=Counter)  # further pages (queryMore)
    refused: Counter[str] = field(default_factory=Counter)  # HubSpot limiter refusals by policy
    times: dict[str, list[float]] = field(default_factory=dict)
    accepted: list[float] = field(default_factory=list)  # HubSpot non-search requests the limiter let in
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.soql_by_object.clear()
            self.soql_more_by_object.clear()
            self.refused.clear()
            self.times.clear()
            self.accepted.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": dict(sorted(self.calls.items())),
                    "soql_by_object": dict(sorted(self.soql_by_object.items())),
                    "soql_more_by_object": dict(sorted(self.soql_more_by_object.items())),
                    "refused_429": dict(sorted(self.refused.items()))}

    def first_last(self, endpoint: str) -> tuple[float, float] | None:
        with self._lock:
            stamps = self.times.get(endpoint)
            return (stamps[0], stamps[-1]) if stamps else None


def instrument(salesforce: Any, hubspot: Any) -> ServerTally:
    """Count what both emulators receive (wrapping their call logs, query compiler and rate limiter on
    these instances only; the emulators' own behaviour is unchanged)."""
    tally = ServerTally()

    def wrap_hit(log: Any) -> None:
        original = log.hit

        def hit(endpoint: str) -> None:
            now = time.perf_counter()
            with tally._lock:
                tally.calls[endpoint] += 1
                tally.times.setdefault(endpoint, []).append(now)
            original(endpoint)

        log.hit = hit

    wrap_hit(salesforce.calls)
    wrap_hit(hubspot.calls)

    engine = salesforce.engine
    compile_query = engine.compile

    def counted_compile(text: str, today: Any) -> Any:
        with tally._lock:
            tally.soql_by_object[soql_object(text)] += 1
        return compile_query(text, today)

    engine.compile = counted_compile

    cursors = salesforce.cursors
    get_cursor = cursors.get

    def counted_get(locator: str) -> Any:
        cursor = get_cursor(locator)
        if cursor is not None:
            with tally._lock:
                tally.soql_more_by_object[cursor.compiled.obj.name] += 1
        return cursor

    cursors.get = counted_get

    limiter = hubspot.limiter
    check = limiter.check

    def counted_check(token: str, *, search: bool) -> Any:
        decision = check(token, search=search)
        with tally._lock:
            if not decision.allowed:
                tally.refused[decision.policy or "?"] += 1
            elif not search:
                tally.accepted.append(time.perf_counter())
        return decision

    limiter.check = counted_check
    return tally


# --------------------------------------------------------------------------- output


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain-text table (stdout), numbers right-aligned."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    numeric = [all(isinstance(row[i], int | float) and not isinstance(row[i], bool) or row[i] is None
                   for row in rows) if rows else False for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric,
                                                                                strict=True)).rstrip()

    print(f"\n{title}")
    print(line(list(header)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))


def print_machine(facts: Mapping[str, Any]) -> None:
    print(f"machine: {facts['nproc']} CPUs ({facts['cpu_model'] or 'unknown model'}), "
          f"{facts['memory_total_gib']} GiB RAM ({facts['memory_available_gib']} available), "
          f"Python {facts['python']}, load {facts['load_average_1m']}, commit {facts['commit']}, "
          f"{facts['date']}")


def emit(result: Mapping[str, Any], as_json: bool, render: Callable[[Mapping[str, Any]], None]) -> None:
    """`--json`: one JSON object on stdout; otherwise the benchmark's tables."""
    if as_json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    else:
        render(result)


def progress(message: str) -> None:
    """Progress goes to stderr so that `--json` output stays one clean line."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def phase(name: str, timings: dict[str, float]) -> Iterator[None]:
    started = time.perf_counter()
    progress(f"{name} ...")
    try:
        yield
    finally:
        timings[name] = round(time.perf_counter() - started, 2)
        progress(f"{name}: {timings[name]:.1f} s")
