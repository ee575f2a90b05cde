"""The whole `leadsync report` over a big history: the snapshot (`sync.views.report.build_report`
without `now`: what the last runs decided, aggregated in the database) and the KPIs over time
(`sync.views.kpis.stage_kpis`) over 1,000,000 people (their standings in `assignments`, a HubSpot
contact for most, deal contacts for those with a lost deal, list memberships) and 5,000,000 stage moves
(plus their recycle cycles, call tasks and lost deals), on a SQLite file and on a PostgreSQL server,
timed and with the reporting process's peak RSS and CPU seconds (on a server this benchmark started, the
PostgreSQL server's CPU during the report too: on a shared machine the wall clock mostly measures the
wait for a core).

    python benchmarks/bench_kpis.py                          # 1,000,000 people, 5 moves each
    python benchmarks/bench_kpis.py --people 100000 --json
    python benchmarks/bench_kpis.py --postgres-url postgresql+psycopg://user@host/db   # else one is
                                                                  # started from the machine's binaries

The history is synthetic but shaped like a real one (seeded): every person enters at inquiry some day
over 18 months and moves on along the waterfall with decreasing odds, ranks change, a share of people
are recycled (cycles, a call task for most high ones, some new deals, some won). Loading it is not
timed; the report is, in a child process (`--report-only`), whose own peak RSS is read from
/proc/<pid>/status (VmHWM). Target (issue 13): under 10 s and under 300 MB on each backend.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # noqa: E402
from common import ROOT, machine_facts, print_machine, progress, run_child  # noqa: E402

sys.path.insert(0, str(ROOT))

from connectors.base import LostDeal  # noqa: E402
from sync.inputs import load_mapping_file  # noqa: E402
from sync.state import schema as s  # noqa: E402
from sync.state.codec import deal_to_json  # noqa: E402
from sync.state.store import StateStore  # noqa: E402
from sync.views.kpis import stage_kpis  # noqa: E402
from sync.views.report import build_report  # noqa: E402

START = datetime(2025, 6, 1, tzinfo=UTC)
DAYS = 548  # 18 months
BATCH = 50_000
WATERFALL = ("inquiry", "mql", "tql", "sal", "sgl", "sql", "close")
STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Proposal/Price Quote",
          "Negotiation/Review")
REASONS = ("Price", "Timing", "Competitor", "No budget", "予算不足", "No decision")
RANKS = ("hot", "warm", "cold")
LISTS = {"hot": "Nurture - Events", "warm": "Nurture - Call/DM", "cold": "Nurture - Newsletter",
         "recycle_low": "Recycle - Email Nurture", "recycle_high": "Recycle - Sales Follow-up"}
TABLES = ("stage_moves", "recycle_cycles", "call_tasks", "deals", "assignments", "contacts", "deal_contacts",
          "list_memberships")


def history(people: int, moves_per_person: int, seed: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(table name, rows) batches of a synthetic history."""
    rng = random.Random(seed)
    moves: list[dict[str, Any]] = []
    cycles: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    deals: list[dict[str, Any]] = []
    rows_of: dict[str, list[dict[str, Any]]] = {"stage_moves": moves, "recycle_cycles": cycles,
                                                "call_tasks": tasks, "deals": deals, "assignments": [],
                                                "contacts": [], "deal_contacts": [], "list_memberships": []}
    for i in range(people):
        key = f"p{i:07d}@example.com"
        at = START + timedelta(days=rng.randrange(DAYS), seconds=rng.randrange(86400))
        stage = 0
        for n in range(moves_per_person):
            if n % 3 == 2:  # every third move a rank change
                row = _move(key, "rank", "cold", "warm", at)
            else:
                nxt = min(stage + 1 + (rng.random() < 0.2), len(WATERFALL) - 1) if n else 0
                row = _move(key, "stage", WATERFALL[stage] if n else None, WATERFALL[nxt], at,
                            "first" if n == 0 and rng.random() < 0.3 else "facts")
                stage = nxt
            moves.append(row)
            at += timedelta(days=rng.expovariate(1 / 20), seconds=rng.randrange(3600))
        group, deal_id, reengaged = None, None, None
        if rng.random() < 0.37:  # a lost deal, recycled
            lost_on = (START + timedelta(days=rng.randrange(DAYS))).date()
            deal_id = f"006{i:015d}"
            phase = rng.randrange(len(STAGES))
            reason = rng.choice(REASONS)
            amount = float(rng.randrange(1, 500) * 10_000)
            deals.append(_deal(deal_id, lost_on, STAGES[phase], reason, amount))
            group = "high" if phase >= 3 else rng.choice(("low", "low", "waiting"))
            won = rng.random() < 0.08
            cycles.append({"person_key": key, "deal_id": deal_id, "lost_on": lost_on, "loss_reason": reason,
                           "phase": f"phase{phase}", "lost_amount": 1e6, "first_group": group,
                           "entered_at": at, "group_now": group,
                           "promoted_at": at if rng.random() < 0.1 else None,
                           "left_at": None, "reengaged_at": at if rng.random() < 0.2 else None,
                           "task_cycle_key": f"{deal_id}:{lost_on}:x" if group == "high" else None,
                           "new_deal_id": f"006N{i:014d}" if won or rng.random() < 0.1 else None,
                           "new_deal_opened_on": lost_on + timedelta(days=60), "new_deal_amount": 2e6,
                           "new_deal_stage": "Closed Won" if won else "Qualification",
                           "new_deal_state": "won" if won else "open", "new_deal_closed_on": None,
                           "run_id": 1})
            if group == "high":
                tasks.append({"cycle_key": f"{deal_id}:{lost_on}:x", "system": "salesforce",
                              "task_id": f"00T{i:015d}", "created_at": at, "run_id": 1})
            reengaged = lost_on + timedelta(days=30) if rng.random() < 0.2 else None
            rows_of["deal_contacts"].append({"opportunity_id": deal_id, "contact_id": f"003{i:015d}",
                                             "email_norm": key, "person_key": key})
        _person(rows_of, rng, i, key, WATERFALL[stage], group, deal_id, reengaged, at)
        for name, rows in rows_of.items():
            if len(rows) >= BATCH:
                yield name, rows[:]
                rows.clear()
    for name, rows in rows_of.items():
        if rows:
            yield name, rows


def _person(rows_of: dict[str, list[dict[str, Any]]], rng: random.Random, i: int, key: str, stage: str,
            group: str | None, deal_id: str | None, reengaged: date | None, at: datetime) -> None:
    """The person's standing (as the last run recorded it), their HubSpot contact (all but a quarter of
    those with a deal, who are in Salesforce only) and their list memberships."""
    rank = rng.choice(RANKS)
    on_hubspot = deal_id is None or rng.random() < 0.75
    records = (1 if deal_id is not None else 0, 1 if on_hubspot else 0)
    nurture = {"high": "recycle_high", "low": "recycle_low"}.get(group or "", None if group else rank)
    rows_of["assignments"].append({
        "person_key": key, "stage": "recycle" if group else stage, "rank": rank, "recycle_group": group,
        "deal_id": deal_id, "nurture_list": nurture, "score": rng.randrange(100),
        "salesforce_records": records[0], "hubspot_records": records[1], "reengaged_on": reengaged,
        "facts_digest": "f" * 32, "mapping_digest": "m" * 32, "mapping_version": 1, "changed_at": at,
        "run_id": 1})
    if on_hubspot:
        rows_of["contacts"].append({"system": "hubspot", "contact_id": str(i), "email": key,
                                    "email_norm": key, "properties": "{}", "modified_at": at,
                                    "archived": False, "merged_into": None, "stored_at": at,
                                    "person_key": key})
    if nurture is not None:
        for system, rid, has in (("salesforce", f"003{i:015d}", records[0]), ("hubspot", str(i), records[1])):
            if has:
                rows_of["list_memberships"].append({"system": system, "list_name": LISTS[nurture],
                                                    "record_id": rid, "added_at": at, "run_id": 1})


def _move(key: str, dim: str, frm: str | None, to: str, at: datetime, cause: str = "facts") -> dict[str, Any]:
    return {"person_key": key, "dimension": dim, "from_value": frm, "to_value": to, "at": at, "run_id": 1,
            "mapping_version": 1, "cause": cause, "deal_id": None, "why": None}


def _deal(opp: str, lost_on: date, stage: str, reason: str, amount: float) -> dict[str, Any]:
    stamp = datetime(2026, 12, 1, tzinfo=UTC)
    d = LostDeal(opportunity_id=opp, name=opp, state="lost", stage_name="Closed Lost", stage_at_loss=stage,
                 loss_reason=reason, lost_date=lost_on, amount=amount, owner_id=None, account_id=None,
                 account_name=None, account_employees=None, account_industry=None, contacts=(),
                 modified_at=stamp)
    return {"opportunity_id": opp, "data": deal_to_json(d), "state": "lost", "modified_at": stamp,
            "is_deleted": False, "stored_at": stamp,  # the columns as the snapshot writer fills them
            **s.deal_columns(d.lost_date, d.stage_at_loss, d.loss_reason, d.amount)}


def load(url: str, people: int, moves_per_person: int, seed: int) -> dict[str, int]:
    store = StateStore.open(url)
    counts: dict[str, int] = {}
    try:
        tables = {name: s.metadata.tables[name] for name in TABLES}
        for name, rows in history(people, moves_per_person, seed):
            if name == "stage_moves":
                store.add_moves(rows)  # linked and counted in the flow, as runs record them
            else:
                with store.engine.begin() as conn:
                    conn.execute(tables[name].insert(), rows)
            counts[name] = counts.get(name, 0) + len(rows)
        if store.engine.dialect.name == "postgresql":  # statistics, as autovacuum keeps them on a live server
            with store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
    finally:
        store.close()
    return counts


def report_only(url: str) -> dict[str, Any]:
    store = StateStore.open(url)
    try:
        mapping = load_mapping_file(None)
        started = time.perf_counter()
        snapshot = build_report(store, mapping)  # what the last runs decided, in the database
        snapshot_seconds = time.perf_counter() - started
        k = stage_kpis(store, mapping)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    return {"seconds": round(seconds, 2), "snapshot_seconds": round(snapshot_seconds, 2),
            "kpis_seconds": round(seconds - snapshot_seconds, 2), "people": snapshot.people,
            "recycled": sum(g.people for g in snapshot.groups), "lost_deals": snapshot.lost.total.deals,
            "list_members_wanted": sum(x.desired_records for x in snapshot.lists),
            "list_members_managed": sum(x.managed for x in snapshot.lists),
            "conversion_rows": len(k.conversion),
            "velocity_rows": len(k.velocity),
            "pipeline_rows": len(k.pipeline), "loss_cells": len(k.losses),
            "entered": sum(c.entered for c in k.conversion)}


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL server from the machine's binaries, on 127.0.0.1, removed afterwards."""
    installed = Path("/usr/lib/postgresql")
    binaries = {name: shutil.which(name) or max(installed.glob(f"*/bin/{name}"), default=None)
                for name in ("initdb", "pg_ctl")}
    if not all(binaries.values()):
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found: pass --postgres-url")
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="leadsync-bench-pg-"))
    if run_as:
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = base / "data"
    subprocess.run([*run_as, str(binaries["initdb"]), "-D", str(data), "-A", "trust", "-U", "leadsync", "-E",
                    "UTF8", "--locale=C", "--no-sync"], check=True, capture_output=True, timeout=120)
    subprocess.run([*run_as, str(binaries["pg_ctl"]), "-D", str(data), "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "-l", str(base / "log"), "-w", "start"], check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql+psycopg://leadsync@127.0.0.1:{port}/postgres#{data / 'postmaster.pid'}"
    finally:
        subprocess.run([*run_as, str(binaries["pg_ctl"]), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def server_cpu_seconds(pid_file: Path | None) -> float | None:
    """User + system CPU of a local PostgreSQL server so far: the postmaster, its live children (the
    backends, parallel workers) and the children it has reaped. None when the server is not ours."""
    if pid_file is None:
        return None
    try:
        main = psutil.Process(int(pid_file.read_text().split()[0]))
        t = main.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in main.children():
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.NoSuchProcess:
                pass  # it ended: its time is in children_* once reaped (a few ms may be missed)
        return total
    except (OSError, ValueError, psutil.Error):
        return None


def bench_one(backend: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    url, _, pid_path = url.partition("#")  # a server started here: its postmaster.pid, for its CPU
    pid_file = Path(pid_path) if pid_path else None
    progress(f"{backend}: load {args.people:,} people's history ...")
    started = time.perf_counter()
    counts = load(url, args.people, args.moves, args.seed)
    loaded = time.perf_counter() - started
    progress(f"{backend}: loaded {counts} in {loaded:.0f} s; report ...")
    server0 = server_cpu_seconds(pid_file)
    child = run_child([sys.executable, __file__, "--report-only", url], timeout=3600)
    server1 = server_cpu_seconds(pid_file)
    if child.returncode != 0:
        raise RuntimeError(f"report failed: {child.stderr[-2000:]}")
    got = child.json()
    return {"backend": backend, "rows": counts, "load_seconds": round(loaded, 1),
            "report_seconds": got["seconds"],
            "report_process_seconds": round(child.wall_seconds, 2), "peak_rss_mib": child.peak_rss_mib,
            "cpu_seconds": round(child.cpu_seconds, 2),
            "server_cpu_seconds": round(server1 - server0, 2) if server0 is not None and server1 is not None
            else None,
            "load_average_1m_after": round(os.getloadavg()[0], 2), "sections": got,
            "met": got["seconds"] < 10 and child.peak_rss_mib < 300}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--moves", type=int, default=5, help="stage and rank moves per person (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--report-only", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.report_only:
        print(json.dumps(report_only(args.report_only)))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="leadsync-bench-kpis-") as tmp:
        if args.only in (None, "sqlite"):
            results.append(bench_one("sqlite", f"sqlite:///{tmp}/state.db", args))
        if args.only in (None, "postgresql"):
            if args.postgres_url:
                results.append(bench_one("postgresql", args.postgres_url, args))
            else:
                with throwaway_postgres() as url:
                    results.append(bench_one("postgresql", url, args))
    out = {"benchmark": "kpis", "machine": machine_facts(), "people": args.people,
           "moves_per_person": args.moves, "results": results}
    if args.json:
        print(json.dumps(out))
    else:
        print_machine(out["machine"])
        for r in results:
            moves = r["rows"].get("stage_moves", 0)
            server = r["server_cpu_seconds"]
            print(f"{r['backend']}: {moves:,} moves, report {r['report_seconds']} s "
                  f"(process {r['report_process_seconds']} s, CPU {r['cpu_seconds']} s"
                  + (f", server CPU {server} s" if server is not None else "") + "), peak RSS "
                  f"{r['peak_rss_mib']} MiB — target < 10 s and < 300 MB: {'met' if r['met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
