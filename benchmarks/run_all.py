"""Run every benchmark (what `make bench` runs) and print one summary table.

    python benchmarks/run_all.py                  # engine 1M, e2e 100k, quota 20k + naive, sandbox 100k,
                                                  # report, console pages and impact preview 100k,
                                                  # 20 tenants x 5,000 on PostgreSQL with 4 workers
    python benchmarks/run_all.py --full           # ... and the end-to-end run and the sandbox at 1,000,000
    python benchmarks/run_all.py --json --out results.json
    python benchmarks/run_all.py --peers          # ... and the Singer taps side by side (benchmarks/peers.py)

Each benchmark runs as its own child process with `--json` (so one benchmark's memory is gone before
the next starts); its progress lines go to stderr. The summary lists each figure with its target and
whether it was met; `--out` keeps every benchmark's full JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_facts, print_machine, print_table, progress, run_child  # noqa: E402

HERE = Path(__file__).resolve().parent
HUBSPOT_REQUESTS_PER_S = 19.0  # 190 requests / 10 s (the sandbox's and Pro/Enterprise portals' quota)


def child_json(script: str, *args: str) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / script), *args, "--json"]
    progress("$ " + " ".join(["python", f"benchmarks/{script}", *args, "--json"]))
    run = run_child(cmd, pass_stderr=True)
    try:
        result = run.json()
    except RuntimeError as exc:
        return {"error": str(exc), "exit_code": run.returncode}
    result["_command"] = " ".join([f"benchmarks/{script}", *args, "--json"])
    result["_exit_code"] = run.returncode
    result["_wall_seconds"] = round(run.wall_seconds, 1)
    result["_peak_rss_mib"] = run.peak_rss_mib
    return result


def met(value: float | None, ok: bool | None) -> str:
    return "-" if value is None or ok is None else ("yes" if ok else "NO")


def engine_rows(r: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    if "error" in r:
        return [("1 engine", "error", r["error"][:80], "", "NO")]
    rate = r.get("assignments_per_second")
    return [
        ("1 engine", f"assignments / CPU s ({r.get('people', 0):,} people)", rate, ">= 100,000",
         met(rate, rate is not None and rate >= 100_000)),
        ("1 engine", "assignments / wall s", r.get("assignments_per_wall_second"), "", "-"),
        ("1 engine", "peak RSS MiB", r.get("peak_rss_mib"), "", "-"),
    ]


def e2e_rows(r: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    if "error" in r:
        return [("2 e2e", "error", r["error"][:80], "", "NO")]
    people = r["people"]
    tag = f"2 e2e {people // 1000:,}k" + (" unthrottled" if r.get("unthrottled") else "")
    first = r["runs"][0]
    totals = first.get("calls_totals", {}).get("all", {})
    over = totals.get("over_minimum_pct")
    rss_target = "< 1,024 (at 1M)" if people >= 1_000_000 else "bounded"
    rows: list[tuple[Any, ...]] = [
        (tag, f"data: lost deals (per 100k people: {r['lost_deals_per_100k_people']:,})",
         r["data"]["lost_opportunities"], "30,000 per 100k", "-"),
        (tag, "seeding the emulators (s)", next((v for k, v in r["seconds"].items() if k.startswith("seed")),
                                                 None), "", "-"),
        (tag, "first sync: status", first["status"], "ok", met(1, first["status"] == "ok")),
        (tag, "first sync: wall s", first["wall_seconds"], "", "-"),
        (tag, "first sync: people / s", first["people_per_second"], "", "-"),
        (tag, "first sync: HubSpot quota floor s", first["hubspot_quota_floor_seconds"], "", "-"),
        (tag, "first sync: peak RSS MiB (sync process)", first["peak_rss_mib"], rss_target,
         met(1, first["peak_rss_mib"] < 1024) if people >= 1_000_000 else "-"),
        (tag, "first sync: API calls made / minimum", f"{totals.get('made')} / {totals.get('minimum')}",
         "within 10%", met(over, over is not None and over <= 10.0)),
        (tag, "first sync: % over the minimum", over, "<= 10", met(over, over is not None and over <= 10.0)),
    ]
    for run in r["runs"][1:]:
        t = run.get("calls_totals", {}).get("all", {})
        name = run["name"]
        rows.append((tag, f"{name}: write calls", run["write_calls"], "0", met(1, run["write_calls"] == 0)))
        rows.append((tag, f"{name}: read calls made / minimum", f"{t.get('made')} / {t.get('minimum')}",
                     "window only", met(1, t.get("over_minimum_pct") is not None
                                        and t["over_minimum_pct"] <= 10.0)))
        rows.append((tag, f"{run['name']}: wall s", run["wall_seconds"], "", "-"))
    rows += naive_e2e_rows(tag, first)
    return rows


def naive_e2e_rows(tag: str, first: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The first sync's writes done one record per call: how many calls that would be."""
    c = first.get("counts") or {}
    naive = {"salesforce": c.get("salesforce.records_updated", 0) + c.get("salesforce.list_adds", 0)
             + c.get("salesforce.tasks_created", 0),
             "hubspot": c.get("hubspot.records_updated", 0) + c.get("hubspot.list_adds", 0)}
    calls = first["server"]["calls"]
    batched = {"salesforce": calls.get("salesforce.collections", 0),
               "hubspot": calls.get("hubspot.batch_update", 0) + calls.get("hubspot.memberships", 0)}
    rows: list[tuple[Any, ...]] = []
    for system in ("salesforce", "hubspot"):
        ratio = round(naive[system] / batched[system], 1) if batched[system] else None
        rows.append((f"5 naive ({tag[2:]})", f"{system} write calls batched / one per record",
                     f"{batched[system]:,} / {naive[system]:,}", f"ratio {ratio}", "-"))
    hs_floor = naive["hubspot"] / HUBSPOT_REQUESTS_PER_S
    rows.append((f"5 naive ({tag[2:]})", "hubspot one-per-record writes at 190 / 10 s (s, floor)",
                 round(hs_floor), "", "-"))
    return rows


def quota_rows(r: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    if "error" in r:
        return [("4 quota", "error", r["error"][:80], "", "NO")]
    b = r["batched"]
    share = b["share_of_max_pct"]
    hs, sf = r["naive"]["hubspot"], r["naive"]["salesforce"]
    ok_share = share is not None and share >= 90
    return [
        ("4 quota", f"{b['updates']:,} updates: updates / s (write phase)", b["updates_per_second_overall"],
         f">= 900 (of {b['quota_max_updates_per_second']:,.0f})", met(share, ok_share)),
        ("4 quota", "share of the quota-bound maximum %", share, ">= 90", met(share, ok_share)),
        ("4 quota", "records failed", b["records_failed"], "0", met(1, b["records_failed"] == 0)),
        ("4 quota", "429s sent by the emulator", sum(b["rate_limit_429_sent"].values()), "", "-"),
        ("4 quota", "every 429 handled (all written)", b["all_429_handled"], "yes",
         met(1, b["all_429_handled"])),
        ("4 quota", "sync wall s (incl. searching every contact)", b["wall_seconds"], "", "-"),
        ("5 naive (quota)", "hubspot calls batched / one per record", f"{b['batch_update_calls']:,} / "
         f"{hs['calls_for_all']:,}", f"ratio {hs['call_ratio']}", "-"),
        ("5 naive (quota)", "hubspot seconds batched / one per record (extrapolated)",
         f"{b['write_phase_seconds']} / {hs['extrapolated_seconds_for_all']}", f"ratio {hs['time_ratio']}",
         "-"),
        ("5 naive (quota)", "salesforce ms per record: Collections / single update",
         f"{sf['collections_ms_per_record']} / {sf['single_ms_per_record']}", f"ratio {sf['time_ratio']}",
         "-"),
    ]


def peers_rows(r: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Issue 12 target 5: leadsync's HubSpot full read at least as fast as meltano-tap-hubspot's (rate
    over the API span); its Salesforce calls per 1,000 rows at most tap-salesforce's."""
    if "error" in r:
        return [("7 peers", "error", r["error"][:80], "", "NO")]
    tag = f"7 peers ({r.get('people', 0):,})"
    rows: list[tuple[Any, ...]] = []
    for system, measure, key, target, ok in (
            ("hubspot", "HubSpot full read, records / API s", "records_per_api_second", ">= the tap's",
             r.get("targets", {}).get("hubspot_read_at_least_as_fast")),
            ("salesforce", "Salesforce calls / 1,000 rows", "calls_per_1000_records", "<= the tap's",
             r.get("targets", {}).get("salesforce_calls_at_most_the_tap"))):
        mine, theirs = r.get(system, {}).get("leadsync", {}), r.get(system, {}).get("tap", {})
        value = mine.get(key)
        rows.append((tag, f"{measure}: leadsync", value, target, met(value, ok)))
        rows.append((tag, f"{measure}: {theirs.get('package', 'tap')}", theirs.get(key, theirs.get("error")),
                     "", "-"))
    return rows


def sandbox_rows(r: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    if "error" in r:
        return [("6 sandbox", "error", r["error"][:80], "", "NO")]
    people = r["people"]
    tag = f"6 sandbox {people // 1000:,}k"
    book, mib = r["book_cpu_seconds_at_1m"], r["emulators_mib_at_1m"]
    scaled = "" if people >= 1_000_000 else " (per-person rate x 1M)"
    return [
        (tag, "book CPU s (generate + load both emulators)", r["book_cpu_seconds"], "", "-"),
        (tag, f"book CPU s at 1M{scaled}", book, "< 180", met(book, book < 180)),
        (tag, "both emulators: bytes / person", r["emulators_bytes_per_person"], "", "-"),
        (tag, f"both emulators: MiB at 1M{scaled}", mib, "< 2,048", met(mib, mib < 2048)),
    ]


def kpis_rows(r: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    if "error" in r:
        return [("8 report", "error", r["error"][:80], "", "NO")]
    rows = []
    for b in r["results"]:
        tag = f"8 report {r['people'] // 1000:,}k {b['backend']}"
        rows.append((tag, "whole report s (snapshot + KPIs over time)", b["report_seconds"], "< 10",
                     met(b["report_seconds"], b["report_seconds"] < 10)))
        rows.append((tag, "report process peak RSS MiB", b["peak_rss_mib"], "< 300",
                     met(b["peak_rss_mib"], b["peak_rss_mib"] < 300)))
    return rows


def console_rows(r: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    if "error" in r:
        return [("9 console", "error", r["error"][:80], "", "NO")]
    tag = f"9 console {r['people'] // 1000:,}k"
    rows: list[tuple[Any, ...]] = [
        (tag, f"{p['page']}: median / p95 ms", f"{p['median_ms']} / {p['p95_ms']}", f"< {r['target_ms']}",
         met(p["p95_ms"], p["met"])) for p in r["pages"]]
    rows.append((tag, "server + client peak RSS MiB", r["peak_rss_mib"], "", "-"))
    return rows
def preview_rows(r: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    if "error" in r:
        return [("9 preview", "error", r["error"][:80], "", "NO")]
    tag = f"9 preview {r['people'] // 1000:,}k"
    return [(tag, "impact preview wall s", r["wall_seconds"], "< 10", met(r["wall_seconds"], r["met"])),
            (tag, "CPU s (with its workers)", r["cpu_seconds"], "", "-"),
            (tag, "peak RSS MiB", r["peak_rss_mib"], "", "-")]


def tenants_rows(r: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    if "error" in r:
        return [("10 tenants", "error", r["error"][:80], "", "NO")]
    tag = f"10 tenants {r['tenants']} x {r['people']:,}"
    alone, par, twice = r["alone"], r["parallel"], r["double_fired"]
    return [(tag, "sum of the runs one at a time s", alone["sum_of_run_walls"], "", "-"),
            (tag, f"{r['workers']} workers in parallel s (speed-up)", f"{par['runs_span_seconds']} "
             f"({r['speedup']}x)", "", "-"),
            (tag, "peak RSS per worker MiB (max)", max(par["worker_peak_rss_mib"]), "", "-"),
            (tag, "lock waits alone / parallel / double-fired",
             f"{alone['lock_waits']} / {par['lock_waits']} / {twice['lock_waits']} "
             f"(max {twice['lock_wait_max_seconds']} s)", "", "-"),
            (tag, "checks (exit 0, same writes, no waits)", "ok" if r["ok"] else "FAILED", "all ok",
             "yes" if r["ok"] else "NO")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the end-to-end run at --full-people")
    parser.add_argument("--people", type=int, default=100_000, help="end-to-end size (default 100,000)")
    parser.add_argument("--full-people", type=int, default=1_000_000)
    parser.add_argument("--full-throttled", action="store_true",
                        help="run the --full size under HubSpot's quotas (default: lifted, see docs)")
    parser.add_argument("--engine-people", type=int, default=1_000_000)
    parser.add_argument("--quota-contacts", type=int, default=20_000)
    parser.add_argument("--sandbox-people", type=int, default=100_000)
    parser.add_argument("--kpis-people", type=int, default=100_000,
                        help="people of the report benchmark's history (--full: also --full-people)")
    parser.add_argument("--console-people", type=int, default=100_000,
                        help="people of the console benchmark's store (--full: also --full-people)")
    parser.add_argument("--preview-people", type=int, default=100_000,
                        help="people of the impact preview benchmark (issue 14's 100,000)")
    parser.add_argument("--tenants", type=int, default=20, help="tenants of the tenants benchmark")
    parser.add_argument("--tenant-people", type=int, default=5_000, help="people per tenant")
    parser.add_argument("--tenant-workers", type=int, default=4)
    parser.add_argument("--only", choices=("engine", "e2e", "quota", "sandbox", "kpis", "console", "preview",
                                           "tenants", "peers"),
                        action="append",
                        help="run only these (repeatable)")
    parser.add_argument("--peers", action="store_true",
                        help="also benchmarks/peers.py: the Singer taps side by side (installs them)")
    parser.add_argument("--peers-people", type=int, default=20_000)
    parser.add_argument("--out", type=Path, help="write every benchmark's JSON here")
    parser.add_argument("--json", action="store_true", help="print the collected JSON instead of tables")
    args = parser.parse_args(argv)
    default = ("engine", "e2e", "quota", "sandbox", "kpis", "console", "preview", "tenants",
               *(("peers",) if args.peers else ()))
    only = set(args.only or default)
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine_facts(), "command": "python benchmarks/run_all.py "
                               + " ".join(argv if argv is not None else sys.argv[1:])}
    if "engine" in only:
        results["engine"] = child_json("bench_engine.py", "--people", str(args.engine_people))
    if "e2e" in only:
        results["e2e"] = [child_json("bench_e2e.py", "--people", str(args.people))]
        if args.full:
            extra = [] if args.full_throttled else ["--unthrottled"]
            results["e2e"].append(child_json("bench_e2e.py", "--people", str(args.full_people), *extra))
    if "quota" in only:
        results["quota"] = child_json("bench_quota.py", "--contacts", str(args.quota_contacts))
    if "sandbox" in only:
        results["sandbox"] = [child_json("bench_sandbox.py", "--people", str(args.sandbox_people))]
        if args.full:
            results["sandbox"].append(child_json("bench_sandbox.py", "--people", str(args.full_people),
                                                 "--only", "both"))
    if "kpis" in only:
        results["kpis"] = [child_json("bench_kpis.py", "--people", str(args.kpis_people))]
        if args.full:
            results["kpis"].append(child_json("bench_kpis.py", "--people", str(args.full_people)))
    if "console" in only:
        results["console"] = [child_json("bench_console.py", "--people", str(args.console_people))]
        if args.full:
            results["console"].append(child_json("bench_console.py", "--people", str(args.full_people)))
    if "preview" in only:
        results["preview"] = child_json("bench_preview.py", "--people", str(args.preview_people))
    if "tenants" in only:
        results["tenants"] = child_json("bench_tenants.py", "--tenants", str(args.tenants), "--people",
                                        str(args.tenant_people), "--workers", str(args.tenant_workers))
    if "peers" in only:
        results["peers"] = child_json("peers.py", "--people", str(args.peers_people))
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    if args.out:
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), "utf-8")
    if args.json:
        print(json.dumps(results, ensure_ascii=False, default=str))
        return 0
    rows: list[tuple[Any, ...]] = []
    if "engine" in results:
        rows += engine_rows(results["engine"])
    for r in results.get("e2e", []):
        rows += e2e_rows(r)
    if "quota" in results:
        rows += quota_rows(results["quota"])
    for r in results.get("sandbox", []):
        rows += sandbox_rows(r)
    for r in results.get("kpis", []):
        rows += kpis_rows(r)
    for r in results.get("console", []):
        rows += console_rows(r)
    if "preview" in results:
        rows += preview_rows(results["preview"])
    if "tenants" in results:
        rows += tenants_rows(results["tenants"])
    if "peers" in results:
        rows += peers_rows(results["peers"])
    print()
    print_machine(results["machine"])
    print(f"command: {results['command']}  (total {results['total_seconds']:,.0f} s)")
    print_table("summary", ["benchmark", "measure", "value", "target", "met"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
