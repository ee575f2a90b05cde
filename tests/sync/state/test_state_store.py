"""The state store on a real SQLite file: creation, permissions, and every kind of state it keeps."""

from __future__ import annotations

import json
import sqlite3
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.base import ContactRef, DealContact, FieldUpdate, ListChange
from sync.state import schema as state_schema
from sync.state.codec import deal_from_json, deal_to_json
from sync.state.records import NewFailure
from sync.state.runs import redact_secrets
from sync.state.sql import StateUrlError, display_url, portable_upsert, upsert
from sync.state.store import StateStore
from tests.sync.state.state_samples import T0, contact, deal


def db_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


# --------------------------------------------------------------------------- file, mode, schema


def test_open_creates_owner_only_file_in_wal_mode(sqlite_url: str) -> None:
    db_url = sqlite_url
    with StateStore.open(db_url) as st:
        st.set_watermark("hubspot.contacts", T0)  # forces the WAL and shm files into existence
        path = db_file(db_url)
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert p.exists(), p
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert st.schema_version() == state_schema.LATEST_VERSION
        names = set(sa.inspect(st.engine).get_table_names())
        assert set(state_schema.table_names()) <= names


def test_reopen_is_idempotent_and_keeps_data(db_url: str) -> None:
    with StateStore.open(db_url) as st:
        st.set_watermark("salesforce.opportunities", T0)
    with StateStore.open(db_url) as st:
        assert st.get_watermark("salesforce.opportunities") == T0
        with st.engine.connect() as conn:
            rows = conn.execute(sa.select(state_schema.schema_version)).all()
        assert [r.version for r in rows] == [m.version for m in state_schema.MIGRATIONS]


def test_existing_file_readable_by_others_is_reported(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db_url = sqlite_url
    path = db_file(db_url)
    StateStore.open(db_url).close()
    path.chmod(0o644)
    with StateStore.open(db_url):
        pass
    assert "chmod 600" in caplog.text


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(StateUrlError, match="in-memory"):
        StateStore.open(url)


def test_url_hides_password(store: StateStore, db_url: str) -> None:
    shown = display_url("postgresql+psycopg://leadsync:s3cret@db.example:5432/leadsync")
    assert "s3cret" not in shown and "leadsync:***@db.example:5432/leadsync" in shown
    assert store.url == db_url


# --------------------------------------------------------------------------- watermarks


def test_watermarks_round_trip_as_aware_utc(store: StateStore) -> None:
    assert store.get_watermark("hubspot.contacts") is None
    tokyo = datetime(2024, 5, 1, 18, 30, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    store.set_watermark("hubspot.contacts", tokyo)
    got = store.get_watermark("hubspot.contacts")
    assert got == tokyo and got is not None and got.tzinfo == UTC
    store.set_watermark("hubspot.contacts", T0)
    assert store.watermarks() == {"hubspot.contacts": T0}


def test_naive_datetimes_are_refused(store: StateStore) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        store.set_watermark("x", datetime(2024, 1, 1))


# --------------------------------------------------------------------------- snapshots


def test_deal_snapshots_round_trip_exactly(store: StateStore) -> None:
    huge = "x" * 100_000
    deals = [
        deal(1, contacts=3),
        deal(2, name="商談 🚀 " + huge),
        deal(3, state="won"),
        replace(
            deal(4),
            contacts=(DealContact("0030000000000X1", None, None, None, False, True),),
            lost_date=None,
            amount=None,
            stage_at_loss=None,
        ),
    ]
    assert store.upsert_deals(deals) == 4
    assert list(store.iter_deals()) == deals
    assert store.get_deal(deals[1].opportunity_id) == deals[1]
    assert store.count_deals() == 4


def test_deal_upsert_replaces_and_deleted_deals_can_be_left_out(store: StateStore) -> None:
    store.upsert_deals([deal(1), deal(2)])
    newer = replace(deal(1), state="won", modified_at=T0 + timedelta(days=1))
    store.upsert_deals([newer, deal(2, deleted=True)])
    assert list(store.iter_deals()) == [newer, deal(2, deleted=True)]
    assert list(store.iter_deals(include_deleted=False)) == [newer]
    assert [d.opportunity_id for d in store.iter_deals(ids=[deal(2).opportunity_id, "006missing"])] == [
        deal(2).opportunity_id
    ]


def test_contact_snapshots_round_trip_and_filter(store: StateStore) -> None:
    emoji = contact(3, props={"firstname": "😀" * 50, "hs_email_open": None, "note": "y" * 50_000})
    rows = [contact(1), contact(2, archived=True), emoji]
    assert store.upsert_contacts("hubspot", rows) == 3
    assert list(store.iter_contacts("hubspot")) == [contact(1), emoji]
    assert len(list(store.iter_contacts("hubspot", include_archived=True))) == 3
    assert [c.contact_id for c in store.iter_contacts("hubspot", emails=["person1@example.com"])] == ["1001"]
    assert store.count_contacts("hubspot") == 3
    assert list(store.iter_contacts("salesforce")) == []


def test_merged_contacts_are_hidden_until_they_come_back(store: StateStore) -> None:
    store.upsert_contacts("hubspot", [contact(1), contact(2)])
    store.upsert_contacts("hubspot", [contact(3, merged=("1001", "1002"))])
    assert [c.contact_id for c in store.iter_contacts("hubspot")] == ["1003"]
    assert len(list(store.iter_contacts("hubspot", include_merged=True))) == 3
    store.upsert_contacts("hubspot", [contact(1)])
    assert [c.contact_id for c in store.iter_contacts("hubspot")] == ["1001", "1003"]


# --------------------------------------------------------------------------- written values


def test_record_writes_keeps_types_and_last_written_reads_them(store: StateStore) -> None:
    values = {"score": 55, "ratio": 1.5, "text": "55", "flag": True, "cleared": None, "jp": "高 🔥"}
    n = store.record_writes(
        "hubspot",
        [FieldUpdate("contacts", "101", values), FieldUpdate("contacts", "102", {"score": 7})],
        run_id=3,
        mapping_version=2,
        at=T0,
    )
    assert n == 7
    got = store.last_written("hubspot", "contacts", ["101", "102", "103"])
    assert {k: v.value for k, v in got.items()} == {
        **{("101", f): v for f, v in values.items()},
        ("102", "score"): 7,
    }
    one = got[("101", "score")]
    assert (one.written_at, one.mapping_version, one.run_id) == (T0, 2, 3)
    assert store.last_written("salesforce", "contacts", ["101"]) == {}


def test_record_writes_overwrites_previous_value(store: StateStore) -> None:
    store.record_writes(
        "salesforce", [FieldUpdate("Contact", "003A", {"Lead_Score__c": 10})], run_id=1, mapping_version=1
    )
    store.record_writes(
        "salesforce", [FieldUpdate("Contact", "003A", {"Lead_Score__c": 20})], run_id=2, mapping_version=2
    )
    keys = [
        ("salesforce", "Contact", "003A", "Lead_Score__c"),
        ("salesforce", "Contact", "003B", "Lead_Score__c"),
    ]
    assert store.last_written_map(keys) == {keys[0]: 20}
    assert [(w.record_id, w.value, w.run_id) for w in store.iter_written("salesforce")] == [("003A", 20, 2)]


def test_record_writes_refuses_non_scalars(store: StateStore) -> None:
    with pytest.raises(TypeError, match="written value"):
        store.record_writes(
            "hubspot",
            [FieldUpdate("contacts", "1", {"x": ["a"]})],  # type: ignore[dict-item]
            run_id=None,
            mapping_version=1,
        )
    assert list(store.iter_written()) == []


# --------------------------------------------------------------------------- lists and tasks


def test_memberships_add_remove_and_filter(store: StateStore) -> None:
    store.add_memberships("hubspot", "Nurture - Events", ["1", "2"], run_id=1, at=T0)
    store.record_list_changes(
        "hubspot",
        [ListChange("Nurture - Newsletter", "3", "add"), ListChange("Nurture - Events", "2", "remove")],
        run_id=2,
    )
    store.add_memberships("salesforce", "Nurture - Events", ["003A"], run_id=2)
    got = store.get_memberships("hubspot")
    assert [(m.list_name, m.record_id, m.run_id) for m in got] == [
        ("Nurture - Events", "1", 1),
        ("Nurture - Newsletter", "3", 2),
    ]
    assert got[0].added_at == T0
    assert [m.record_id for m in store.get_memberships("hubspot", list_name="Nurture - Newsletter")] == ["3"]
    assert [m.record_id for m in store.get_memberships("hubspot", record_ids=["1", "9"])] == ["1"]
    assert store.remove_memberships("hubspot", "Nurture - Events", ["1"]) == 1
    assert [m.record_id for m in store.get_memberships("hubspot")] == ["3"]


def test_tasks_are_recorded_once_per_cycle(store: StateStore) -> None:
    assert store.get_task("p@x.com|006A|2024-04-01") is None
    store.record_tasks(
        "salesforce",
        [("p@x.com|006A|2024-04-01", "00T1"), ("q@x.com|006B|2024-04-02", "00T2")],
        run_id=4,
        at=T0,
    )
    task = store.get_task("p@x.com|006A|2024-04-01")
    assert task is not None and (task.task_id, task.system, task.run_id, task.created_at) == (
        "00T1",
        "salesforce",
        4,
        T0,
    )
    assert set(store.tasks_for(["q@x.com|006B|2024-04-02", "none"])) == {"q@x.com|006B|2024-04-02"}


# --------------------------------------------------------------------------- runs and failures


def test_run_lifecycle_and_history(store: StateStore) -> None:
    first = store.start_run(mapping_version=3, at=T0)
    second = store.start_run(mapping_version=3, kind="backfill", at=T0 + timedelta(minutes=1))
    store.update_run(second, counts={"people": 5})
    store.finish_run(
        first,
        status="partial",
        counts={"people": 10, "failures": 1},
        api_calls={"hubspot": {"batch/update": 2}},
        at=T0 + timedelta(seconds=90),
        error="HTTP 401 Authorization: Bearer pat-na1-1234abcd-5678-90ef-aaaa-bbbbccccdddd",
    )
    run = store.get_run(first)
    assert run is not None
    assert (run.status, run.counts, run.api_calls, run.mapping_version) == (
        "partial",
        {"people": 10, "failures": 1},
        {"hubspot": {"batch/update": 2}},
        3,
    )
    assert run.duration_seconds == 90
    assert run.error is not None and "pat-na1" not in run.error and "1234abcd" not in run.error
    assert [r.id for r in store.list_runs()] == [second, first]
    assert [r.id for r in store.list_runs(kind="backfill")] == [second]
    assert store.mark_interrupted_runs() == [second]
    interrupted = store.get_run(second)
    assert (
        interrupted is not None
        and interrupted.status == "interrupted"
        and interrupted.counts == {"people": 5}
    )
    assert store.get_run(999) is None


@pytest.mark.parametrize("status", ["ok", "partial", "failed", "budget_stopped", "interrupted", "dry_run"])
def test_finish_run_accepts_every_final_status(store: StateStore, status: str) -> None:
    run_id = store.start_run(mapping_version=1)
    store.finish_run(run_id, status=status)
    run = store.get_run(run_id)
    assert run is not None and run.status == status and run.finished_at is not None


@pytest.mark.parametrize("status", ["running", "done", ""])
def test_finish_run_refuses_unknown_status(store: StateStore, status: str) -> None:
    run_id = store.start_run(mapping_version=1)
    with pytest.raises(ValueError, match="status must be one of"):
        store.finish_run(run_id, status=status)


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abc.def-ghi",
        "password=hunter2&user=x",
        '{"access_token": "tok123"}',
        "session 00D5g000004XyZa!AQ0AQHc.abc expired",
        "postgresql://user:pw@host/db",
    ],
)
def test_redact_secrets(text: str) -> None:
    out = redact_secrets(text)
    for secret in ("abc.def-ghi", "hunter2", "tok123", "AQ0AQHc", ":pw@"):
        assert secret not in out


def test_failures_add_bump_resolve_reopen(store: StateStore) -> None:
    run = store.start_run(mapping_version=1)
    f1 = NewFailure("hubspot", "101", "write", "INVALID_EMAIL")
    assert store.add_failures(run, [f1, NewFailure("salesforce", "003A", "identity", "no email")], at=T0) == 2
    store.add_failures(run, [replace(f1, reason="PROPERTY_DOESNT_EXIST")], at=T0 + timedelta(hours=1))
    (hs,) = store.list_failures(system="hubspot")
    assert (hs.attempts, hs.reason, hs.first_seen, hs.last_seen) == (
        2,
        "PROPERTY_DOESNT_EXIST",
        T0,
        T0 + timedelta(hours=1),
    )
    store.bump_failure(hs.id, reason="again")
    assert [(f.attempts, f.reason) for f in store.list_failures(system="hubspot")] == [(3, "again")]
    assert [f.record_key for f in store.list_failures(below_attempts=3)] == ["003A"]
    assert [f.record_key for f in store.list_failures(stage="identity")] == ["003A"]
    assert store.resolve_failures("hubspot", ["101"]) == 1
    assert [f.record_key for f in store.list_failures()] == ["003A"]
    (resolved,) = store.list_failures(include_resolved=True, system="hubspot")
    assert resolved.resolved and resolved.resolved_at is not None
    store.add_failure(run, "hubspot", "101", "write", "back", at=T0 + timedelta(days=1))
    (reopened,) = store.list_failures(system="hubspot")
    assert (reopened.attempts, reopened.first_seen, reopened.resolved) == (1, T0 + timedelta(days=1), False)


def test_failures_refuse_unknown_stage(store: StateStore) -> None:
    with pytest.raises(ValueError, match="stage"):
        store.add_failures(None, [NewFailure("hubspot", "1", "planning", "x")])


# --------------------------------------------------------------------------- upsert implementations


@pytest.mark.parametrize("impl", [upsert, portable_upsert], ids=["native", "portable"])
def test_upsert_implementations_agree(store: StateStore, impl: object) -> None:
    table = state_schema.written_values
    keys = ["system", "object", "record_id", "field"]

    def row(rid: str, value: str) -> dict[str, object]:
        return {
            "system": "hubspot",
            "object": "contacts",
            "record_id": rid,
            "field": "f",
            "value": value,
            "written_at": T0,
            "mapping_version": 1,
            "run_id": None,
        }

    with store.engine.begin() as conn:
        impl(conn, table, [row("1", "1"), row("2", "2")], keys)  # type: ignore[operator]
        impl(conn, table, [row("2", "20"), row("3", "3"), row("3", "30")], keys)  # type: ignore[operator]
    assert {(w.record_id, w.value) for w in store.iter_written()} == {("1", 1), ("2", 20), ("3", 30)}


def test_contact_ref_equality_ignores_nothing_we_store() -> None:
    # guards the round-trip assertions above: ContactRef compares every field we persist
    a = ContactRef("1", "a@x.com", {"p": "1"}, T0)
    assert a != ContactRef("1", "a@x.com", {"p": "2"}, T0)


def test_a_deal_snapshot_from_before_lost_date_sources_still_loads() -> None:
    """Snapshots written before lost dates came from stage history have neither `lost_date_source`
    nor `close_date`: their lost date was the CloseDate, and they say so."""
    data = json.loads(deal_to_json(deal(1)))
    del data["lost_date_source"], data["close_date"]
    old = deal_from_json(json.dumps(data))
    assert (old.lost_date_source, old.close_date) == ("close_date", deal(1).lost_date)
    assert replace(old, lost_date_source=None, close_date=None) == deal(1)
