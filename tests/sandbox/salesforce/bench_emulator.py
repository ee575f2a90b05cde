"""Throughput of the Salesforce emulator (not a test; run by hand):

    .venv/bin/python tests/sandbox/salesforce/bench_emulator.py [--seconds 5] [--clients 4]
        [--seed-contacts 1000] [--seed-only N]

The emulator runs in a child process (as in `leadsync sandbox`), clients are threads with keep-alive
HTTPS sessions (TLS verified). Reports requests/s for a small indexed query and for 200-record
sObject Collections updates, and the server process CPU time per request (capacity per core, meaningful
even on a busy machine); with --seed-only N the store seeding rate and memory.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from sandbox.salesforce import SalesforceEmulator  # noqa: E402


def _serve(contacts: int, queue: multiprocessing.Queue) -> None:
    emu = SalesforceEmulator()
    account = emu.store.create("Account", {"Name": "Acme"})
    ids = [
        emu.store.create("Contact", {"LastName": f"C{i}", "Email": f"c{i}@example.com", "AccountId": account})
        for i in range(contacts)
    ]
    server = emu.serve(tls_dir=Path(tempfile.mkdtemp()))
    queue.put({"url": server.url, "ca": str(emu.ca_file), "token": emu.mint_session(), "ids": ids})
    threading.Event().wait()


def _cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(
    seconds: float, clients: int, make_call: Callable[[requests.Session, int], None], ca: str
) -> tuple[float, int]:
    done, stop = [0] * clients, time.monotonic() + seconds

    def worker(n: int) -> None:
        session = requests.Session()
        session.trust_env = False
        session.verify = ca
        i = 0
        while time.monotonic() < stop:
            make_call(session, n * 100_000 + i)
            i += 1
        done[n] = i

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - start), sum(done)


def bench_http(seconds: float, clients: int, contacts: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(contacts, queue), daemon=True)
    proc.start()
    info = queue.get(timeout=120)
    base = f"{info['url']}/services/data/v59.0"
    headers = {"Authorization": f"Bearer {info['token']}", "Content-Type": "application/json"}
    ids = info["ids"]

    def small_query(session: requests.Session, i: int) -> None:
        email = f"c{i % len(ids)}@example.com"
        answer = session.get(
            f"{base}/query/",
            headers=headers,
            params={"q": f"SELECT Id, Email, Account.Name FROM Contact WHERE Email = '{email}'"},
        )
        assert answer.status_code == 200, answer.text

    def collection_update(session: requests.Session, i: int) -> None:
        start = (i * 200) % max(1, len(ids) - 200)
        records = [
            {"attributes": {"type": "Contact"}, "id": rid, "Lead_Score__c": i % 100, "Lead_Rank__c": "warm"}
            for rid in ids[start : start + 200]
        ]
        answer = session.patch(
            f"{base}/composite/sobjects",
            headers=headers,
            data=json.dumps({"allOrNone": False, "records": records}),
        )
        assert answer.status_code == 200 and all(r["success"] for r in answer.json()), answer.text[:300]

    def single_update(session: requests.Session, i: int) -> None:
        answer = session.patch(
            f"{base}/sobjects/Contact/{ids[i % len(ids)]}",
            headers=headers,
            data=json.dumps({"Lead_Rank__c": "hot"}),
        )
        assert answer.status_code == 204, answer.text

    for name, call in (
        ("small query (indexed email, 1 row)", small_query),
        ("single-record PATCH", single_update),
        ("collections update (200 records)", collection_update),
    ):
        cpu_before = _cpu_seconds(proc.pid)
        rate, count = _run(seconds, clients, call, info["ca"])
        cpu_ms = (_cpu_seconds(proc.pid) - cpu_before) / max(count, 1) * 1000
        print(
            f"{name:38s} {rate:7.0f} req/s measured; server CPU {cpu_ms:5.2f} ms/req "
            f"= {1000 / cpu_ms:6.0f} req/s per core"
        )
    proc.terminate()


def bench_seed(n: int) -> None:
    emu = SalesforceEmulator()
    store = emu.store
    base = datetime(2025, 1, 1, tzinfo=UTC)
    start, cpu_start = time.perf_counter(), time.process_time()
    accounts = [store.create("Account", {"Name": f"A{i}", "NumberOfEmployees": i}) for i in range(n // 10)]
    for i in range(n):
        store.create(
            "Contact",
            {
                "FirstName": "F",
                "LastName": f"L{i}",
                "Email": f"p{i}@example.com",
                "AccountId": accounts[i % len(accounts)],
                "Lead_Stage__c": "mql",
            },
            at=base + timedelta(minutes=(i * 7919) % 500_000),
        )
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"seeded {n * 11 // 10} records in {elapsed:.1f} s wall, {cpu:.1f} s CPU "
        f"({n * 1.1 / cpu:.0f} records per CPU-second), max RSS {rss:.0f} MB"
    )
    for soql in (
        "SELECT Id FROM Contact WHERE SystemModstamp > 2025-12-01T00:00:00Z",
        f"SELECT Id, Email FROM Contact WHERE Email = 'p{n // 2}@example.com'",
    ):
        t = time.perf_counter()
        rows = emu.engine.rows(emu.engine.compile(soql, base.date()), include_deleted=False)
        print(f"  {len(rows):7d} rows in {(time.perf_counter() - t) * 1000:7.1f} ms: {soql}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed-contacts", type=int, default=1000)
    parser.add_argument("--seed-only", type=int, default=0)
    args = parser.parse_args()
    if args.seed_only:
        bench_seed(args.seed_only)
    else:
        bench_http(args.seconds, args.clients, args.seed_contacts)


if __name__ == "__main__":
    main()
