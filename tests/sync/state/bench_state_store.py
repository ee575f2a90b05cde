"""Throughput of the state store, identity and planner at scale (not a test: run it by hand).

    .venv/bin/python tests/sync/state/bench_state_store.py [N]

Prints wall and CPU seconds (CPU: less sensitive to a loaded machine) and rates for N (default
100,000) deal and contact snapshot upserts, N record_writes
(field values, in batches of 200 records as the runner records them), streaming iteration, identity
resolution of N people and planning of N people.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.base import ContactRef, DealContact, FieldUpdate, LostDeal
from sync.run.identity import resolve, to_person_facts
from sync.run.plan import FieldTarget, ListTarget, PersonDesired, PlanState, plan
from sync.state.store import StateStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def timed(label: str, n: int, fn: Callable[[], Any]) -> Any:
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{label:<48} {n:>9,} in {secs:7.2f} s wall, {cpu:6.2f} s CPU ({n / cpu:>9,.0f}/s CPU)", flush=True)
    return out


def deals(n: int) -> list[LostDeal]:
    return [
        LostDeal(
            f"006{i:015d}",
            f"Deal {i}",
            "lost",
            "Closed Lost",
            "Negotiation/Review",
            "Price",
            date(2024, 1, 1) + timedelta(days=i % 300),
            1000.0,
            "005X",
            f"001{i:015d}",
            "Acme",
            100,
            "Software",
            (DealContact(f"003{i:015d}", f"Person{i}@Example.com", "太郎", "山田", False, True),),
            T0 + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def contacts(n: int) -> list[ContactRef]:
    return [
        ContactRef(
            str(i),
            f"person{i}@example.com",
            {"hs_email_open": str(i % 9), "lifecyclestage": "lead", "hs_email_optout": "false"},
            T0 + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, StateStore.open(f"sqlite:///{Path(tmp) / 'bench.db'}") as st:
        d, c = deals(n), contacts(n)
        timed("upsert_deals (insert)", n, lambda: st.upsert_deals(d))
        timed("upsert_deals (replace)", n, lambda: st.upsert_deals(d))
        timed("upsert_contacts", n, lambda: st.upsert_contacts("hubspot", c))
        timed("iter_deals (stream)", n, lambda: sum(1 for _ in st.iter_deals()))
        timed("iter_contacts (stream)", n, lambda: sum(1 for _ in st.iter_contacts("hubspot")))
        ups = [
            FieldUpdate("contacts", str(i), {"leadsync_score": i % 100, "leadsync_stage": "mql"})
            for i in range(n)
        ]

        def record() -> None:
            for k in range(0, n, 200):
                st.record_writes("hubspot", ups[k : k + 200], run_id=1, mapping_version=1)

        timed("record_writes, 200 records/txn (2 fields each)", n, record)
        timed(
            "last_written_map",
            2 * n,
            lambda: st.last_written_map(
                ("hubspot", "contacts", str(i), f)
                for i in range(n)
                for f in ("leadsync_score", "leadsync_stage")
            ),
        )
        res = timed(
            "identity resolve (people)", n, lambda: resolve(st.iter_deals(), st.iter_contacts("hubspot"),
                                                         optout_property="hs_email_optout")
        )
        timed("to_person_facts", n, lambda: [to_person_facts(p) for p in res.people.values()])
        people = [
            PersonDesired(
                p.key,
                fields=(
                    FieldTarget("hubspot", "contacts", p.hubspot_contact_ids[0], "leadsync_score", 50),
                    FieldTarget("salesforce", "Contact", p.salesforce_contact_ids[0], "Lead_Score__c", 50),
                    FieldTarget(
                        "salesforce",
                        "Contact",
                        p.salesforce_contact_ids[0],
                        "Recycle_Group__c",
                        "high",
                        "keep_manual",
                        current="high",
                    ),
                ),
                lists=(ListTarget("hubspot", "Nurture - Events", p.hubspot_contact_ids[0]),),
            )
            for p in res.people.values()
        ]
        timed("plan (people, 3 fields + 1 list each)", n, lambda: plan(people, PlanState()))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
