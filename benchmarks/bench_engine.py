"""How fast the engine assigns people: assignments per second on one core, and peak memory.

    python benchmarks/bench_engine.py                   # 1,000,000 people, a table
    python benchmarks/bench_engine.py --people 200000 --json
    python benchmarks/bench_engine.py --explain          # also put every assignment in words

Synthetic people are generated in chunks (seeded, so runs are comparable) and only `assign_many`
over each chunk is timed; generation is not. The headline figure divides by the process's CPU time
(one core, unaffected by other processes waiting for the CPU); wall-clock time is shown beside it.
Assignments are consumed and dropped, as a streaming sync would. The engine decides first and puts an
assignment in words (its reasons, the written explanation, the call task's text) only when they are
read; `--explain` reads them for every person (the written explanation once for each system the
mapping writes it to, as a sync does, and the task's subject and description), to show what that
costs. Peak memory is the process's peak resident set size (resource.getrusage), which includes the
interpreter and one chunk of people;
`--tracemalloc` also reports Python allocations (slower). To compare machines, the table also shows
how long `sum(range(1000))` takes here and the load average: on a shared or busy machine the figure is
lower than on an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import time
import timeit
import tracemalloc
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mappings import load_mapping_text  # noqa: E402
from mappings.engine import assign_many  # noqa: E402
from mappings.facts import DealFacts, PersonFacts  # noqa: E402
from mappings.render import field_value  # noqa: E402

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Legacy Stage",
]
REASONS = [
    "Price",
    "予算不足",
    "Competitor",
    "競合採用",
    "Timing",
    "時期尚早",
    "No Decision",
    "Product Fit",
    "Duplicate",
    "Spam",
    "Invalid Contact",
    None,
]
LIFECYCLE = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "",
]
LEAD_STATUS = ["NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED", "OPEN_DEAL", "BAD_TIMING"]
INQUIRY = ["demo_request", "pricing", "whitepaper", "newsletter", "contact_us"]


def synthetic_people(count: int, start: int, rng: random.Random) -> list[PersonFacts]:
    """`count` varied people: engagement counts and dates as HubSpot strings, 40% with lost deals."""
    people = []
    for n in range(start, start + count):
        values: dict[str, object] = {
            "hubspot.hs_email_open": str(rng.randint(0, 12)),
            "hubspot.hs_email_click": str(rng.randint(0, 4)),
            "hubspot.num_conversion_events": str(rng.randint(0, 3)),
            "hubspot.hs_analytics_num_page_views": str(rng.randint(0, 40)),
            "hubspot.lifecyclestage": rng.choice(LIFECYCLE),
            "hubspot.hs_email_optout": rng.choice(("false", "false", "false", "true")),
            "hubspot.numemployees": str(rng.choice((5, 50, 250, 1200, 8000))),
            "hubspot.inquiry_type": rng.choice(INQUIRY),
        }
        if rng.random() < 0.6:
            values["hubspot.hs_email_last_open_date"] = (NOW - timedelta(days=rng.randint(0, 400))).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            )
            values["hubspot.hs_email_last_click_date"] = str(
                int((NOW - timedelta(days=rng.randint(0, 400))).timestamp() * 1000)
            )
        if rng.random() < 0.3:
            values["hubspot.hs_lead_status"] = rng.choice(LEAD_STATUS)
        if rng.random() < 0.3:
            values["salesforce.Account.NumberOfEmployees"] = rng.choice((20, 300, 5000))
        deals: tuple[DealFacts, ...] = ()
        if rng.random() < 0.4:
            deals = tuple(
                DealFacts(
                    deal_id=f"006{n:012d}{k}",
                    state="lost" if rng.random() < 0.9 else rng.choice(("won", "open")),
                    stage_at_loss=rng.choice(STAGES),
                    loss_reason=rng.choice(REASONS),
                    lost_on=date(2026, 6, 1) - timedelta(days=rng.randint(0, 900)),
                    amount=float(rng.randint(1, 500) * 10_000),
                    owner_id="005000000000001AAA",
                    name=f"Deal {n}-{k}",
                )
                for k in range(rng.choice((1, 1, 1, 2, 3)))
            )
        people.append(PersonFacts(key=f"person{n}@example.com", values=values, deals=deals))
    return people


def run(people: int, chunk: int, seed: int, trace: bool, explain: bool = False) -> dict[str, object]:
    text = (ROOT / "mappings" / "default.toml").read_text("utf-8")
    mapping = load_mapping_text(text, "mappings/default.toml")
    rng = random.Random(seed)
    explained_in = sorted({fm.system for fm in mapping.field_mappings if fm.from_name == "explanation"}
                          if explain else ())
    if trace:
        tracemalloc.start()
    groups: Counter[str] = Counter()
    cpu = wall = 0.0
    done = 0
    while done < people:
        batch = synthetic_people(min(chunk, people - done), done, rng)
        started, started_cpu = time.perf_counter(), time.process_time()
        for a in assign_many(batch, mapping, NOW):
            groups[a.recycle_group or "none"] += 1
            for system in explained_in:  # as the sync does: once per system that writes it
                field_value(a, "explanation", mapping, system)
            if explain and a.task is not None:
                a.task.subject, a.task.description  # noqa: B018 - reading them builds them
        cpu += time.process_time() - started_cpu
        wall += time.perf_counter() - started
        done += len(batch)
    traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    reference = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    return {
        "people": done,
        "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(wall, 3),
        "assignments_per_second": round(done / cpu) if cpu else None,
        "assignments_per_wall_second": round(done / wall) if wall else None,
        "microseconds_per_assignment": round(cpu / done * 1e6, 2) if done else None,
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "traced_peak_mib": round(traced_peak / 2**20, 1) if traced_peak is not None else None,
        "chunk": chunk,
        "explained": explain,
        "reference_sum_range_1000_us": round(reference, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "recycle_groups": dict(sorted(groups.items())),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "target_per_second": 100_000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="synthetic people (default 1,000,000)")
    parser.add_argument("--chunk", type=int, default=20_000, help="people generated per timed chunk")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    parser.add_argument("--explain", action="store_true",
                        help="also build every written explanation and call-task text (timed too)")
    args = parser.parse_args(argv)
    result = run(args.people, max(1, args.chunk), args.seed, args.tracemalloc, args.explain)
    if args.json:
        print(json.dumps(result))
        return 0
    rows = [
        ("people", f"{result['people']:,}"),
        ("words", "every explanation and task text built" if args.explain
         else "decisions only (words when read)"),
        ("engine CPU time (s)", f"{result['cpu_seconds']:.2f}"),
        ("engine wall time (s)", f"{result['wall_seconds']:.2f}"),
        ("assignments / CPU s", f"{result['assignments_per_second']:,}"),
        ("assignments / wall s", f"{result['assignments_per_wall_second']:,}"),
        ("µs / assignment", f"{result['microseconds_per_assignment']}"),
        ("peak RSS (MiB)", f"{result['peak_rss_mib']}"),
    ]
    if result["traced_peak_mib"] is not None:
        rows.append(("traced peak (MiB)", f"{result['traced_peak_mib']}"))
    rows.append(("recycle groups", ", ".join(f"{k} {v:,}" for k, v in result["recycle_groups"].items())))  # type: ignore[attr-defined]
    rows.append(("target", "100,000 / s on one core"))
    rows.append(("machine speed", f"sum(range(1000)) takes {result['reference_sum_range_1000_us']} µs "
                                  f"(load average {result['load_average_1m']})"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
