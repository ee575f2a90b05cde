"""Throughput of the HubSpot emulator: requests/s for search and batch update over real HTTP.

    python -m sandbox.hubspot.bench [--contacts 100000] [--seconds 5] [--concurrency 4]

The emulator runs in a child process (as `leadsync sandbox` does), seeded with `--contacts` contacts
through the Python handle; client threads in this process send requests for `--seconds` per scenario.
Rate limits are lifted so that the emulator itself is measured. Prints seeding time, the child's
memory, requests/s per scenario, and the emulator's CPU time per request (what the emulator could
serve on one otherwise idle core; wall-clock rates drop on a busy machine), with a calibration line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import urllib3

from sandbox.hubspot.defaults import NUMEMPLOYEES_OPTIONS

START = datetime(2024, 1, 1, tzinfo=UTC)
STAGES = ("subscriber", "lead", "marketingqualifiedlead", "customer")


def _serve(contacts: int, out: Any, stop: Any) -> None:
    import psutil

    from sandbox.hubspot import HubSpotEmulator

    emu = HubSpotEmulator(requests_per_10s=10**9, daily_limit=10**12, searches_per_second=10**9)
    began = time.perf_counter()
    for i in range(contacts):
        emu.store.create_contact(
            {
                "email": f"bench{i}@example.com",
                "firstname": f"F{i}",
                "lastname": "Bench",
                "lifecyclestage": STAGES[i % 4],
                "hs_email_open": str(i % 13),
                "numemployees": NUMEMPLOYEES_OPTIONS[i % len(NUMEMPLOYEES_OPTIONS)],
            },
            at=START + timedelta(seconds=30 * i),
        )
    seeded = time.perf_counter() - began
    server = emu.serve()
    out.put({"url": server.url, "seed_s": seeded, "rss_mb": psutil.Process().memory_info().rss / 2**20})
    stop.wait()
    server.stop()


def _search_body(rng: random.Random, contacts: int) -> dict[str, Any]:
    lo = START + timedelta(seconds=30 * rng.randrange(max(1, contacts - 120)))
    hi = lo + timedelta(hours=1)
    return {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "GTE",
                        "value": str(int(lo.timestamp() * 1000)),
                    },
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "LT",
                        "value": str(int(hi.timestamp() * 1000)),
                    },
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 100,
        "properties": ["email", "lifecyclestage", "hs_email_open", "numemployees"],
    }


def _update_body(rng: random.Random, contacts: int) -> dict[str, Any]:
    ids = rng.sample(range(101, 101 + contacts), min(100, contacts))
    return {
        "inputs": [{"id": str(i), "properties": {"hs_lead_status": rng.choice(("NEW", "OPEN"))}} for i in ids]
    }


def _run(
    url: str,
    path: str,
    make_body: Callable[[random.Random, int], dict[str, Any]],
    contacts: int,
    seconds: float,
    concurrency: int,
) -> tuple[float, int]:
    done = [0] * concurrency
    failed = [0] * concurrency
    deadline = time.perf_counter() + seconds

    def worker(n: int) -> None:
        rng = random.Random(n)
        pool = urllib3.PoolManager(maxsize=1)
        headers = {"Authorization": "Bearer sandbox-token", "Content-Type": "application/json"}
        while time.perf_counter() < deadline:
            body = json.dumps(make_body(rng, contacts)).encode()
            response = pool.request("POST", url + path, body=body, headers=headers, retries=False)
            if response.status in (200, 207):
                done[n] += 1
            else:
                failed[n] += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - began), sum(failed), sum(done) + sum(failed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    import psutil  # a dev dependency, like this script

    ctx = mp.get_context("spawn")
    out, stop = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_serve, args=(args.contacts, out, stop), daemon=True)
    child.start()
    info = out.get(timeout=3600)
    server = psutil.Process(child.pid)
    began = time.process_time()
    sum(range(10**6))
    print(
        f"calibration: sum(range(10**6)) used {(time.process_time() - began) * 1000:.1f} ms of CPU "
        "(roughly 10-15 ms on an idle current x86 core)"
    )
    print(
        f"seeded {args.contacts:,} contacts in {info['seed_s']:.1f} s "
        f"({args.contacts / max(info['seed_s'], 1e-9):,.0f}/s); emulator RSS {info['rss_mb']:,.0f} MB"
    )
    try:
        for name, path, make in (
            (
                "search (1-hour lastmodifieddate window, limit 100)",
                "/crm/v3/objects/contacts/search",
                _search_body,
            ),
            ("batch update (100 inputs)", "/crm/v3/objects/contacts/batch/update", _update_body),
        ):
            cpu_before = sum(server.cpu_times()[:2])
            rate, failed, count = _run(info["url"], path, make, args.contacts, args.seconds, args.concurrency)
            cpu_ms = (sum(server.cpu_times()[:2]) - cpu_before) * 1000 / max(count, 1)
            print(
                f"{name}: {rate:,.0f} requests/s ({failed} failed); emulator CPU {cpu_ms:.2f} ms/request "
                f"= {1000 / max(cpu_ms, 1e-9):,.0f} requests/s per fully available core"
            )
    finally:
        stop.set()
        child.join(timeout=30)


if __name__ == "__main__":
    main()
