"""Schema creation and upgrade: ordered migrations, idempotent re-open, refusal of newer schemas,
atomic failure, two processes migrating one fresh file at once."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.base import DealContact, LostDeal
from sync.state import schema as state_schema
from sync.state.codec import deal_to_json
from sync.state.schema import MIGRATIONS, Migration, SchemaTooNewError, current_version, migrate
from sync.state.sql import create_engine
from sync.state.store import StateStore

from .state_samples import contact as sample_contact
from .state_samples import deal as sample_deal


def _add_note_column(conn: Connection) -> None:
    conn.execute(sa.text("ALTER TABLE runs ADD COLUMN note VARCHAR(100)"))


def _broken(conn: Connection) -> None:
    conn.execute(sa.text("CREATE TABLE half_done (id INTEGER)"))
    raise RuntimeError("migration failed half way")


V2 = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "runs.note", _add_note_column))


def test_empty_database_gets_every_migration_in_order(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        assert migrate(engine) == [m.version for m in MIGRATIONS]
        assert migrate(engine) == []
        with engine.connect() as conn:
            assert current_version(conn) == state_schema.LATEST_VERSION
    finally:
        engine.dispose()


def test_upgrade_keeps_data_and_adds_the_new_shape(db_url: str) -> None:
    with StateStore.open(db_url) as st:
        run_id = st.start_run(mapping_version=1)
    engine = create_engine(db_url)
    try:
        assert migrate(engine, V2) == [V2[-1].version]
        assert migrate(engine, V2) == []
        with engine.connect() as conn:
            cols = {c["name"] for c in sa.inspect(conn).get_columns("runs")}
            assert "note" in cols
            assert conn.execute(sa.text("SELECT id FROM runs")).scalar() == run_id
    finally:
        engine.dispose()


def test_a_newer_schema_is_refused_with_a_clear_message(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate(engine, V2)
    finally:
        engine.dispose()
    with pytest.raises(SchemaTooNewError, match="upgrade leadsync"):
        StateStore.open(db_url)


def test_a_failing_migration_leaves_the_previous_version(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate(engine)
        with pytest.raises(RuntimeError, match="half way"):
            migrate(engine, (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "broken", _broken)))
        with engine.connect() as conn:
            assert current_version(conn) == state_schema.LATEST_VERSION
            assert not sa.inspect(conn).has_table("half_done")
    finally:
        engine.dispose()


@pytest.mark.parametrize("versions", [(2, 3), (1, 1), (1, 3)])
def test_migration_numbering_is_checked(db_url: str, versions: tuple[int, int]) -> None:
    engine = create_engine(db_url)
    try:
        with pytest.raises(ValueError, match="numbered"):
            migrate(engine, tuple(Migration(v, "x", _add_note_column) for v in versions))
    finally:
        engine.dispose()


def test_two_processes_migrate_a_fresh_file_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = (
        "import sys; from sync.state.schema import migrate; from sync.state.sql import create_engine; "
        "print(migrate(create_engine(sys.argv[1])))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    everything = str([m.version for m in MIGRATIONS])
    assert sorted(out.strip() for out, _ in outs) == sorted(["[]", everything])  # exactly one did the work
    with StateStore.open(url) as st:
        assert st.schema_version() == state_schema.LATEST_VERSION


def test_every_table_compiles_for_postgresql() -> None:
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    for table in state_schema.metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        assert "CREATE TABLE" in ddl and "AUTOINCREMENT" not in ddl
        for index in table.indexes:
            assert str(CreateIndex(index).compile(dialect=dialect)).startswith("CREATE INDEX")


def test_migration_3_makes_the_next_run_read_every_deal_again(db_url: str) -> None:
    """Deal snapshots from before version 3 hold the CloseDate as lost date: the deals watermark goes,
    so the next run rereads every deal (with its stage history); other watermarks stay."""
    engine = create_engine(db_url)
    try:
        migrate(engine, MIGRATIONS[:2])
        with engine.begin() as conn:
            for stream in ("salesforce.opportunities", "hubspot.contacts"):
                conn.execute(state_schema.watermarks.insert().values(
                    stream=stream, value=datetime(2024, 1, 1, tzinfo=UTC), updated_at=datetime.now(UTC)))
        assert migrate(engine, MIGRATIONS[:3]) == [3]
        with engine.connect() as conn:
            left = {r.stream for r in conn.execute(sa.select(state_schema.watermarks))}
        assert left == {"hubspot.contacts"}
    finally:
        engine.dispose()


def test_migration_4_keeps_list_ids_and_a_changed_id_forgets_its_memberships(db_url: str) -> None:
    """Version 4 adds `list_ids`. The first id kept for a name leaves the memberships recorded by name
    alone (they were written to that list); a different id later means another list, so they go."""
    engine = create_engine(db_url)
    try:
        migrate(engine, MIGRATIONS[:3])
        assert migrate(engine, MIGRATIONS[:4]) == [4]
    finally:
        engine.dispose()
    with StateStore.open(db_url) as store:
        store.add_memberships("hubspot", "Nurture - Call/DM", ["1", "2"], run_id=None)
        store.add_memberships("hubspot", "Nurture - Events", ["1"], run_id=None)
        assert store.set_list_id("hubspot", "Nurture - Call/DM", "11") == 0
        assert store.set_list_id("hubspot", "Nurture - Call/DM", "11") == 0
        assert store.list_ids("hubspot") == {"Nurture - Call/DM": "11"} and store.list_ids("salesforce") == {}
        assert store.set_list_id("hubspot", "Nurture - Call/DM", "12") == 2
        assert store.list_ids("hubspot") == {"Nurture - Call/DM": "12"}
        assert {m.list_name for m in store.get_memberships("hubspot")} == {"Nurture - Events"}
        store.add_memberships("hubspot", "Nurture - Events", ["2"], run_id=None)
        store.set_list_id("hubspot", "Nurture - Events", "13")
        assert store.set_list_id("hubspot", "Nurture - Events", None) == 2
        assert store.list_ids("hubspot") == {"Nurture - Call/DM": "12"}
        assert store.get_memberships("hubspot") == []


def test_migration_5_adds_bindings_to_a_store_in_use(db_url: str) -> None:
    """Version 5 adds `bindings`; a store that was in use before is bound on its next run (nothing is
    bound by the migration itself)."""
    engine = create_engine(db_url)
    try:
        migrate(engine, MIGRATIONS[:4])
        assert migrate(engine, MIGRATIONS[:5]) == [5]
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(state_schema.bindings)).scalar() == 0
    finally:
        engine.dispose()


def test_migration_6_indexes_the_people_of_a_store_in_use(db_url: str) -> None:
    """Version 6 adds `contacts.person_key` and `deal_contacts`, filled from the snapshots a store in
    use already holds, so the next run resolves the same people a range at a time."""
    deal = LostDeal(opportunity_id="006A", name="Renewal", state="lost", stage_name="Closed Lost",
                    stage_at_loss="Proposal", loss_reason="Price", lost_date=None, amount=1000.0,
                    owner_id=None, account_id=None, account_name=None, account_employees=None,
                    account_industry=None, modified_at=datetime(2025, 1, 1, tzinfo=UTC), is_deleted=False,
                    contacts=(DealContact("003A", " Ann@Example.COM ", None, None, False, True),
                              DealContact("003B", "not an email", None, None, False, False),
                              DealContact("003A", "ann@example.com", None, None, False, False)))
    engine = create_engine(db_url)
    try:
        migrate(engine, MIGRATIONS[:5])
        with engine.begin() as conn:
            stamp = {"at": state_schema.UTCDateTime().process_bind_param(datetime.now(UTC), conn.dialect),
                     "no": False}
            conn.execute(sa.text("INSERT INTO deals (opportunity_id, data, state, modified_at, is_deleted, "
                                 "stored_at) VALUES ('006A', :data, 'lost', :at, :no, :at)"),
                         {"data": deal_to_json(deal), **stamp})
            for cid, email in (("1", "Bob@Example.com"), ("2", "bob@"), ("3", None)):
                conn.execute(sa.text(
                    "INSERT INTO contacts (system, contact_id, email, email_norm, properties, archived, "
                    "stored_at) VALUES ('hubspot', :cid, :email, :norm, '{}', :no, :at)"),
                    {"cid": cid, "email": email, "norm": (email or "").lower() or None, **stamp})
        assert migrate(engine, MIGRATIONS[:6]) == [6]
        with engine.connect() as conn:
            keys = dict(conn.execute(sa.select(state_schema.contacts.c.contact_id,
                                               state_schema.contacts.c.person_key)).all())
            links = conn.execute(sa.select(state_schema.deal_contacts).order_by(
                state_schema.deal_contacts.c.contact_id)).all()
    finally:
        engine.dispose()
    assert keys == {"1": "bob@example.com", "2": None, "3": None}
    assert [(r.contact_id, r.email_norm, r.person_key) for r in links] == [
        ("003A", "ann@example.com", "ann@example.com"), ("003B", "not an email", None)]
    with StateStore.open(db_url) as store:
        assert list(store.person_key_ranges(10)) == [("ann@example.com", "bob@example.com")]
        records = store.people_records("ann@example.com", "bob@example.com")
        assert [d.opportunity_id for d in records.deals] == ["006A"]
        assert records.salesforce_ids == {"003A"}
        assert [c.contact_id for c in records.hubspot] == ["1"]


def test_migration_7_adds_the_stage_history_empty(db_url: str) -> None:
    """Version 7 adds `assignments`, `stage_moves` and `recycle_cycles`, empty: the first run after it
    records where everyone starts (cause "first"); nothing is made up for the past."""
    engine = create_engine(db_url)
    try:
        migrate(engine, MIGRATIONS[:6])
        lost = LostDeal(opportunity_id="006L", name="Lost", state="lost", stage_name="Closed Lost",
                        stage_at_loss="Proposal", loss_reason="Price", lost_date=date(2025, 3, 4),
                        amount=1500.0, owner_id=None, account_id=None, account_name=None,
                        account_employees=None, account_industry=None,
                        modified_at=datetime(2025, 3, 4, tzinfo=UTC), contacts=())
        with engine.begin() as conn:
            stamp = state_schema.UTCDateTime().process_bind_param(datetime.now(UTC), conn.dialect)
            conn.execute(sa.text("INSERT INTO deals (opportunity_id, data, state, modified_at, is_deleted, "
                                 "stored_at) VALUES ('006L', :data, 'lost', :at, :no, :at)"),
                         {"data": deal_to_json(lost), "at": stamp, "no": False})
        assert migrate(engine, MIGRATIONS[:7]) == [7]
        with engine.connect() as conn:
            for table in (state_schema.assignments, state_schema.stage_moves, state_schema.recycle_cycles):
                assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0
            columns = {c["name"] for c in sa.inspect(conn).get_columns("call_tasks")}
            assert {"status", "closed_at"} <= columns
            d = state_schema.deals.c
            # the loss analysis columns, filled from the snapshots already stored
            assert conn.execute(sa.select(d.lost_on, d.stage_at_loss, d.loss_reason, d.amount)).one() == (
                date(2025, 3, 4), "Proposal", "Price", 1500.0)
    finally:
        engine.dispose()


def test_migration_8_indexes_what_the_report_reads(db_url: str) -> None:
    """Version 8 adds indexes only (no data changes): the contacts' liveness by person key, the standings
    in the order the report groups them, and on SQLite the lost deals' and the recycle cycles' report
    columns."""
    engine = create_engine(db_url)
    try:
        migrate(engine, MIGRATIONS[:7])
        with engine.connect() as conn:
            before = {t: {i["name"] for i in sa.inspect(conn).get_indexes(t)}
                      for t in ("contacts", "assignments", "deals", "recycle_cycles")}
        assert migrate(engine, MIGRATIONS[:8]) == [8]
        with engine.connect() as conn:
            after = {t: {i["name"] for i in sa.inspect(conn).get_indexes(t)}
                     for t in ("contacts", "assignments", "deals", "recycle_cycles")}
            sqlite = conn.dialect.name == "sqlite"
    finally:
        engine.dispose()
    assert after["contacts"] - before["contacts"] == {"ix_contacts_live"}
    assert after["assignments"] - before["assignments"] == {"ix_assignments_standing"}
    assert after["deals"] - before["deals"] == ({"ix_deals_lost"} if sqlite else set())
    assert after["recycle_cycles"] - before["recycle_cycles"] == (
        {"ix_recycle_cycles_pipeline"} if sqlite else set())


def test_migration_9_indexes_the_deals_by_account_in_a_store_in_use(db_url: str) -> None:
    """Version 9 adds `deals.account_id` (filled from the snapshots already stored, so a recycled
    person's account deals are found from the next run on) and `recycle_cycles.new_deal_via`, "contact"
    for the new deals recorded before (found through contact roles, the only way then)."""
    engine = create_engine(db_url)

    def snapshot(opp: str, account: str | None) -> str:
        return deal_to_json(LostDeal(
            opportunity_id=opp, name=opp, state="lost", stage_name="Closed Lost", stage_at_loss=None,
            loss_reason=None, lost_date=None, amount=None, owner_id=None, account_id=account,
            account_name=None, account_employees=None, account_industry=None,
            modified_at=datetime(2025, 3, 4, tzinfo=UTC), contacts=()))

    try:
        migrate(engine, MIGRATIONS[:8])
        with engine.begin() as conn:
            at = state_schema.UTCDateTime().process_bind_param(datetime.now(UTC), conn.dialect)
            for opp, account in (("006A", "001X"), ("006B", None), ("006C", "001Y")):
                conn.execute(sa.text("INSERT INTO deals (opportunity_id, data, state, modified_at, "
                                     "is_deleted, stored_at) VALUES (:o, :data, 'lost', :at, :no, :at)"),
                             {"o": opp, "data": snapshot(opp, account), "at": at, "no": False})
            for person, new in (("a@example.com", "006C"), ("b@example.com", None)):
                conn.execute(sa.text("INSERT INTO recycle_cycles (person_key, deal_id, first_group, "
                                     "entered_at, new_deal_id) VALUES (:p, '006A', 'high', :at, :n)"),
                             {"p": person, "at": at, "n": new})
        assert migrate(engine, MIGRATIONS[:9]) == [9]
        with engine.connect() as conn:
            d, c = state_schema.deals.c, state_schema.recycle_cycles.c
            assert dict(conn.execute(sa.select(d.opportunity_id, d.account_id)).all()) == {
                "006A": "001X", "006B": None, "006C": "001Y"}
            assert dict(conn.execute(sa.select(c.person_key, c.new_deal_via)).all()) == {
                "a@example.com": "contact", "b@example.com": None}
            indexes = {i["name"]: i["column_names"] for i in sa.inspect(conn).get_indexes("deals")}
            assert indexes["ix_deals_account"] == ["account_id", "modified_at"]
    finally:
        engine.dispose()


def test_migration_9_counts_a_cycle_opened_while_waiting_in_the_group_it_was_worked_in(db_url: str) -> None:
    """Cycles recorded as `waiting` (opened during the wait) take the first group move to high or low
    made while they were open; one that left recycling before that, or is still waiting, stays."""
    engine = create_engine(db_url)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        migrate(engine, MIGRATIONS[:8])
        with engine.begin() as conn:
            def at(days: int) -> object:
                return state_schema.UTCDateTime().process_bind_param(t0 + timedelta(days=days), conn.dialect)

            for person, left in (("a@x.test", None), ("b@x.test", 10), ("c@x.test", None),
                                 ("d@x.test", None)):
                conn.execute(sa.text("INSERT INTO recycle_cycles (person_key, deal_id, first_group, "
                                     "entered_at, left_at) VALUES (:p, 'D', :g, :e, :l)"),
                             {"p": person, "g": "high" if person == "d@x.test" else "waiting", "e": at(0),
                              "l": None if left is None else at(left)})
            for person, to, day in (("a@x.test", "low", 30), ("a@x.test", "high", 40),  # a: low, then high
                                    ("b@x.test", "high", 30),  # b left recycling on day 10
                                    ("d@x.test", "low", 5)):  # d was recorded in high already
                conn.execute(sa.text("INSERT INTO stage_moves (person_key, dimension, from_value, to_value, "
                                     "at, mapping_version, cause) "
                                     "VALUES (:p, 'group', 'waiting', :to, :at, 1, 'time')"),
                             {"p": person, "to": to, "at": at(day)})
        assert migrate(engine, MIGRATIONS[:9]) == [9]
        with engine.connect() as conn:
            c = state_schema.recycle_cycles.c
            assert dict(conn.execute(sa.select(c.person_key, c.first_group)).all()) == {
                "a@x.test": "low", "b@x.test": "waiting", "c@x.test": "waiting", "d@x.test": "high"}
    finally:
        engine.dispose()


def test_migration_10_adds_the_console_users_and_audit_log_to_a_store_in_use(db_url: str) -> None:
    """Version 10 adds the admin console's tables, empty, next to a store in use (its runs kept); the
    users table holds a hash, never a password (sync.console.auth makes the hash)."""
    with StateStore.open(db_url) as st:
        run_id = st.start_run(mapping_version=1)
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE console_audit"))
            conn.execute(sa.text("DROP TABLE console_users"))
            conn.execute(sa.text("DROP TABLE mapping_versions"))
            conn.execute(sa.text("DELETE FROM schema_version WHERE version >= 10"))
        assert migrate(engine, MIGRATIONS[:10]) == [10]
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert {"console_users", "console_audit"} <= tables
            assert {c["name"] for c in sa.inspect(conn).get_columns("console_users")} == {
                "name", "role", "password_hash", "updated_at"}
            assert conn.execute(sa.text("SELECT count(*) FROM console_users")).scalar() == 0
            assert conn.execute(sa.text("SELECT id FROM runs")).scalar() == run_id
    finally:
        engine.dispose()
    with StateStore.open(db_url) as st:
        st.set_console_user("ops", "admin", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA")
        st.audit("ops", "set-password", "role admin")
        assert st.console_user("ops").role == "admin"
        assert st.console_user("nobody") is None
        assert [(a.user_name, a.action) for a in st.audit_log()] == [("ops", "set-password")]


def test_migration_11_adds_mapping_versions_and_failure_indexes_to_a_store_in_use(db_url: str) -> None:
    """Version 11 adds the console's mapping versions, empty, and the indexes that page failures, next
    to a store in use (its runs and failures kept)."""
    with StateStore.open(db_url) as st:
        run_id = st.start_run(mapping_version=1)
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE mapping_versions"))
            conn.execute(sa.text("DROP INDEX ix_failures_open_id"))
            conn.execute(sa.text("DROP INDEX ix_failures_run_id"))
            conn.execute(sa.text("DELETE FROM schema_version WHERE version >= 11"))
        assert migrate(engine, MIGRATIONS[:11]) == [11]
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert "mapping_versions" in inspector.get_table_names()
            assert {"ix_failures_open_id", "ix_failures_run_id"} <= {
                i["name"] for i in inspector.get_indexes("failures")}
            assert conn.execute(sa.text("SELECT count(*) FROM mapping_versions")).scalar() == 0
            assert conn.execute(sa.text("SELECT id FROM runs")).scalar() == run_id
    finally:
        engine.dispose()


def _deal(opportunity_id: str, *contacts: DealContact) -> LostDeal:
    return LostDeal(opportunity_id=opportunity_id, name="Renewal", state="lost", stage_name="Closed Lost",
                    stage_at_loss="Proposal", loss_reason="Price", lost_date=None, amount=1000.0,
                    owner_id=None, account_id=None, account_name=None, account_employees=None,
                    account_industry=None, modified_at=datetime(2025, 1, 1, tzinfo=UTC), is_deleted=False,
                    contacts=contacts)


def test_migration_12_indexes_the_names_of_a_store_in_use(db_url: str) -> None:
    """Version 12 adds `person_names`, filled from the contact and deal snapshots a store in use holds
    (more deals than one batch of the backfill), so the console finds people by the start of a name."""
    deals = [_deal("006A", DealContact("003A", "taro@example.jp", "太郎", "山田", False, True),
                   DealContact("003B", "not an email", "Nobody", "Keyless", False, False),
                   DealContact("003A", "taro@example.jp", "太郎", "山田", False, False))]
    deals += [_deal(f"006B{i:04d}", DealContact(f"003C{i:04d}", f"p{i:04d}@example.com", "Pat", f"Lee{i}",
                                                False, True)) for i in range(1_200)]
    engine = create_engine(db_url)
    try:
        migrate(engine, MIGRATIONS[:11])
        with engine.begin() as conn:
            stamp = {"at": state_schema.UTCDateTime().process_bind_param(datetime.now(UTC), conn.dialect),
                     "no": False}
            conn.execute(sa.text("INSERT INTO deals (opportunity_id, data, state, modified_at, is_deleted, "
                                 "stored_at) VALUES (:id, :data, 'lost', :at, :no, :at)"),
                         [{"id": d.opportunity_id, "data": deal_to_json(d), **stamp} for d in deals])
            ann = '{"firstname": "Ann", "lastname": "Ｓｍｉｔｈ"}'
            for cid, email, props in (("1", "Ann@Example.com", ann),
                                      ("2", "bob@", '{"firstname": "Bob"}'),  # no person key: no name
                                      ("3", "cy@example.com", '{"email": "cy@example.com"}')):  # no name
                conn.execute(sa.text(
                    "INSERT INTO contacts (system, contact_id, email, email_norm, person_key, properties, "
                    "archived, stored_at) VALUES ('hubspot', :cid, :email, :norm, :key, :props, :no, :at)"),
                    {"cid": cid, "email": email, "norm": email.lower(), "props": props,
                     "key": state_schema.person_key(email), **stamp})
        assert migrate(engine, MIGRATIONS[:12]) == [12]
        n = state_schema.person_names.c
        with engine.connect() as conn:
            rows = conn.execute(sa.select(n.source, n.record_id, n.contact_id, n.name_key, n.person_key,
                                          n.display_name).order_by(n.source, n.record_id, n.name_key)).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows if r.person_key in ("ann@example.com", "taro@example.jp")] == [
        ("contact", "1", "", "annsmith", "ann@example.com", "Ann Ｓｍｉｔｈ"),
        ("contact", "1", "", "smithann", "ann@example.com", "Ann Ｓｍｉｔｈ"),
        ("deal", "006A", "003A", "太郎山田", "taro@example.jp", "山田 太郎"),
        ("deal", "006A", "003A", "山田太郎", "taro@example.jp", "山田 太郎")]
    assert len(rows) == 4 + 2 * 1_200  # two keys per named person with a key; every deal of the batches
    assert {r.person_key for r in rows if r.record_id == "006B1199"} == {"p1199@example.com"}


def test_the_migrations_page_through_every_stored_contact_and_deal(db_url: str) -> None:
    """The keyset pages the data migrations read (`_hubspot_contact_pages`, `_deal_pages`) cover every
    HubSpot contact and deal once, in id order, past their page sizes (2,000 and 1,000), and no
    Salesforce contact."""
    with StateStore.open(db_url) as st:
        st.upsert_contacts("hubspot", [sample_contact(i) for i in range(2_345)])
        st.upsert_contacts("salesforce", [sample_contact(i) for i in range(3)])
        st.upsert_deals([sample_deal(i) for i in range(1_234)])
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            contact_pages = list(state_schema._hubspot_contact_pages(conn, state_schema.contacts.c.email))
            deal_pages = list(state_schema._deal_pages(conn))
    finally:
        engine.dispose()
    assert [len(p) for p in contact_pages] == [2_000, 345]
    ids = sorted(sample_contact(i).contact_id for i in range(2_345))
    assert [r.contact_id for p in contact_pages for r in p] == ids
    assert contact_pages[0][0].email == sample_contact(0).email
    assert [len(p) for p in deal_pages] == [1_000, 234]
    assert [r.opportunity_id for p in deal_pages for r in p] == [sample_deal(i).opportunity_id
                                                                for i in range(1_234)]
