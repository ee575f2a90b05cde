"""The console's paged queries over the run history and the failures: keyset pages (no offset), each
one LIMITed query, no overlap and nothing left out, over a hand-built number of runs and failures."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from sync.state.records import NewFailure
from sync.state.store import StateStore
from sync.views.report import failure_code
from tests.sync.state.state_samples import T0


def _statements(store: StateStore) -> list[str]:
    seen: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: seen.append(statement))
    return seen


def test_120_runs_page_as_50_50_20_newest_first_without_overlap(store: StateStore) -> None:
    ids = [store.start_run(mapping_version=1, at=T0 + timedelta(minutes=i)) for i in range(120)]
    seen = _statements(store)
    pages, before = [], None
    while True:
        page = store.list_runs(50, before=before)
        if not page:
            break
        pages.append([r.id for r in page])
        before = page[-1].id
    assert [len(p) for p in pages] == [50, 50, 20]
    flat = [i for p in pages for i in p]
    assert flat == sorted(ids, reverse=True)  # newest first, every run once
    selects = [q for q in seen if "FROM runs" in q]
    assert len(selects) == 4 and all("LIMIT" in q.upper() for q in selects)


def test_open_failures_page_by_id_and_by_run(store: StateStore) -> None:
    first = store.start_run(mapping_version=1)
    second = store.start_run(mapping_version=1)
    store.add_failures(first, [NewFailure("hubspot", f"h{i:03}", "write", f"update: INVALID_EMAIL: bad {i}")
                               for i in range(70)], at=T0)
    store.add_failures(second, [NewFailure("salesforce", f"s{i:03}", "identity", "no email")
                                for i in range(40)], at=T0)
    store.resolve_failures("hubspot", [f"h{i:03}" for i in range(10)])  # 60 of the first run stay open

    def pages(**kwargs: object) -> list[list[int]]:
        out, after = [], None
        while page := store.failure_page(after=after, limit=50, **kwargs):  # type: ignore[arg-type]
            out.append([f.id for f in page])
            after = page[-1].id
        return out

    everything = pages()
    assert [len(p) for p in everything] == [50, 50]  # 60 + 40 open
    flat = [i for p in everything for i in p]
    assert flat == sorted(set(flat))
    assert [len(p) for p in pages(run_id=first)] == [50, 10]
    assert [len(p) for p in pages(run_id=second)] == [40]
    assert [len(p) for p in pages(run_id=first, include_resolved=True)] == [50, 20]
    one = store.failure_page(run_id=first, limit=1)[0]
    assert (one.record_key, failure_code(one)) == ("h010", "INVALID_EMAIL")
    identity = store.failure_page(run_id=second, limit=1)[0]
    assert failure_code(identity) == "identity"  # no code in the reason: the stage
