"""Quota efficiency: 20,000 HubSpot contact updates under 100 requests / 10 s, batched versus naive.

    python benchmarks/bench_quota.py                    # 20,000 contacts, naive sample of 300 calls
    python benchmarks/bench_quota.py --contacts 5000 --naive-sample 150 --json

The HubSpot emulator holds exactly `--contacts` contacts (no Salesforce data). A first sync (quota
lifted) writes everything the default mapping asks for except one property, `leadsync_rank`. Then the
mapping gains that property back (as when an admin adds a field), `leadsync setup` creates it, the
emulator is limited to 100 requests per 10 s (leadsync's hubspot.requests_per_10s = 100 too) and a
second sync runs: it has exactly one property update per contact to make and nothing else to write.

Measured on the server side: the write phase (first to last batch update), updates/s versus the
quota-bound maximum of 100 requests x 100 records per 10 s = 1,000 records/s, the 429s the limiter
sent and that every one was retried (all contacts end with the property set, none failed).

Naive baseline, same emulator, same quota: hubspot-api-client's basic PATCH per contact on a sample
(`--naive-sample` calls, child process), extrapolated to all contacts from its steady-state rate; and
simple-salesforce's `sf.Contact.update` per record against the Salesforce emulator (no short-term
quota there) next to sObject Collections on the same records, extrapolated likewise.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ROOT,
    instrument,
    leadsync,
    machine_facts,
    merge_sections,
    phase,
    print_machine,
    print_table,
    run_child,
    write_settings,
)

from sandbox.launcher import Sandbox  # noqa: E402

QUOTA = 100  # requests per 10 s
BATCH = 100  # records per batch update
ADDED_PROPERTY = "leadsync_rank"
ADDED_LINE = 'leadsync_rank = { from = "rank", policy = "overwrite" }'
UNLIMITED = 1_000_000
LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity")


def seed_hubspot(box: Sandbox, n: int, seed: int) -> list[str]:
    """`n` HubSpot-only contacts with varied engagement, distinct modification times."""
    rng = random.Random(seed)
    now = box.hubspot.clock()
    ids = []
    for i in range(n):
        at = now - timedelta(days=400) + timedelta(seconds=i * 7)
        props = {
            "email": f"quota{i}@bench.example.com",
            "firstname": f"Q{i}",
            "lastname": "Bench",
            "lifecyclestage": rng.choice(LIFECYCLE),
            "hs_email_open": str(rng.randint(0, 20)),
            "hs_email_click": str(rng.randint(0, 6)),
            "num_conversion_events": str(rng.randint(0, 4)),
            "numemployees": rng.choice(("5-25", "100-500", "1000+")),  # an enumeration of ranges
        }
        last = now - timedelta(days=rng.randint(1, 300))
        props["hs_email_last_open_date"] = str(int(last.timestamp() * 1000))
        ids.append(box.hubspot.store.create_contact(props, at=at))
    return ids


def mapping_files(workdir: Path) -> tuple[Path, Path]:
    """(without the added property, the default mapping) as files in `workdir`."""
    text = (ROOT / "mappings" / "default.toml").read_text("utf-8")
    if ADDED_LINE not in text:
        raise RuntimeError(f"mappings/default.toml lost the line {ADDED_LINE!r}; update the benchmark")
    without = workdir / "mapping-without-rank.toml"
    without.write_text(text.replace(ADDED_LINE + "\n", ""), "utf-8")
    full = workdir / "mapping.toml"
    full.write_text(text, "utf-8")
    return without, full


def steady_rate(done_at: list[float], free: int) -> float | None:
    """Calls per second not counting the first `free` calls, which an idle rolling window lets through
    at once: (calls - free) / total time. Under a 100 / 10 s window this tends to 10 / s."""
    if len(done_at) <= free or done_at[-1] <= 0:
        return None
    return (len(done_at) - free) / done_at[-1]


def bench(contacts: int, naive_sample: int, seed: int, workdir: Path) -> dict[str, Any]:
    timings: dict[str, float] = {}
    facts = machine_facts()
    box = Sandbox.start(people=0, seed=seed, workdir=workdir, hubspot_requests_per_10s=UNLIMITED)
    try:
        with phase(f"seed {contacts:,} HubSpot contacts", timings):
            ids = seed_hubspot(box, contacts, seed)
        box.hubspot.limiter.searches_per_second = UNLIMITED
        without, full = mapping_files(workdir)
        state_url = f"sqlite:///{workdir}/state.db"
        base = box.settings_dict(state_url)
        fast = write_settings(workdir / "prepare.toml", merge_sections(base, {
            "hubspot": {"requests_per_10s": UNLIMITED, "searches_per_second": float(UNLIMITED)},
            "sync": {"mapping_file": str(without)}}))
        with phase("prepare: setup + first sync without the property (quota lifted)", timings):
            for args in (("setup", "--json"), ("sync", "--json")):
                child = leadsync(*args, config=fast)
                if child.returncode != 0:
                    raise RuntimeError(f"leadsync {args[0]} failed: {child.stdout[-2000:]}"
                                       f"{child.stderr[-2000:]}")
            setup_full = write_settings(workdir / "setup-full.toml", merge_sections(
                base, {"hubspot": {"requests_per_10s": UNLIMITED}, "sync": {"mapping_file": str(full)}}))
            added = leadsync("setup", "--json", config=setup_full)
            if added.returncode != 0:
                raise RuntimeError(f"leadsync setup (full mapping) failed: {added.stdout}{added.stderr}")
        limited = write_settings(workdir / "limited.toml", merge_sections(base, {
            "hubspot": {"requests_per_10s": QUOTA}, "sync": {"mapping_file": str(full)}}))
        box.hubspot.limiter.requests_per_10s = QUOTA
        box.hubspot.limiter.searches_per_second = 5.0
        tally = instrument(box.salesforce, box.hubspot)
        time.sleep(0.1)
        box.hubspot.limiter.reset()
        with phase(f"sync with {contacts:,} updates under {QUOTA} requests / 10 s", timings):
            child = leadsync("sync", "--json", config=limited)
        result = child.json()
        server = tally.snapshot()
        span = tally.first_last("hubspot.batch_update")
        counts = result.get("counts", {})
        updated = counts.get("hubspot.records_updated", 0)
        batches_ok = -(-updated // BATCH)
        hits = server["calls"].get("hubspot.batch_update", 0)
        write_seconds = (span[1] - span[0] + 10.0 / QUOTA) if span else None  # + one request slot
        rate = updated / write_seconds if write_seconds else None
        max_rate = QUOTA * BATCH / 10
        with_value = sum(1 for c in box.hubspot.store.all_active() if c.prop(ADDED_PROPERTY))
        non_search = sum(v for k, v in server["calls"].items()
                         if k.startswith("hubspot.") and k != "hubspot.search")
        batched = {
            "status": result.get("status"),
            "exit_code": child.returncode,
            "contacts": contacts,
            "updates": updated,
            "records_failed": counts.get("hubspot.write_failures", 0),
            "contacts_with_property_after": with_value,
            "wall_seconds": round(child.wall_seconds, 1),
            "write_phase_seconds": round(write_seconds, 2) if write_seconds else None,
            "updates_per_second_overall": round(rate, 1) if rate else None,
            "quota_max_updates_per_second": max_rate,
            "share_of_max_pct": round(100 * rate / max_rate, 1) if rate else None,
            "search_calls": server["calls"].get("hubspot.search", 0),
            "search_minimum": -(-contacts // 200),
            "batch_update_calls": hits,
            "batch_update_needed": batches_ok,
            "hubspot_non_search_calls": non_search,
            "rate_limit_429_sent": server["refused_429"],
            # every refused request was retried until it landed: all contacts carry the value, none failed
            "all_429_handled": (with_value == contacts == updated and result.get("status") == "ok"
                                and not counts.get("hubspot.write_failures", 0)),
            "peak_rss_mib": child.peak_rss_mib,
            "server": server,
        }
        naive = naive_baselines(box, base, workdir, ids, naive_sample, contacts, timings, write_seconds)
        return {"benchmark": "quota", "machine": facts, "seconds": timings, "quota_requests_per_10s": QUOTA,
                "batched": batched, "naive": naive}
    finally:
        box.stop()


def naive_baselines(box: Sandbox, base: Mapping[str, Mapping[str, Any]], workdir: Path, ids: list[str],
                    sample: int, contacts: int, timings: dict[str, float],
                    batched_seconds: float | None) -> dict[str, Any]:
    """One call per record: HubSpot PATCH under the same quota; Salesforce update (no such quota)."""
    box.hubspot.limiter.reset()
    # the naive client logs in with username, password and security token through simple-salesforce
    # (the leadsync settings in `base` use JWT): give it the sandbox's password credentials
    password_login = box.settings_dict(base["state"]["url"], auth="password")["salesforce"]
    settings = write_settings(workdir / "naive.toml", merge_sections(
        base, {"hubspot": {"requests_per_10s": QUOTA}, "salesforce": password_login}))
    ids_file = workdir / "naive-hubspot-ids.txt"
    ids_file.write_text("\n".join(ids[:sample]), "utf-8")
    script = str(Path(__file__).resolve().parent / "naive_client.py")
    with phase(f"naive HubSpot: {sample} PATCH calls under {QUOTA} / 10 s", timings):
        hs = run_child([sys.executable, script, "hubspot", str(settings), str(ids_file),
                        "--property", ADDED_PROPERTY, "--value", "cold"]).json()
    hs_rate = steady_rate(hs["done_at"], QUOTA if len(hs["done_at"]) > 2 * QUOTA else 0)
    hs_total = contacts / hs_rate if hs_rate else None

    sf_ids = seed_salesforce(box, sample)
    sf_file = workdir / "naive-salesforce-ids.txt"
    sf_file.write_text("\n".join(sf_ids), "utf-8")
    with phase(f"naive Salesforce: {sample} single-record updates, then Collections", timings):
        sf = run_child([sys.executable, script, "salesforce", str(settings), str(sf_file),
                        "--field", "Lead_Rank__c", "--value", "warm"]).json()
    sf_per_call = sf["seconds"] / max(1, sf["calls"])
    coll_per_record = sf["collections_seconds"] / max(1, sf["calls"])
    return {
        "hubspot": {
            "sample_calls": hs["calls"],
            "sample_seconds": round(hs["seconds"], 1),
            "steady_calls_per_second": round(hs_rate, 2) if hs_rate else None,
            "calls_for_all": contacts,
            "extrapolated_seconds_for_all": round(hs_total, 0) if hs_total else None,
            "batched_calls_for_all": -(-contacts // BATCH),
            "call_ratio": round(contacts / -(-contacts // BATCH), 1),
            "time_ratio": round(hs_total / batched_seconds, 1) if hs_total and batched_seconds else None,
        },
        "salesforce": {
            "sample_records": sf["calls"],
            "single_calls_seconds": round(sf["seconds"], 2),
            "single_ms_per_record": round(1000 * sf_per_call, 2),
            "collections_calls": sf["collections_calls"],
            "collections_seconds": round(sf["collections_seconds"], 2),
            "collections_ms_per_record": round(1000 * coll_per_record, 3),
            "call_ratio": round(sf["calls"] / max(1, sf["collections_calls"]), 1),
            "time_ratio": round(sf_per_call / coll_per_record, 1) if coll_per_record else None,
            "extrapolated_single_seconds_for_all": round(sf_per_call * contacts, 0),
            "extrapolated_collections_seconds_for_all": round(coll_per_record * contacts, 1),
        },
    }


def seed_salesforce(box: Sandbox, n: int) -> list[str]:
    store = box.salesforce.store
    account = store.create("Account", {"Name": "Naive Bench"})
    return [store.create("Contact", {"LastName": f"Naive{i}", "AccountId": account,
                                     "Email": f"naive{i}@bench.example.com"}) for i in range(n)]


def render(result: Mapping[str, Any]) -> None:
    print_machine(result["machine"])
    b = result["batched"]
    rows = [
        ("status", b["status"]), ("contact updates made", b["updates"]),
        ("records failed", b["records_failed"]),
        ("contacts with the property afterwards", b["contacts_with_property_after"]),
        ("sync wall time (s, includes searching all contacts)", b["wall_seconds"]),
        ("search calls made / minimum (contacts / 200)", f"{b['search_calls']} / {b['search_minimum']}"),
        ("write phase (s, first to last batch update)", b["write_phase_seconds"]),
        ("updates / s over the write phase", b["updates_per_second_overall"]),
        ("quota-bound maximum (100 requests x 100 records / 10 s)", b["quota_max_updates_per_second"]),
        ("share of the maximum (%; target >= 90)", b["share_of_max_pct"]),
        ("batch update calls (accepted + refused)", b["batch_update_calls"]),
        ("429s sent by the emulator (by policy)", json.dumps(b["rate_limit_429_sent"])),
        ("batch updates needed (ceil(updates / 100))", b["batch_update_needed"]),
        ("every 429 handled (all written, none failed)", b["all_429_handled"]),
        ("sync peak RSS (MiB)", b["peak_rss_mib"]),
    ]
    print_table(f"quota efficiency: HubSpot limited to {result['quota_requests_per_10s']} requests / 10 s",
                ["measure", "value"], rows)
    hs, sf = result["naive"]["hubspot"], result["naive"]["salesforce"]
    quota = "HubSpot, same quota"
    rows2 = [
        (quota, "calls for all", b["batch_update_calls"], hs["calls_for_all"], hs["call_ratio"]),
        (quota, "seconds for all", b["write_phase_seconds"], hs["extrapolated_seconds_for_all"],
         hs["time_ratio"]),
        (quota, f"naive sample: {hs['sample_calls']} calls (s)", None, hs["sample_seconds"], None),
        ("Salesforce", "calls for the sample", sf["collections_calls"], sf["sample_records"],
         sf["call_ratio"]),
        ("Salesforce", "ms per record", sf["collections_ms_per_record"], sf["single_ms_per_record"],
         sf["time_ratio"]),
        ("Salesforce", "seconds for all (extrapolated)", sf["extrapolated_collections_seconds_for_all"],
         sf["extrapolated_single_seconds_for_all"], sf["time_ratio"]),
    ]
    print_table("naive baseline: one record per API call", ["system", "measure", "batched", "naive", "ratio"],
                rows2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000, help="updates to make (default 20,000)")
    parser.add_argument("--naive-sample", type=int, default=300, help="naive calls to time (default 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="leadsync-bench-quota-") as tmp:
        result = bench(args.contacts, args.naive_sample, args.seed, Path(tmp))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    else:
        render(result)
    return 0 if result["batched"]["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())

