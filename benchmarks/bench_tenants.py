"""Many tenants on one PostgreSQL (issue 15): 20 tenants of 5,000 people each, their first syncs run one
after another by one worker and then by 4 parallel workers; then every tenant fired twice at once.

    python benchmarks/bench_tenants.py                      # 20 tenants x 5,000 people, 4 workers
    python benchmarks/bench_tenants.py --tenants 4 --people 1000 --workers 2 --json
    python benchmarks/bench_tenants.py --postgres-url postgresql+psycopg://u:p@host/db   # your server

Each tenant is its own Salesforce org and HubSpot portal: a sandbox pair in a process of its own (its
own quota, 190 HubSpot requests / 10 s, and its own CPU time, so no tenant's emulators wait on another's
in one interpreter), loaded with its own book (seed) and dated at the book's `now`. Every tenant's state
is a schema (`leadsync_<name>`) in one PostgreSQL database: the server given, or a private one started
from the machine's binaries (durable: fsync on, unlike the tests' throwaway servers), whose CPU time is
measured. Workers are processes (multiprocessing "spawn") taking tenants off one queue and running
`sync.orchestrators.tenant_run.run_tenant`, the path `leadsync sync --tenant NAME` and the Dagster job
take; each worker's peak RSS is its VmHWM.

Phases: seed the sandboxes; `leadsync setup` per tenant (not timed); (1) alone: one worker runs every
tenant's first sync in turn; reset (schemas dropped, sandboxes reloaded with the same books, setup
again); (2) parallel: the same first syncs on --workers workers; (3) double-fired: each tenant queued
twice in a row, so two workers start the same tenant together: one waits on the tenant's run lock
(`[state] lock_wait_seconds`) and then finds nothing to write. Checks: every run exits 0, each tenant
writes the same in (1) and (2), no run waits on a lock in (1) and (2), and the double-fired runs write
nothing. Issue 15 asks for the figures, with no target: total wall of (2) vs the sum of (1), peak RSS
per worker, lock waits.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import resource
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ROOT,
    emit,
    machine_facts,
    merge_sections,
    phase,
    print_machine,
    print_table,
    progress,
    self_cpu_seconds,
    self_peak_rss_mib,
    write_settings,
)

sys.path.insert(0, str(ROOT))

WRITE_COUNTS = ("records_updated", "list_adds", "list_removes", "tasks_created")  # per system, by writer.py
LOCK_WAIT_SECONDS = 900.0  # a double-fired run waits this long at most for its twin (then exit 3)


# --------------------------------------------------------------------------- a tenant's sandbox process


def _vm_hwm_mib() -> float:
    """This process's own peak RSS (VmHWM: after exec, so nothing of the parent's is counted)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _host(conn: Any, people: int, seed: int, workdir: str) -> None:
    """One tenant's emulator pair, in its own process: sends its settings and `now`, then answers
    "reset" (the same book again) and "stop" (with its CPU seconds and peak RSS)."""
    from sandbox.launcher import Sandbox

    box = Sandbox.start(people=people, seed=seed, workdir=Path(workdir))
    now = box.now
    conn.send({"settings": box.settings_dict("postgresql://set-by-the-benchmark"), "now": now})
    while True:
        command = conn.recv()
        if command == "reset":
            box.reset(people=people, seed=seed, now=now)
            conn.send("ok")
        else:
            box.stop()
            conn.send({"cpu_seconds": self_cpu_seconds(), "peak_rss_mib": _vm_hwm_mib()})
            return


class TenantBox:
    def __init__(self, ctx: Any, name: str, people: int, seed: int, workdir: Path) -> None:
        self.name = name
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_host, args=(child, people, seed, str(workdir)), name=f"box-{name}",
                                   daemon=True)
        self.process.start()
        child.close()
        self.settings: dict[str, dict[str, Any]] = {}
        self.now: datetime | None = None

    def ready(self) -> None:
        hello = self.conn.recv()
        self.settings, self.now = hello["settings"], hello["now"]

    def ask(self, command: str) -> Any:
        self.conn.send(command)
        return self.conn.recv()


# --------------------------------------------------------------------------- workers


def _worker(jobs: Any, results: Any, index: int) -> None:
    """Run tenants off `jobs` ((name, settings path, now) or None to stop) through `run_tenant`."""
    from sync.orchestrators.tenant_run import run_tenant
    from sync.tenants import Tenant

    runs = 0
    while True:
        job = jobs.get()
        if job is None:
            break
        name, path, now = job
        started = time.perf_counter()
        outcome = run_tenant(Tenant(name, Path(path)), now=now)
        wall = time.perf_counter() - started
        meta = outcome.metadata()
        counts = meta["counts"]
        results.put({
            "kind": "run", "worker": index, "tenant": name, "wall_seconds": round(wall, 3),
            "exit_code": outcome.exit_code, "status": outcome.status, "error": meta["error"],
            "lock_wait_seconds": meta["lock_wait_seconds"], "people": meta["people"],
            "writes": sum(int(v) for k, v in counts.items() if k.rpartition(".")[2] in WRITE_COUNTS),
            "api_calls": {k.split(".", 1)[1]: v for k, v in meta.items() if k.startswith("api_calls.")},
            "started": started, "ended": started + wall})
        runs += 1
    results.put({"kind": "worker", "worker": index, "runs": runs, "peak_rss_mib": _vm_hwm_mib(),
                 "cpu_seconds": round(self_cpu_seconds(), 2)})


def run_jobs(ctx: Any, jobs_list: Sequence[tuple[str, str, datetime | None]], workers: int,
             pg: PostgresCpu) -> dict[str, Any]:
    """`jobs_list` on `workers` fresh worker processes: wall time, each run, each worker, PostgreSQL CPU."""
    jobs, results = ctx.Queue(), ctx.Queue()
    for job in jobs_list:
        jobs.put(job)
    for _ in range(workers):
        jobs.put(None)
    pg_before = pg.seconds()
    started = time.perf_counter()
    procs = [ctx.Process(target=_worker, args=(jobs, results, i), name=f"worker-{i}") for i in range(workers)]
    for p in procs:
        p.start()
    runs: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    while len(done) < workers:
        try:
            item = results.get(timeout=5)
        except queue.Empty:
            dead = [p.name for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"worker process died: {dead}") from None
            continue
        if item["kind"] == "run":
            runs.append(item)
            progress(f"  {item['tenant']}: exit {item['exit_code']} in {item['wall_seconds']:.1f} s "
                     f"(worker {item['worker']}, lock wait {item['lock_wait_seconds']:.1f} s)")
        else:
            done.append(item)
    for p in procs:
        p.join()
    wall = time.perf_counter() - started
    pg_after = pg.seconds()
    return {"wall_seconds": round(wall, 2), "runs": runs, "workers": sorted(done, key=lambda w: w["worker"]),
            "postgres_cpu_seconds": None if pg_before is None or pg_after is None
            else round(pg_after - pg_before, 2)}


# --------------------------------------------------------------------------- PostgreSQL


class PostgresCpu:
    """CPU seconds of a PostgreSQL server this machine runs: the postmaster, its live backends and
    those it has reaped. None when the server is not ours to read (a --postgres-url elsewhere)."""

    def __init__(self, data_dir: Path | None) -> None:
        self.process: psutil.Process | None = None
        if data_dir is not None:
            try:
                pid = int((data_dir / "postmaster.pid").read_text().split()[0])
                self.process = psutil.Process(pid)
            except (OSError, ValueError, IndexError, psutil.Error):
                self.process = None

    def seconds(self) -> float | None:
        if self.process is None:
            return None
        try:
            own = self.process.cpu_times()
            total = own.user + own.system + own.children_user + own.children_system
            for child in self.process.children():
                try:
                    t = child.cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    continue
            return total
        except psutil.Error:
            return None


def private_postgres() -> Any:
    """A PostgreSQL server of the benchmark's own (tests/sync/state/own_postgres.py), durable."""
    from tests.sync.state.own_postgres import OwnPostgres  # the tests' helpers (the dev extra)

    class DurablePostgres(OwnPostgres):
        def start(self) -> None:  # the tests' server without fsync=off
            import subprocess

            opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c max_connections=200"
            subprocess.run([*self.run_as, self.pg_ctl, "-D", str(self.data), "-o", opts, "-l",
                            str(self.base / "log"), "-w", "-t", "60", "start"],
                           check=True, capture_output=True, timeout=120)

    return DurablePostgres()


def drop_tenant_schemas(url: str, names: Sequence[str]) -> None:
    """The tenants' schemas dropped (the tests' helper, imported here only: the workers, which import
    this module too, must not load pytest into their measured memory)."""
    from tests.sync.state.conftest import drop_tenant_schemas as drop

    drop(url, names)


def setup_tenants(tenants: Mapping[str, Path]) -> None:
    """`leadsync setup` for each tenant: its HubSpot properties and lists (not part of the timings)."""
    from sync.run.context import open_context
    from sync.run.setup import run_setup
    from sync.settings import load_tenant
    from sync.tenants import Tenant

    for name, path in tenants.items():
        ctx = open_context(load_tenant(Tenant(name, path)))
        try:
            report = run_setup(ctx, create_missing=True)
            if not report.ok:
                raise RuntimeError(f"setup of tenant {name} failed: {report}")
        finally:
            ctx.close()


# --------------------------------------------------------------------------- the benchmark


def summarize(result: Mapping[str, Any]) -> dict[str, Any]:
    runs = result["runs"]
    waits = [r["lock_wait_seconds"] for r in runs]
    return {
        "wall_seconds": result["wall_seconds"],  # with the workers' start (spawn, imports)
        "runs_span_seconds": round(max(r["ended"] for r in runs) - min(r["started"] for r in runs), 2)
        if runs else 0.0,  # first run's start to last run's end (perf_counter: one clock for all processes)
        "sum_of_run_walls": round(sum(r["wall_seconds"] for r in runs), 2),
        "runs": len(runs), "failed_runs": sum(1 for r in runs if r["exit_code"] != 0),
        "errors": sorted({f"{r['tenant']}: exit {r['exit_code']} {r['error']}"
                          for r in runs if r["exit_code"]}),
        "lock_waits": sum(1 for w in waits if w > 0.05), "lock_wait_total_seconds": round(sum(waits), 2),
        "lock_wait_max_seconds": round(max(waits, default=0.0), 2),
        "writes": sum(r["writes"] for r in runs),
        "run_wall_median_seconds": round(sorted(r["wall_seconds"] for r in runs)[len(runs) // 2], 2)
        if runs else None,
        "worker_peak_rss_mib": [w["peak_rss_mib"] for w in result["workers"]],
        "worker_cpu_seconds": [w["cpu_seconds"] for w in result["workers"]],
        "postgres_cpu_seconds": result["postgres_cpu_seconds"],
        "api_calls": {system: sum(r["api_calls"].get(system, 0) for r in runs)
                      for system in sorted({s for r in runs for s in r["api_calls"]})},
    }


def bench(n_tenants: int, people: int, workers: int, postgres_url: str | None,
          workdir: Path) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    timings: dict[str, float] = {}
    server = None if postgres_url else private_postgres()
    url = postgres_url or server.url()
    pg = PostgresCpu(None if server is None else server.data)
    names = [f"t{i:02d}" for i in range(1, n_tenants + 1)]
    boxes: dict[str, TenantBox] = {}
    try:
        with phase(f"seed {n_tenants} sandboxes of {people:,} people", timings):
            for i, name in enumerate(names):
                boxes[name] = TenantBox(ctx, name, people, 1000 + i, workdir / name)
            for box in boxes.values():
                box.ready()
        folder = workdir / "tenants"
        folder.mkdir(exist_ok=True)
        paths = {name: write_settings(folder / f"{name}.toml", merge_sections(
            boxes[name].settings, {"state": {"url": url, "lock_wait_seconds": LOCK_WAIT_SECONDS}}))
            for name in names}
        drop_tenant_schemas(url, names)
        with phase("setup", timings):
            setup_tenants(paths)
        jobs = [(name, str(paths[name]), boxes[name].now) for name in names]
        with phase("alone: 1 worker, each tenant's first sync in turn", timings):
            alone = run_jobs(ctx, jobs, 1, pg)
        with phase("reset: schemas dropped, sandboxes reloaded, setup again", timings):
            drop_tenant_schemas(url, names)
            for box in boxes.values():
                box.conn.send("reset")
            for box in boxes.values():
                box.conn.recv()
            setup_tenants(paths)
        with phase(f"parallel: {workers} workers", timings):
            parallel = run_jobs(ctx, jobs, workers, pg)
        twice = [job for job in jobs for _ in range(2)]
        with phase(f"double-fired: each tenant twice at once, {workers} workers", timings):
            doubled = run_jobs(ctx, twice, workers, pg)
        emulators = [box.ask("stop") for box in boxes.values()]
    finally:
        for box in boxes.values():
            if box.process.is_alive():
                box.process.kill()
        if server is not None:
            server.close()
    alone_by = {r["tenant"]: r["writes"] for r in alone["runs"]}
    parallel_by = {r["tenant"]: r["writes"] for r in parallel["runs"]}
    s_alone, s_par, s_twice = summarize(alone), summarize(parallel), summarize(doubled)
    checks = {
        "every run exit 0": s_alone["failed_runs"] == s_par["failed_runs"] == s_twice["failed_runs"] == 0,
        "each tenant writes the same alone and in parallel":
            alone_by == parallel_by and len(alone_by) == n_tenants,
        "no lock waits alone or in parallel": s_alone["lock_waits"] == s_par["lock_waits"] == 0,
        "double-fired runs write nothing": s_twice["writes"] == 0,
        "a double-fired twin waited for the other (with 2 or more workers)":
            s_twice["lock_waits"] >= 1 or workers < 2,
    }
    return {
        "benchmark": "tenants", "tenants": n_tenants, "people": people, "workers": workers,
        "postgres": "given (--postgres-url)" if postgres_url else "private, durable (fsync on)",
        "alone": s_alone, "parallel": s_par, "double_fired": s_twice,
        # the figure: the parallel phase's wall against the sum of the runs one at a time
        "speedup": round(s_alone["sum_of_run_walls"] / s_par["runs_span_seconds"], 2)
        if s_par["runs_span_seconds"] else None,
        "writes_per_tenant": alone_by,
        "emulators": {"cpu_seconds": round(sum(e["cpu_seconds"] for e in emulators), 1),
                      "peak_rss_mib_max": max(e["peak_rss_mib"] for e in emulators)},
        "checks": checks, "ok": all(checks.values()), "phases": timings,
        "bench_peak_rss_mib": self_peak_rss_mib(),
        "machine": machine_facts(),
        "command": "python benchmarks/bench_tenants.py " + " ".join(sys.argv[1:]),
    }


def render(r: Mapping[str, Any]) -> None:
    print_machine(r["machine"])
    print(f"command: {r['command']}")
    print(f"{r['tenants']} tenants x {r['people']:,} people, PostgreSQL {r['postgres']}")
    rows = []
    for label, s in (("alone (1 worker)", r["alone"]), (f"parallel ({r['workers']} workers)", r["parallel"]),
                     (f"double-fired ({r['workers']} workers)", r["double_fired"])):
        rows.append((label, s["runs"], s["wall_seconds"], s["runs_span_seconds"], s["sum_of_run_walls"],
                     s["run_wall_median_seconds"],
                     max(s["worker_peak_rss_mib"]), s["lock_waits"], s["lock_wait_max_seconds"], s["writes"],
                     s["postgres_cpu_seconds"], s["failed_runs"]))
    print_table("phases", ["phase", "runs", "wall s", "runs span s", "sum of runs s", "median run s",
                           "worker peak RSS MiB", "lock waits", "max wait s", "writes", "PostgreSQL CPU s",
                           "failed"], rows)
    print(f"\nparallel ({r['workers']} workers) vs the sum of the runs one at a time: {r['speedup']}x; "
          f"emulators' CPU {r['emulators']['cpu_seconds']} s")
    for name, ok in r["checks"].items():
        print(f"  [{'ok' if ok else 'FAILED'}] {name}")
    for s in (r["alone"], r["parallel"], r["double_fired"]):
        for e in s["errors"][:5]:
            print(f"  error: {e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--people", type=int, default=5_000, help="people per tenant")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--postgres-url", help="a PostgreSQL database to use (default: a private server); "
                        "its schemas leadsync_t01, leadsync_t02, ... are dropped and rebuilt")
    parser.add_argument("--workdir", type=Path, help="where the sandboxes and tenant files go (default: a "
                        "temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="leadsync-bench-tenants-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        result = bench(args.tenants, args.people, args.workers, args.postgres_url, workdir)
    result["bench_cpu_seconds"] = round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 1)
    emit(result, args.json, render)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
