"""`leadsync backfill` (the history from before the first run) over a synthetic store on a SQLite file:
N people with a standing recorded by a first run, a HubSpot contact each with two or three lifecycle
dates before it (some out of order), a tenth of them recycled on a lost deal. Loading is not timed; the
backfill is, with the process's peak RSS (VmHWM; the store is loaded by a child process), then a
second backfill (nothing to do).

    python benchmarks/bench_backfill.py --people 100000 [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from connectors.base import ContactRef
from mappings import load_mapping_text
from sync.run.backfill import backfill
from sync.state.history import CycleFacts, Standing
from sync.state.store import StateStore

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 6, 1, tzinfo=UTC)
STAGES = ("inquiry", "mql", "sql")


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load(store: StateStore, people: int, rng: random.Random) -> None:
    chunk = 1000
    for start in range(0, people, chunk):
        standings, contacts = [], []
        for i in range(start, min(people, start + chunk)):
            email = f"p{i:07d}@bench.test"
            lead = T0 - timedelta(days=rng.randint(60, 700), minutes=rng.randint(0, 1440))
            mql = lead + timedelta(days=rng.randint(-10, 90))  # some before the lead date: out of order
            props = {"email": email, "hs_lifecyclestage_lead_date": lead.isoformat(),
                     "hs_lifecyclestage_marketingqualifiedlead_date": mql.isoformat(),
                     "hs_lifecyclestage_salesqualifiedlead_date": None}
            contacts.append(ContactRef(str(i + 1), email, props, T0))
            if i % 10 == 0:
                lost = (T0 - timedelta(days=rng.randint(31, 300))).date()
                cycle = CycleFacts(f"006{i:012d}", lost, "Price", "purchase", 1000.0)
                standings.append(Standing(email, "recycle", "warm", "high", cycle.deal_id, "f", dict, cycle))
            else:
                standings.append(Standing(email, rng.choice(STAGES), "cold", None, None, "f", dict))
        store.upsert_contacts("hubspot", contacts)
        store.record_standing(standings, run_id=None, at=T0, mapping_version=1, rules_digest="r")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--load-into", help=argparse.SUPPRESS)  # the child that loads the store
    args = parser.parse_args()
    if args.load_into:
        store = StateStore.open(f"sqlite:///{args.load_into}")
        load(store, args.people, random.Random(7))
        store.close()
        return 0
    mapping = load_mapping_text((ROOT / "mappings" / "default.toml").read_text(encoding="utf-8"),
                                "default.toml")
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as folder:
        path = f"{folder}/state.db"  # loaded by a child: this process's peak RSS is the backfill's
        subprocess.run([sys.executable, __file__, "--people", str(args.people), "--load-into", path],
                       check=True)
        store = StateStore.open(f"sqlite:///{path}")
        loaded_rss = peak_rss_mib()
        started = time.perf_counter()
        summary = backfill(store, mapping)
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = backfill(store, mapping)
        second = time.perf_counter() - started
        result = {"people": args.people, "measured_on": date.today().isoformat(),
                  "backfill_seconds": round(first, 2), "second_backfill_seconds": round(second, 2),
                  "stage_entries": summary.stage_entries, "group_entries": summary.group_entries,
                  "cycles_seeded": summary.cycles_seeded,
                  "already_backfilled_second": again.already_backfilled,
                  "peak_rss_mib_before": round(loaded_rss, 1), "peak_rss_mib": round(peak_rss_mib(), 1)}
        store.close()
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
