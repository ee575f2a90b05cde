"""The admin console's pages over a big state store: each page timed over real HTTP (uvicorn in a
thread on a free port, httpx signed in as an admin), with 1,000,000 people by default.

    python benchmarks/bench_console.py                        # 1,000,000 people (loading takes minutes)
    python benchmarks/bench_console.py --people 100000 --json
    python benchmarks/bench_console.py --db /tmp/console.db   # keep the store: a second call reuses it

The store is the synthetic history of benchmarks/bench_kpis.py (`bench_kpis.load`: standings in
`assignments`, contacts, lost deals, recycle cycles, list memberships, 5 stage moves a person), plus
finished runs with API calls and open failures; it is loaded in a child process (not timed, and its
memory is not this process's). Then every page is fetched once (warm-up: the first request to a page
may pay for caches; with the report cache, it starts the computation) and `--requests` times more;
each page's median and p95 are reported, with this process's peak RSS (server and client). With the
report cache, a run is then finished and the overview fetched: how long its next request takes (the
earlier run's figures) and when the new run's figures are there.
Target (issue 14): under 300 ms per page.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kpis import load  # noqa: E402  (the synthetic history builder, shared)
from common import ROOT, machine_facts, print_machine, print_table, progress, run_child, self_peak_rss_mib  # noqa: E402, I001

sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from sync.console import auth  # noqa: E402
from sync.console.app import create_app  # noqa: E402
from sync.inputs import load_mapping_file  # noqa: E402
from sync.state.records import NewFailure  # noqa: E402
from sync.state.store import StateStore  # noqa: E402

TARGET_MS = 300
RUNS = 20
FAILURES = 5_000
USER, PASSWORD = "bench", "bench console password"
# the pages (path, what to look for in the page: a wrong page is not a fast page)
PAGES = ("/", "/losses", "/people?q=p00012", "/person?email=p0000123@example.com", "/users")
EXTRA_PAGES = ("/runs", "/failures", "/mapping", "/mapping/versions")  # timed when this console has them
# pages reached by a link on another page (the first such link): a heat-map cell, one run
LINKED_PAGES = (("/losses", r'href="(/losses/cell\?[^"]+)"'), ("/runs", r'href="(/runs/\d+)"'))


def linked_pages(client: httpx.Client) -> list[str]:
    found = []
    for page, pattern in LINKED_PAGES:
        link = re.search(pattern, client.get(page).text)
        if link:
            found.append(html.unescape(link.group(1)))
    return found


def load_store(url: str, people: int, moves: int, seed: int) -> dict[str, Any]:
    """bench_kpis's history, then runs (each with API calls per system) and open failures."""
    counts = load(url, people, moves, seed)
    store = StateStore.open(url)
    try:
        at = datetime(2026, 11, 1, tzinfo=UTC)
        for n in range(RUNS):
            run = store.start_run(mapping_version=1, at=at + timedelta(days=n))
            calls = {"salesforce": {"query": 40 + n, "salesforce.collections": 120},
                     "hubspot": {"search": 300, "batch_update": 200 + n}}
            store.finish_run(run, status="ok" if n % 5 else "partial", api_calls=calls,
                             counts={"people": people, "stage_moves": 1000 + n},
                             at=at + timedelta(days=n, minutes=30))
        store.add_failures(run, [NewFailure("hubspot" if i % 2 else "salesforce", f"rec{i:07d}",
                                            ("identity", "map", "write")[i % 3], f"error {i % 7}: rejected")
                                 for i in range(FAILURES)], at=at + timedelta(days=RUNS))
        auth.set_password(store, USER, "admin", PASSWORD, by=None)
    finally:
        store.close()
    return {**counts, "runs": RUNS, "failures": FAILURES}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(store: StateStore) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    app = create_app(store, load_mapping_file(None))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def sign_in(client: httpx.Client) -> None:
    page = client.get("/login").text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    if not found:
        raise RuntimeError("no CSRF token on /login")
    response = client.post("/login", data={"user": USER, "password": PASSWORD, "csrf": found.group(1)})
    if response.status_code != 303:
        raise RuntimeError(f"sign-in refused: {response.status_code}")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def time_page(client: httpx.Client, path: str, requests: int, settle: float) -> dict[str, Any]:
    """One warm-up request, then `requests` timed ones. `settle`: at most this long, wait (after the
    warm-up) while the page says it is being computed (the report cache's first computation)."""
    started = time.perf_counter()
    first = client.get(path)
    warm_ms = (time.perf_counter() - started) * 1000
    waited = 0.0
    while 'data-computing="1"' in first.text and waited < settle:
        time.sleep(0.5)
        waited += 0.5
        first = client.get(path)
    times, statuses, sizes = [], set(), []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        statuses.add(response.status_code)
        sizes.append(len(response.content))
    median = statistics.median(times)
    high = p95(times)
    return {"page": path, "status": sorted(statuses), "warm_up_ms": round(warm_ms, 1),
            "waited_for_computation_s": waited, "median_ms": round(median, 1), "p95_ms": round(high, 1),
            "max_ms": round(max(times), 1), "bytes": max(sizes), "requests": requests,
            "met": statuses == {200} and high < TARGET_MS}


def after_a_new_run(client: httpx.Client, store: StateStore, settle: float) -> dict[str, Any]:
    """A run finishes: the overview's next request (served from the figures of the run before, marked
    as being updated) and how long until the new run's figures are there."""
    run = store.start_run(mapping_version=1)
    store.finish_run(run, status="ok")
    started = time.perf_counter()
    first = client.get("/")
    first_ms = (time.perf_counter() - started) * 1000
    while f"As of run {run} (" not in client.get("/").text and time.perf_counter() - started < settle:
        time.sleep(0.5)
    return {"run": run, "first_request_ms": round(first_ms, 1), "first_request_status": first.status_code,
            "first_request_showed_earlier_figures": "As of run " in first.text and "updated" in first.text,
            "new_figures_after_s": round(time.perf_counter() - started, 1)}


def timed(client: httpx.Client, path: str, requests: int, settle: float) -> dict[str, Any]:
    progress(f"{path} ...")
    r = time_page(client, path, requests, settle)
    progress(f"{path}: median {r['median_ms']} ms, p95 {r['p95_ms']} ms (warm-up {r['warm_up_ms']} ms)")
    return r


def measure(url: str, requests: int, settle: float) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    store = StateStore.open(url)
    server, thread, base = serve(store)
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            sign_in(client)
            results = []
            for path in (*PAGES, *EXTRA_PAGES):
                if path in EXTRA_PAGES and client.get(path).status_code == 404:
                    continue  # not in this checkout's console
                results.append(timed(client, path, requests, settle))
            for path in linked_pages(client):  # now that the pages holding the links are computed
                results.append(timed(client, path, requests, settle))
            new_run = None
            if "As of run" in client.get("/").text:  # this checkout's console has the report cache
                progress("a new run finishes ...")
                new_run = after_a_new_run(client, store, settle)
                progress(f"after a new run: {new_run}")
        return results, new_run
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--moves", type=int, default=5, help="stage and rank moves per person (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=10, help="timed requests per page (default 10)")
    parser.add_argument("--settle", type=float, default=600.0,
                        help="at most this many seconds to wait for a page's first computation")
    parser.add_argument("--db", type=Path, help="SQLite file of the store (kept; reused when it exists)")
    parser.add_argument("--load-only", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.load_only:
        print(json.dumps(load_store(args.load_only, args.people, args.moves, args.seed)))
        return 0
    with tempfile.TemporaryDirectory(prefix="leadsync-bench-console-") as tmp:
        db = args.db or Path(tmp) / "state.db"
        url = f"sqlite:///{db}"
        loaded: dict[str, Any] = {"reused": str(db)}
        load_seconds = None
        if not db.exists():
            progress(f"load {args.people:,} people's history into {db} ...")
            child = run_child([sys.executable, __file__, "--load-only", url, "--people", str(args.people),
                               "--moves", str(args.moves), "--seed", str(args.seed)], timeout=7200)
            if child.returncode != 0:
                raise RuntimeError(f"load failed: {child.stderr[-2000:]}")
            loaded, load_seconds = child.json(), round(child.wall_seconds, 1)
            progress(f"loaded {loaded} in {load_seconds} s")
        pages, new_run = measure(url, args.requests, args.settle)
    out = {"benchmark": "console", "machine": machine_facts(), "people": args.people, "store": loaded,
           "load_seconds": load_seconds, "target_ms": TARGET_MS, "pages": pages,
           "after_a_new_run": new_run, "peak_rss_mib": self_peak_rss_mib(),
           "met": all(p["met"] for p in pages)}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print_machine(out["machine"])
        print_table(f"console pages, {args.people:,} people ({args.requests} requests each, after a warm-up)",
                    ["page", "median ms", "p95 ms", "warm-up ms", "target", "met"],
                    [(p["page"], p["median_ms"], p["p95_ms"], p["warm_up_ms"], f"< {TARGET_MS}",
                      "yes" if p["met"] else "NO") for p in pages])
        print(f"peak RSS {out['peak_rss_mib']} MiB (server and client)")
        if new_run:
            print(f"after a new run: the overview's next request {new_run['first_request_ms']} ms (earlier "
                  f"figures shown: {new_run['first_request_showed_earlier_figures']}), the new figures after "
                  f"{new_run['new_figures_after_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
