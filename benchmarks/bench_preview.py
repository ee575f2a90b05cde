"""The impact preview of a mapping change (`sync.views.impact.preview`, what `leadsync mappings preview`
and the console's preview page run) over a state store of 100,000 people: wall and CPU time and peak
RSS, with the counts it found.

    python benchmarks/bench_preview.py                    # 100,000 people
    python benchmarks/bench_preview.py --people 20000 --json
    python benchmarks/bench_preview.py --profile prof.out  # cProfile of the preview (slower)

The store (a SQLite file) is built first, through the store's own snapshot writers, and is not timed:
every person has a HubSpot contact with engagement counts, dates, a lifecycle stage and a company size;
40% have a lost deal (their Salesforce contact on it, the deal owner), a quarter of those in Salesforce
only. The draft mapping is the default one with the hot threshold raised (60 → 70) and the wait
shortened (30 → 14 days), and its version bumped. The preview runs in a child process (`--preview-only`)
so its peak RSS (VmHWM) and CPU seconds are its own. Target (issue 14): under 10 s for 100,000 people.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine_facts, print_machine, progress, run_child  # noqa: E402

sys.path.insert(0, str(ROOT))

from connectors.base import ContactRef, DealContact, LostDeal  # noqa: E402
from connectors.hubspot.connector import HubSpotConnector  # noqa: E402
from connectors.salesforce.connector import SalesforceConnector  # noqa: E402
from mappings.loader import load_mapping_text  # noqa: E402
from sync.state.store import StateStore  # noqa: E402
from sync.views.impact import preview  # noqa: E402

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
TARGET_SECONDS = 10.0
BATCH = 5_000
STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Proposal/Price Quote",
          "Negotiation/Review")
REASONS = ("Price", "Timing", "Competitor", "No budget", "予算不足", "Duplicate")
LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "")
INQUIRY = ("demo_request", "pricing", "whitepaper", "newsletter", "contact_us")
# the sizes the connectors write with (their class defaults; a run takes each instance's `write_sizes`)
SIZES = {"salesforce": SalesforceConnector.write_sizes, "hubspot": HubSpotConnector.write_sizes}


def mappings() -> tuple[Any, Any]:
    text = (ROOT / "mappings" / "default.toml").read_text("utf-8")
    draft = (text.replace("version = 1 ", "version = 2 ", 1).replace("hot = 60\n", "hot = 70\n", 1)
             .replace("wait_days = 30 ", "wait_days = 14 ", 1))
    assert draft.count("hot = 70") == 1 and "wait_days = 14" in draft
    return load_mapping_text(text, "mappings/default.toml"), load_mapping_text(draft, "draft.toml")


def people(n: int, seed: int) -> tuple[list[ContactRef], list[LostDeal]]:
    rng = random.Random(seed)
    contacts: list[ContactRef] = []
    deals: list[LostDeal] = []
    stamp = datetime(2026, 5, 1, tzinfo=UTC)
    for i in range(n):
        email = f"person{i:07d}@example.com"
        deal = rng.random() < 0.4
        if not deal or rng.random() < 0.75:
            props: dict[str, str | None] = {
                "hs_email_open": str(rng.randint(0, 8)), "hs_email_click": str(rng.randint(0, 3)),
                "num_conversion_events": str(rng.randint(0, 2)),
                "hs_analytics_num_page_views": str(rng.randint(0, 30)),
                "lifecyclestage": rng.choice(LIFECYCLE),
                "hs_email_optout": rng.choice(("false",) * 5 + ("true",)),
                "numemployees": str(rng.choice((5, 50, 250, 1200, 8000))),
                "inquiry_type": rng.choice(INQUIRY),
                "firstname": f"First{i}", "lastname": "Person"}
            if rng.random() < 0.6:  # a click or an open some days ago (faded by the decay)
                props["hs_email_last_open_date"] = (NOW - timedelta(days=rng.randint(0, 200))).strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z")
                props["hs_email_last_click_date"] = str(
                    int((NOW - timedelta(days=rng.randint(0, 200))).timestamp() * 1000))
            contacts.append(ContactRef(str(100_000_000 + i), email, props, stamp))
        if deal:
            lost = date(2026, 6, 1) - timedelta(days=rng.randint(0, 800))
            deals.append(LostDeal(
                opportunity_id=f"006{i:015d}", name=f"Deal {i}", state="lost", stage_name="Closed Lost",
                stage_at_loss=rng.choice(STAGES), loss_reason=rng.choice(REASONS), lost_date=lost,
                amount=float(rng.randint(1, 500) * 10_000), owner_id="005000000000001AAA",
                account_id=f"001{i:015d}", account_name=f"Account {i}",
                account_employees=rng.choice((20, 300, 5000, None)), account_industry="Software",
                contacts=(DealContact(f"003{i:015d}", email, f"First{i}", "Person", rng.random() < 0.1,
                                      True),),
                modified_at=stamp, lost_date_source="history"))
    return contacts, deals


def build(url: str, n: int, seed: int) -> dict[str, int]:
    contacts, deals = people(n, seed)
    store = StateStore.open(url)
    try:
        for i in range(0, len(contacts), BATCH):
            store.upsert_contacts("hubspot", contacts[i:i + BATCH])
        for i in range(0, len(deals), BATCH):
            store.upsert_deals(deals[i:i + BATCH])
    finally:
        store.close()
    return {"hubspot_contacts": len(contacts), "deals": len(deals)}


def cpu_with_workers() -> float:
    """CPU seconds of this process and of its finished children (the preview's worker processes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def preview_only(url: str, profile: str | None, workers: int | None) -> dict[str, Any]:
    current, draft = mappings()
    store = StateStore.open(url)
    ticks: list[tuple[str, int, int | None]] = []
    try:
        cpu, started = cpu_with_workers(), time.perf_counter()
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        impact = preview(store, current, draft, now=NOW, sizes=SIZES, workers=workers,
                         progress=lambda *tick: ticks.append(tick))
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        seconds = time.perf_counter() - started
        cpu = cpu_with_workers() - cpu
    finally:
        store.close()
    d = impact.to_dict()
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "people": impact.people,
            "changed": impact.changed, "progress_ticks": len(ticks),
            "rank_changes": sum(r["people"] for r in d["rank"]),
            "group_changes": sum(r["people"] for r in d["group"]),
            "stage_changes": sum(r["people"] for r in d["stage"]), "call_tasks": impact.call_tasks,
            "writes": d["writes"], "estimated_api_calls": d["estimated_api_calls"],
            "sample": len(impact.sample)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--profile", help="write a cProfile of the preview to this file (with --workers 1: "
                    "a profile sees only its own process)")
    ap.add_argument("--workers", type=int, help="worker processes (default: the preview's own choice)")
    ap.add_argument("--preview-only", metavar="URL", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.preview_only:
        print(json.dumps(preview_only(args.preview_only, args.profile, args.workers)))
        return 0
    facts = machine_facts()
    with tempfile.TemporaryDirectory(prefix="bench-preview-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'state.db'}"
        progress(f"building a store of {args.people:,} people ...")
        started = time.perf_counter()
        built = build(url, args.people, args.seed)
        build_seconds = round(time.perf_counter() - started, 1)
        progress(f"built in {build_seconds} s; previewing ...")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--preview-only", url]
        if args.profile:
            cmd += ["--profile", args.profile]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        child = run_child(cmd, pass_stderr=True)
        result: dict[str, Any] = child.json()
    result.update({"benchmark": "preview", "people_built": args.people, "built": built,
                   "build_seconds": build_seconds, "wall_seconds": result["seconds"],
                   "child_cpu_seconds": round(child.cpu_seconds, 2), "peak_rss_mib": child.peak_rss_mib,
                   "target_seconds": TARGET_SECONDS, "met": result["seconds"] < TARGET_SECONDS,
                   "machine": facts})
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_machine(facts)
        print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
