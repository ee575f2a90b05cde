"""Checkpoint semantics: each record_* call is one transaction. A process killed inside a batch loses
that batch only (it is redone next run); every batch recorded before it survives."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.base import FieldUpdate, ListChange
from sync.state.sql import WRITE_CHUNK
from sync.state.store import StateStore

N = WRITE_CHUNK  # records per batch: two values each, so every batch spans two executemany chunks


def updates(tag: str) -> list[FieldUpdate]:
    return [
        FieldUpdate("contacts", f"{tag}{i}", {"leadsync_score": i, "leadsync_stage": "mql"}) for i in range(N)
    ]


def list_changes(tag: str) -> list[ListChange]:
    return [ListChange("Nurture - Events", f"{tag}{i}", "add") for i in range(N)] + [
        ListChange("Nurture - Newsletter", f"a{i}", "remove") for i in range(10)
    ]


CHILD = textwrap.dedent("""
    import os, signal, sys
    import sqlalchemy as sa
    from connectors.base import FieldUpdate, ListChange
    from sync.state.store import StateStore
    from sync.state.sql import WRITE_CHUNK as N

    url, kind = sys.argv[1], sys.argv[2]
    st = StateStore.open(url)

    def record(tag):
        if kind == "writes":
            ups = [FieldUpdate("contacts", f"{tag}{i}", {"leadsync_score": i, "leadsync_stage": "mql"})
                   for i in range(N)]
            st.record_writes("hubspot", ups, run_id=1, mapping_version=1)
        else:
            changes = [ListChange("Nurture - Events", f"{tag}{i}", "add") for i in range(N)]
            changes += [ListChange("Nurture - Newsletter", f"a{i}", "remove") for i in range(10)]
            st.record_list_changes("hubspot", changes, run_id=1)

    st.add_memberships("hubspot", "Nurture - Newsletter", [f"a{i}" for i in range(10)], run_id=0)
    record("a")
    print("first batch recorded", flush=True)

    @sa.event.listens_for(st.engine, "after_cursor_execute")
    def die(conn, cursor, statement, params, context, executemany):
        if executemany:
            os.kill(os.getpid(), signal.SIGKILL)  # mid-transaction: some rows sent, nothing committed

    record("b")
    print("not reached", flush=True)
""")


def state_after(url: str) -> tuple[set[str], set[tuple[str, str]]]:
    with StateStore.open(url) as st:
        written = {w.record_id for w in st.iter_written("hubspot")}
        members = {(m.list_name, m.record_id) for m in st.get_memberships("hubspot")}
    return written, members


@pytest.mark.parametrize("kind", ["writes", "lists"])
def test_a_process_killed_inside_a_batch_keeps_every_earlier_batch(tmp_path: Path, kind: str) -> None:
    url = f"sqlite:///{tmp_path / 'leadsync.db'}"
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), url, kind], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -9, proc.stderr
    assert proc.stdout.strip() == "first batch recorded"
    written, members = state_after(url)
    if kind == "writes":
        assert written == {f"a{i}" for i in range(N)}
    else:
        assert written == set()
        # batch "a" moved a0..a9 off the newsletter and added a*; nothing of batch "b" is there
        assert members == {("Nurture - Events", f"a{i}") for i in range(N)}


class Boom(Exception):
    pass


def _fail_after_first_executemany(
    conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
) -> None:
    if executemany:
        raise Boom("database went away")  # rows of this batch were sent, nothing is committed yet


@pytest.mark.parametrize(
    "record",
    [
        lambda st: st.record_writes("hubspot", updates("b"), run_id=2, mapping_version=1),
        lambda st: st.record_list_changes("hubspot", list_changes("b"), run_id=2),
        lambda st: st.record_tasks("salesforce", [(f"k{i}", f"00T{i}") for i in range(5)], run_id=2),
    ],
    ids=["writes", "lists", "tasks"],
)
def test_an_error_inside_a_batch_records_none_of_it(
    store: StateStore, record: Callable[[StateStore], Any]
) -> None:
    store.add_memberships("hubspot", "Nurture - Newsletter", [f"a{i}" for i in range(10)], run_id=0)
    before = (list(store.iter_written()), store.get_memberships("hubspot"), store.tasks_for(["k0"]))
    sa.event.listen(store.engine, "after_cursor_execute", _fail_after_first_executemany)
    try:
        with pytest.raises(Boom):
            record(store)
    finally:
        sa.event.remove(store.engine, "after_cursor_execute", _fail_after_first_executemany)
    after = (list(store.iter_written()), store.get_memberships("hubspot"), store.tasks_for(["k0"]))
    assert after == before
    record(store)  # the same batch, redone, goes through
    assert (list(store.iter_written()), store.get_memberships("hubspot"), store.tasks_for(["k0"])) != before
