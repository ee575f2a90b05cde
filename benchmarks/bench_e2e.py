"""End to end against the sandbox: a first full sync, then no-op runs, with calls versus the minimum.

    python benchmarks/bench_e2e.py                        # 100,000 people, realistic HubSpot quotas
    python benchmarks/bench_e2e.py --people 1000000 --unthrottled --json

The emulators run in this process, loaded with the demo book; `leadsync setup` and then
`leadsync sync --json --now <book's now>` run as child processes, so the sync's peak RSS (os.wait4) and
CPU time are its own, and this process's CPU time during a run is what the emulators spent. Calls are
counted on the server side (retries included) and compared per endpoint with the minimum the APIs'
batch sizes allow (see benchmarks/minimums.py). After the first sync, `--noop-runs` more syncs run
with nothing changed: they must write nothing.

Quotas: by default the HubSpot emulator enforces 190 requests / 10 s and 5 searches / s, and leadsync
paces itself at 190 / 10 s and 4 searches / s (its defaults), so the wall time includes the quota's
floor, which the table shows. `--unthrottled` lifts both (to measure leadsync's own speed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ChildRun,
    instrument,
    leadsync,
    machine_facts,
    merge_sections,
    phase,
    print_machine,
    print_table,
    progress,
    self_rss_mib,
    write_settings,
)
from minimums import data_facts, first_sync_rows, noop_rows, split_reads_writes, totals  # noqa: E402

from sandbox.launcher import Sandbox  # noqa: E402
from sync.state.store import StateStore  # noqa: E402

LOOKBACK_MINUTES = 10  # leadsync's default hubspot.lookback_minutes
CLIENT_SEARCHES_PER_S = 4.0  # leadsync's default hubspot.searches_per_second
UNTHROTTLED = {"requests_per_10s": 1_000_000, "searches_per_second": 100_000.0}


def quota_floor(calls: Mapping[str, int], requests_per_10s: int, searches_per_s: float) -> float:
    """Seconds the HubSpot quota alone forces on these calls (search has its own per-second limit)."""
    search = calls.get("hubspot.search", 0)
    other = sum(v for k, v in calls.items() if k.startswith("hubspot.") and k != "hubspot.search")
    return round(search / searches_per_s + other / (requests_per_10s / 10.0), 1)


def hubspot_window(box: Sandbox, state_url: str, lookback_minutes: int = LOOKBACK_MINUTES) -> int | None:
    """Active HubSpot contacts a run will search for: modified at or after its watermark minus the
    lookback (None before the first run)."""
    store = StateStore.open(state_url)
    try:
        mark = store.get_watermark("hubspot.contacts")
    finally:
        store.close()
    if mark is None:
        return None
    since_ms = int((mark - timedelta(minutes=lookback_minutes)).timestamp() * 1000)
    return sum(1 for c in box.hubspot.store.all_active() if c.updated >= since_ms)


def run_record(name: str, child: ChildRun, server: dict[str, Any], people: int,
               hs_limits: tuple[int, float]) -> dict[str, Any]:
    result = child.json()
    reads, writes = split_reads_writes(server["calls"])
    return {
        "name": name,
        "status": result.get("status"),
        "exit_code": child.returncode,
        "wall_seconds": round(child.wall_seconds, 1),
        "sync_reported_seconds": result.get("duration_seconds"),
        "people_per_second": round(people / child.wall_seconds, 1) if child.wall_seconds else None,
        "peak_rss_mib": child.peak_rss_mib,
        "sync_cpu_seconds": round(child.cpu_seconds, 1),
        "emulator_cpu_seconds": round(child.emulator_cpu_seconds, 1),
        "hubspot_quota_floor_seconds": quota_floor(server["calls"], *hs_limits),
        "read_calls": sum(reads.values()),
        "write_calls": sum(writes.values()),
        "server": server,
        "client_api_calls": result.get("api_calls"),
        "counts": result.get("counts"),
        "error": result.get("error"),
    }


def bench(people: int, seed: int, noop_runs: int, unthrottled: bool, workdir: Path,
          profile: Path | None = None) -> dict[str, Any]:
    timings: dict[str, float] = {}
    facts = machine_facts()
    with phase(f"seed {people:,} people into both emulators", timings):
        box = Sandbox.start(people=people, seed=seed, workdir=workdir)
    try:
        emulator_rss = self_rss_mib()
        hs_limits = (box.hubspot.limiter.requests_per_10s, CLIENT_SEARCHES_PER_S)
        extra: dict[str, dict[str, Any]] = {}
        if unthrottled:
            box.hubspot.limiter.requests_per_10s = UNTHROTTLED["requests_per_10s"]
            box.hubspot.limiter.searches_per_second = UNTHROTTLED["searches_per_second"]
            extra["hubspot"] = dict(UNTHROTTLED)
        state_url = f"sqlite:///{workdir}/state.db"
        sections = merge_sections(box.settings_dict(state_url), extra)
        config = write_settings(workdir / "settings.toml", sections)
        with phase("count the data set", timings):
            data = data_facts(box.salesforce, box.hubspot)
        tally = instrument(box.salesforce, box.hubspot)
        now = box.now.isoformat() if box.now else None
        with phase("leadsync setup", timings):
            setup = leadsync("setup", "--json", config=config)
        if setup.returncode != 0:
            raise RuntimeError(f"leadsync setup failed ({setup.returncode}): {setup.stdout}{setup.stderr}")
        lists = setup.json().get("hubspot_lists", {})
        runs: list[dict[str, Any]] = []
        for i in range(1 + noop_runs):
            name = "first sync" if i == 0 else f"no-op run {i}"
            window = hubspot_window(box, state_url)
            tally.clear()
            with phase(name, timings):
                child = leadsync("sync", "--json", *(["--now", now] if now else []), config=config,
                                 profile=profile if i == 0 else None)
            record = run_record(name, child, tally.snapshot(), people, hs_limits)
            progress(f"{name}: {record['status']}, sync peak RSS {child.peak_rss_mib} MiB, sync CPU "
                     f"{child.cpu_seconds:.1f} s, calls {sum(record['server']['calls'].values())}")
            if i == 0:
                members = {name_: len(box.hubspot.store.list_members(name_)) for name_ in lists}
                rows = first_sync_rows(child.json(), data, record["server"], members,
                                       campaigns_after=len(box.salesforce.store.table("Campaign").rows))
            else:
                record["hubspot_window_contacts"] = window
                rows = noop_rows(child.json(), record["server"], data.hubspot_archived, window or 0)
            record["calls_vs_minimum"] = [r.as_dict() for r in rows]
            record["calls_totals"] = totals(rows)
            runs.append(record)
            if record["exit_code"] not in (0, 1) or record["status"] not in ("ok", "partial"):
                progress(f"{name} ended {record['status']} (exit {record['exit_code']}): {record['error']}")
                break
        return {
            "benchmark": "e2e",
            "machine": facts,
            "people": people,
            "seed": seed,
            "unthrottled": unthrottled,
            "hubspot_limits": {"requests_per_10s": hs_limits[0], "client_searches_per_second": hs_limits[1]},
            "data": data.as_dict(),
            "lost_deals_per_100k_people": round(data.lost_opportunities * 100_000 / people) if people else 0,
            "seconds": timings,
            "emulator_rss_mib_after_seeding": emulator_rss,
            "emulator_rss_mib_at_end": self_rss_mib(),
            "runs": runs,
        }
    finally:
        box.stop()


def render(result: Mapping[str, Any]) -> None:
    print_machine(result["machine"])
    data = result["data"]
    seed_s = next((v for k, v in result["seconds"].items() if k.startswith("seed")), None)
    print(f"data: {result['people']:,} people, {data['opportunities']:,} opportunities, "
          f"{data['lost_opportunities']:,} lost ({result['lost_deals_per_100k_people']:,} per 100k people; "
          f"{data['people_with_lost_deal']:,} people on a lost deal), {data['hubspot_active']:,} HubSpot "
          f"contacts; seeding {seed_s} s, emulators' RSS {result['emulator_rss_mib_after_seeding']:,} MiB"
          + ("; quotas lifted (--unthrottled)" if result["unthrottled"] else ""))
    rows = [(r["name"], r["status"], r["wall_seconds"], r["people_per_second"], r["peak_rss_mib"],
             r["sync_cpu_seconds"], r["emulator_cpu_seconds"], r["hubspot_quota_floor_seconds"],
             r["read_calls"], r["write_calls"]) for r in result["runs"]]
    header = ["run", "status", "wall s", "people/s", "peak RSS MiB", "sync CPU s", "emulators CPU s",
              "HubSpot quota floor s", "read calls", "write calls"]
    print_table("runs (the sync as a child process)", header, rows)
    for r in result["runs"]:
        table = [(c["system"], c["endpoint"], c["records"], c["made"], c["minimum"], c["over_minimum_pct"])
                 for c in r["calls_vs_minimum"]]
        for system, t in r["calls_totals"].items():
            table.append((system, "TOTAL", None, t["made"], t["minimum"], t["over_minimum_pct"]))
        note = ""
        if r.get("hubspot_window_contacts") is not None:
            note = (f" (HubSpot window: {r['hubspot_window_contacts']:,} contacts modified since the "
                    f"watermark minus {LOOKBACK_MINUTES} min lookback; write calls: {r['write_calls']})")
        print_table(f"{r['name']}: API calls made (server side) versus the minimum{note}",
                    ["system", "endpoint", "records", "made", "minimum", "% over"], table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000, help="demo book size (default 100,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--noop-runs", type=int, default=1, help="syncs after the first (default 1)")
    parser.add_argument("--unthrottled", action="store_true", help="lift HubSpot's quotas on both sides")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here (default: a temp dir)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="run the first sync under cProfile and write its stats to this file (slower)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args(argv)
    profile = args.profile.resolve() if args.profile else None
    started = time.perf_counter()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = bench(args.people, args.seed, args.noop_runs, args.unthrottled, args.workdir, profile)
    else:
        with tempfile.TemporaryDirectory(prefix="leadsync-bench-e2e-") as tmp:
            result = bench(args.people, args.seed, args.noop_runs, args.unthrottled, Path(tmp), profile)
    result["seconds"]["total"] = round(time.perf_counter() - started, 1)
    if args.json:
        import json

        print(json.dumps(result, ensure_ascii=False, default=str))
    else:
        render(result)
    failed = any(r["status"] not in ("ok", "partial") for r in result["runs"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
