"""The checkpoints' many-row statements (sync.state.bulk): the same rows as SQLAlchemy's Core path on
both backends, and on SQLite without per-row parameter processing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.base import FieldUpdate, ListChange
from sync.state import schema as s
from sync.state.bulk import delete_rows, upsert_rows, value_json
from sync.state.codec import scalar_to_json
from sync.state.store import StateStore

AT = datetime(2026, 12, 3, 12, 0, 0, 123456, tzinfo=UTC)


def _rows(store: StateStore) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(s.pending_writes).order_by(
            *s.pending_writes.primary_key.columns))]


def test_upsert_and_delete_rows_match_the_core_statements(store: StateStore) -> None:
    later = AT + timedelta(hours=2)
    row = {"system": "hubspot", "kind": "field", "target": "contacts", "field": "f", "run_id": 3}
    first = [{**row, "record_id": "1", "value": '"a"', "created_at": AT},
             {**row, "record_id": "2", "value": None, "created_at": AT},
             {**row, "record_id": "1", "value": '"b"', "created_at": later}]  # later rows win
    key = ["system", "kind", "target", "record_id", "field"]
    with store.engine.begin() as conn:
        upsert_rows(conn, s.pending_writes, first, key)
    assert _rows(store) == [("hubspot", "field", "contacts", "1", "f", '"b"', 3, later),
                            ("hubspot", "field", "contacts", "2", "f", None, 3, AT)]
    with store.engine.begin() as conn:  # an existing key: its other columns are replaced
        upsert_rows(conn, s.pending_writes, [{**row, "record_id": "2", "value": "7", "created_at": later}],
                    key)
        delete_rows(conn, s.pending_writes, [{"system": "hubspot", "kind": "field", "target": "contacts",
                                              "record_id": "1", "field": "f"},
                                             {"system": "hubspot", "kind": "field", "target": "contacts",
                                              "record_id": "1", "field": "other"}])  # no such row: nothing
    assert _rows(store) == [("hubspot", "field", "contacts", "2", "f", "7", 3, later)]


def test_a_failed_transaction_keeps_nothing_of_the_batch(store: StateStore) -> None:
    ups = [FieldUpdate("contacts", str(i), {"a": i}) for i in range(10)]
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        upsert_rows(conn, s.written_values, [
            {"system": "hubspot", "object": "contacts", "record_id": u.record_id, "field": "a", "value": "1",
             "written_at": AT, "mapping_version": 1, "run_id": 1} for u in ups], ["system", "object",
                                                                                "record_id", "field"])
        raise RuntimeError("crash inside the checkpoint")
    assert store.last_written("hubspot", "contacts", [u.record_id for u in ups]) == {}


def test_sqlite_checkpoints_convert_a_batch_timestamp_once(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLAlchemy's Core executemany converts every row's timestamp (and builds a full parameter
    set per row); the checkpoint hands the driver tuples and converts each distinct value once."""
    calls: list[object] = []
    original = s.UTCDateTime.process_bind_param

    def counting(self: Any, value: Any, dialect: Any) -> Any:
        calls.append(value)
        return original(self, value, dialect)

    monkeypatch.setattr(s.UTCDateTime, "process_bind_param", counting)
    store = StateStore.open(f"sqlite:///{tmp_path}/state.db")
    ups = [FieldUpdate("contacts", str(i), {"a": i, "b": f"v{i}", "c": True}) for i in range(500)]
    changes = [ListChange("L", str(i), "add") for i in range(500)]
    calls.clear()
    assert store.add_pending("hubspot", updates=ups, changes=changes, run_id=1) == 2_000
    assert store.record_writes("hubspot", ups, run_id=1, mapping_version=1, answered=ups, at=AT) == 1_500
    assert store.record_list_changes("hubspot", changes, run_id=1, answered=changes, at=AT) == 500
    assert len(calls) <= 3  # one per statement; the Core path: 4,000
    assert store.count_pending() == 0
    assert len(store.last_written("hubspot", "contacts", [u.record_id for u in ups])) == 1_500
    assert {m.added_at for m in store.get_memberships("hubspot", list_name="L")} == {AT}


VALUES: list[Any] = ["plain", "", 'a "quoted" word', "back\\slash", "tab\there", "ünïcödé ✓", '"', "1",
                     "true", "null", "007", "-0", 0, 1, -17, 10**30, -2.5, 1e300, 0.0, True, False, None]


def test_written_values_read_back_exactly(store: StateStore) -> None:
    """The planner's view decodes plain strings without the JSON parser: every value still comes
    back as it was written, of the same type."""
    ups = [FieldUpdate("contacts", str(i), {"f": v}) for i, v in enumerate(VALUES)]
    store.record_writes("hubspot", ups, run_id=1, mapping_version=1, at=AT)
    keys = [("hubspot", "contacts", str(i), "f") for i in range(len(VALUES))]
    got = store.last_written_map(keys)
    assert [got[k] for k in keys] == VALUES
    assert [type(got[k]) for k in keys] == [type(v) for v in VALUES]


@pytest.mark.parametrize("value", [*VALUES, float("nan"), float("inf"), 10**30, "\x00\u2028", "é\n"])
def test_value_json_is_the_codecs_encoding(value: Any) -> None:
    assert value_json(value) == scalar_to_json(value)


def test_value_json_refuses_what_the_codec_refuses() -> None:
    with pytest.raises(TypeError, match="written value"):
        value_json([1])  # type: ignore[arg-type]
