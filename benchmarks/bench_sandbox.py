"""The sandbox's own cost at a given size: CPU to generate the demo book, CPU to load it, and the memory
each emulator holds once loaded.

    python benchmarks/bench_sandbox.py --people 100000
    python benchmarks/bench_sandbox.py --people 1000000 --json

Four child processes, so each figure is one process's alone: `generate` only streams the book (CPU
seconds, nothing kept); `salesforce` and `hubspot` each load the book into one emulator, `both` into
both as `leadsync sandbox` and the end-to-end benchmark do. Memory is the resident set size after
loading minus the size of the same process before (empty emulators, modules imported), each after a
full garbage collection; CPU is the process's user + system time to generate and load the book.
Targets (issue 12): both emulators at 1,000,000 people under 2 GiB, the book (generated and loaded
into both) in under 3 minutes. With a smaller --people the "at 1M" rows scale the per-person figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ROOT,
    machine_facts,
    print_machine,
    print_table,
    progress,
    run_child,
    self_cpu_seconds,
    self_rss_mib,
)

MIB = 1024 * 1024
PARTS = ("generate", "salesforce", "hubspot", "both")


def measure(part: str, people: int, seed: int) -> dict[str, Any]:
    """One part, in this process (called in a child)."""
    from datetime import UTC, datetime

    from sandbox.demo_data import generate
    from sandbox.demo_load import load_demo
    from sandbox.hubspot import HubSpotEmulator
    from sandbox.salesforce import SalesforceEmulator

    now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    emulators: dict[str, Any] = {}
    if part in ("salesforce", "both"):
        emulators["salesforce"] = SalesforceEmulator()
    if part in ("hubspot", "both"):
        emulators["hubspot"] = HubSpotEmulator(tokens=("t",))
    gc.collect()
    rss0, cpu0 = self_rss_mib(), self_cpu_seconds()
    book = generate(people=people, seed=seed, now=now)
    if not emulators:
        n = 0
        for account in book.accounts():
            n += len(account.people)
        loaded: dict[str, Any] = {"people": n}
    else:
        summary = load_demo(book, **emulators)
        loaded = dict(summary.__dict__)
    cpu = self_cpu_seconds() - cpu0
    gc.collect()
    rss = self_rss_mib() - rss0
    out: dict[str, Any] = {"part": part, "people": people, "cpu_seconds": round(cpu, 2),
                           "cpu_ms_per_person": round(cpu * 1000 / max(1, people), 4), "loaded": loaded}
    if emulators:
        out["rss_mib"] = round(rss, 1)
        out["bytes_per_person"] = round(rss * MIB / max(1, people))
    emulators.clear()
    return out


def run(people: int, seed: int, parts: tuple[str, ...] = PARTS) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine_facts(), "people": people, "seed": seed, "parts": {}}
    for part in dict.fromkeys((*parts, "both")):
        progress(f"{part}: {people:,} people")
        child = run_child([sys.executable, str(Path(__file__).resolve()), "--people", str(people),
                           "--seed", str(seed), "--part", part], cwd=ROOT, pass_stderr=True)
        result = child.json()
        result["peak_rss_mib"] = child.peak_rss_mib
        result["wall_seconds"] = round(child.wall_seconds, 1)
        results["parts"][part] = result
    both = results["parts"]["both"]
    results["emulators_rss_mib"] = both["rss_mib"]
    results["emulators_bytes_per_person"] = both["bytes_per_person"]
    results["emulators_mib_at_1m"] = round(both["rss_mib"] * 1_000_000 / max(1, people))
    results["book_cpu_seconds"] = both["cpu_seconds"]
    results["book_cpu_seconds_at_1m"] = round(both["cpu_ms_per_person"] * 1000, 1)
    return results


def render(r: dict[str, Any]) -> None:
    print_machine(r["machine"])
    p = r["parts"]
    rows: list[tuple[Any, ...]] = []
    if "generate" in p:
        rows += [("generate the book", "CPU s", p["generate"]["cpu_seconds"], ""),
                 ("generate the book", "CPU ms / person", p["generate"]["cpu_ms_per_person"], "")]
    for part in [x for x in ("salesforce", "hubspot") if x in p]:
        rows += [(f"{part} emulator", "load CPU s (generate + load)", p[part]["cpu_seconds"], ""),
                 (f"{part} emulator", "RSS MiB after loading", p[part]["rss_mib"], ""),
                 (f"{part} emulator", "bytes / person", p[part]["bytes_per_person"], "")]
    rows += [("both emulators", "book CPU s (generate + load both)", r["book_cpu_seconds"], ""),
             ("both emulators", "book CPU s at 1M (per-person rate x 1M)", r["book_cpu_seconds_at_1m"],
              "< 180"),
             ("both emulators", "RSS MiB after loading", r["emulators_rss_mib"], ""),
             ("both emulators", "bytes / person", r["emulators_bytes_per_person"], ""),
             ("both emulators", "MiB at 1M (per-person x 1M)", r["emulators_mib_at_1m"], "< 2,048")]
    print_table(f"sandbox at {r['people']:,} people", ["what", "measure", "value", "target"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="measure only these parts (repeatable; 'both' is always measured)")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)  # child mode
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.part:
        print(json.dumps(measure(args.part, args.people, args.seed), default=str))
        return 0
    result = run(args.people, args.seed, tuple(args.only or PARTS))
    if args.json:
        print(json.dumps(result, default=str))
    else:
        render(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
