"""The emulators' compact stores (issue 12: a million people in under 2 GB): the compact forms answer
exactly as the plain ones did, and the memory they save is measured (tracemalloc, not time)."""

from __future__ import annotations

import copy
import gc
import pickle
import tracemalloc
from datetime import UTC, date, datetime, timedelta

import pytest

from sandbox.demo_data import generate
from sandbox.demo_load import load_demo
from sandbox.hubspot import HubSpotEmulator
from sandbox.hubspot.schema import PropertySchema
from sandbox.hubspot.values import Values
from sandbox.salesforce import SalesforceEmulator
from sandbox.salesforce.history import HistoryRows, ParentChain
from sandbox.salesforce.ids import checksum_suffix, id_number, make_id, restore_case
from sandbox.salesforce.indexes import EqIndex, RangeIndex, RefIndex
from sandbox.salesforce.rows import Shapes

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------- Salesforce rows and indexes
def test_row_reads_like_the_dict_it_was_built_from() -> None:
    plain = {"Id": "001", "Name": "Acme", "IsDeleted": False, "Amount": None}
    row = Shapes().row(plain)
    assert dict(row) == plain and row.to_dict() == plain and row == plain
    assert [*row] == [*plain] and len(row) == 4
    assert row["Name"] == "Acme" and row.get("Amount", 1) is None and row.get("Nope", 7) == 7
    assert "Amount" in row and "Nope" not in row
    with pytest.raises(KeyError):
        row["Nope"]
    copy = row.to_dict()
    copy["Name"] = "Other"
    assert row["Name"] == "Acme"  # a copy: the stored row never changes


def test_rows_of_one_shape_share_their_field_names() -> None:
    shapes = Shapes()
    a, b = shapes.row({"Id": "1", "Name": "a"}), shapes.row({"Id": "2", "Name": "b"})
    assert a._shape is b._shape
    assert shapes.row({"Name": "c", "Id": "3"})._shape is not a._shape  # another order: another shape


def test_equality_index_moves_between_one_id_a_few_and_many() -> None:
    idx = EqIndex()
    ids = [f"003{i:015d}" for i in range(EqIndex.SMALL + 3)]
    idx.add("A@x.example", ids[0])
    assert idx.find("a@X.example") == {ids[0]}
    for rid in ids[1:]:
        idx.add("a@x.example", rid)
    assert idx.find("a@x.example") == set(ids)  # more than SMALL: a set
    for rid in ids[:-1]:
        idx.remove("A@X.EXAMPLE", rid)
    assert idx.find("a@x.example") == {ids[-1]}
    idx.remove("a@x.example", ids[-1])
    assert idx.find("a@x.example") == set() and not idx._map
    idx.add("k", ids[0])
    idx.add("k", ids[1])
    idx.add("k", ids[1])  # twice: still two ids
    idx.remove("k", ids[0])
    assert idx.find("k") == {ids[1]}


def test_range_index_bounds_and_stale_entries() -> None:
    stamps: dict[str, datetime] = {}
    idx = RangeIndex("SystemModstamp", "006")
    for n in range(1, 6):
        rid = make_id("006", n)
        stamps[rid] = T0 + timedelta(seconds=n)
        idx.add(stamps[rid], id_number(rid))
    moved = make_id("006", 2)
    idx.remove(stamps[moved], moved)
    stamps[moved] = T0 + timedelta(seconds=10)  # updated later: its old entry is stale
    idx.add(stamps[moved], 2)

    def found(low: datetime | None, high: datetime | None, low_incl: bool, high_incl: bool) -> list[int]:
        return sorted(id_number(r) for r in idx.find(low, high, low_incl, high_incl, stamps.get))

    at = [T0 + timedelta(seconds=s) for s in range(11)]
    assert found(at[1], at[4], True, True) == [1, 3, 4]
    assert found(at[1], at[4], False, False) == [3]
    assert found(at[3], None, True, True) == [2, 3, 4, 5]
    assert found(None, at[3], True, False) == [1]
    assert found(at[10], at[10], True, True) == [2]
    assert found(at[1] + timedelta(milliseconds=500), at[3] + timedelta(milliseconds=500), True, True) == [3]
    idx.add(T0 - timedelta(days=1), 9)  # out of order (seeding the past): sorted on the next read
    stamps[make_id("006", 9)] = T0 - timedelta(days=1)
    assert found(None, at[0], True, True) == [9]


def test_references_share_the_target_id_string() -> None:
    store = SalesforceEmulator().store
    account = store.create("Account", {"Name": "Acme"})
    typed = account[:15]  # a 15-character id: normalised to a new 18-character string
    contact = store.create("Contact", {"LastName": "Ito", "AccountId": typed})
    rows = store.tables
    assert rows["Contact"].rows[contact]["AccountId"] is rows["Account"].rows[account]["Id"]
    assert store.get("Contact", contact)["AccountId"] == account  # type: ignore[index]


# ---------------------------------------------------------------- HubSpot values and history
def test_values_behave_as_a_mutable_mapping() -> None:
    values = Values({"email": "a@x.example", "firstname": "Ann"})
    values["lastname"] = "Ito"
    values["firstname"] = "Anna"
    del values["email"]
    assert dict(values) == {"firstname": "Anna", "lastname": "Ito"} and values.to_dict() == dict(values)
    assert values.pop("lastname") == "Ito" and values.get("lastname") is None and "firstname" in values
    with pytest.raises(KeyError):
        del values["nope"]
    assert Values({"a": "1", "b": "2"})._shape is Values({"a": "3", "b": "4"})._shape


def test_first_set_history_is_compact_and_reads_as_before() -> None:
    store = HubSpotEmulator(tokens=("t",)).store
    cid = store.create_contact({"email": "a@x.example", "firstname": "Ann"}, at=T0)
    store.update_contact(cid, {"hs_email_open": "3", "hs_email_click": "1", "firstname": "Anna"},
                         at=T0 + timedelta(days=1))
    contact = store.find(cid)
    assert contact is not None
    assert contact.first_set is not None and contact.history == {"firstname": contact.history["firstname"]}
    day1, day2 = (int((T0 + timedelta(days=d)).timestamp() * 1000) for d in (1, 2))
    t0 = int(T0.timestamp() * 1000)
    assert contact.history_of("hs_email_open") == [("3", day1, "IMPORT")]
    assert contact.history_of("firstname") == [("Anna", day1, "IMPORT"), ("Ann", t0, "CRM_UI")]
    store.update_contact(cid, {"hs_email_open": "4", "hs_email_click": None}, at=T0 + timedelta(days=2))
    assert contact.history_of("hs_email_open") == [("4", day2, "IMPORT"), ("3", day1, "IMPORT")]
    assert contact.history_of("hs_email_click") == [(None, day2, "IMPORT"), ("1", day1, "IMPORT")]
    assert contact.first_set is None  # both written out
    assert contact.history_of("email") == [("a@x.example", t0, "CRM_UI")]


def test_merge_writes_out_a_compact_trail_before_changing_it() -> None:
    store = HubSpotEmulator(tokens=("t",)).store
    primary = store.create_contact({"email": "p@x.example"}, at=T0)
    store.update_contact(primary, {"hs_email_open": "2"}, at=T0 + timedelta(hours=1))
    other = store.create_contact({"email": "o@x.example"}, at=T0)
    store.merge_contacts(primary, other, at=T0 + timedelta(hours=2))
    contact = store.find(primary)
    assert contact is not None
    assert contact.history_of("hs_email_open") == [("2", int(T0.timestamp() * 1000) + 3_600_000, "IMPORT")]
    assert contact.values["hs_merged_object_ids"] == other


# ---------------------------------------------------------------- what it saves
def _traced_bytes(build: object) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        keep = build()  # type: ignore[operator]
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del keep
    return current


def test_both_emulators_hold_a_small_demo_book_in_under_5_kib_a_person() -> None:
    """Bytes allocated (tracemalloc) per person with a 3,000-person demo book loaded in both emulators.
    The dict stores took 6.9 KiB here (and 7.1 KiB of RSS per person at 100k, issue 12); the compact
    ones about 3.5-4 KiB at this size, which includes fixed costs (caches) a large book amortises.
    The measured figures at 100k and 1M are in docs/benchmarks.md (benchmarks/bench_sandbox.py)."""
    people = 3000
    now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    sf, hs = SalesforceEmulator(), HubSpotEmulator(tokens=("t",))
    book = generate(people=people, seed=1, now=now)
    used = _traced_bytes(lambda: load_demo(book, salesforce=sf, hubspot=hs))
    assert used / people < 5 * 1024, f"{used / people:.0f} bytes per person"


def test_make_id_checksum_from_digit_values_matches_the_checksum_of_the_text() -> None:
    numbers = [*range(0, 4000), *(n * 7_919_001 + 3 for n in range(3000)), 62**9 - 1]
    for prefix in ("001", "003", "006", "00Q", "a0B", "701"):
        for number in numbers:
            rid = make_id(prefix, number)
            assert rid[15:] == checksum_suffix(rid[:15]) and id_number(rid) == number, (prefix, number)


# ---------------------------------------------------------------- OpportunityHistory as columns
def _history_row(n: int, **extra: object) -> dict[str, object]:
    rec: dict[str, object] = {"OpportunityId": make_id("006", 7), "StageName": "Prospecting",
                              "CloseDate": date(2026, 3, 31), "Amount": 1000.0, "Probability": 10.0,
                              "ExpectedRevenue": 100.0}
    rec.update(Id=make_id("008", n), CreatedDate=T0, CreatedById=make_id("005", 1), SystemModstamp=T0)
    rec.update(extra)
    return rec


def _same(a: object, b: object) -> bool:
    """Equal with the same key order and value types (1.0 == 1 would hide a changed type)."""
    return repr(a) == repr(b)


def test_history_rows_come_back_exactly_as_stored() -> None:
    rows = HistoryRows(Shapes(), ("Prospecting", "Closed Lost"))
    plain = _history_row(1)
    rows[plain["Id"]] = plain  # type: ignore[index]
    assert _same(rows[plain["Id"]].to_dict(), plain)  # type: ignore[index]
    sparse = {k: v for k, v in _history_row(2).items() if k not in ("Amount", "ExpectedRevenue")}
    rows[sparse["Id"]] = sparse  # type: ignore[index]
    assert _same(rows[sparse["Id"]].to_dict(), sparse)  # type: ignore[index]
    deleted = {**_history_row(1), "SystemModstamp": T0 + timedelta(days=1), "IsDeleted": True}
    rows[deleted["Id"]] = deleted  # type: ignore[index]
    assert _same(rows[deleted["Id"]].to_dict(), deleted)  # type: ignore[index]
    assert rows._other == {}  # all three packed
    assert list(rows) == [make_id("008", 1), make_id("008", 2)] and len(rows) == 2
    assert make_id("008", 3) not in rows and rows.get(make_id("008", 3)) is None
    assert rows.get(make_id("008", 1).lower()) is None  # keys are exact, as a dict's
    assert rows.get(make_id("006", 1)) is None


def test_history_rows_keep_what_does_not_pack_as_it_is() -> None:
    rows = HistoryRows(Shapes(), ("Prospecting",))
    odd = [
        _history_row(1, Amount=1000),  # an int, not a float
        _history_row(2, StageName="Renamed"),  # not a known stage
        {"Id": make_id("008", 3), **{k: v for k, v in _history_row(3).items() if k != "Id"}},  # key order
        _history_row(4, CreatedDate=T0.replace(microsecond=5000)),
    ]
    for rec in odd:
        rows[rec["Id"]] = rec  # type: ignore[index]
        assert _same(rows[rec["Id"]].to_dict(), rec)  # type: ignore[index]
    assert len(rows._other) == 4
    rows[odd[0]["Id"]] = _history_row(1)  # type: ignore[index]
    assert len(rows._other) == 3 and _same(rows[odd[0]["Id"]].to_dict(), _history_row(1))  # type: ignore[index]
    del rows[make_id("008", 2)]
    assert len(rows) == 3 and make_id("008", 2) not in rows
    assert rows.pop(make_id("008", 4)) is not None and len(rows) == 2
    with pytest.raises(KeyError):
        rows[make_id("008", 9)] = _history_row(8)  # the key and the row's Id differ


def test_history_parent_index_finds_an_opportunitys_rows_in_any_letter_case() -> None:
    chain = ParentChain()
    opp_a, opp_b = make_id("006", 70), make_id("006", 631)  # the second has capitals ("AB")
    for n, opp in ((1, opp_a), (2, opp_b), (3, opp_a), (4, opp_b), (5, opp_a)):
        chain.add(opp, make_id("008", n))
    chain.add(opp_a, make_id("008", 5))  # twice: once
    assert chain.find(opp_a) == {make_id("008", n) for n in (1, 3, 5)}
    assert chain.find(opp_b.lower()) == chain.find(opp_b) == {make_id("008", n) for n in (2, 4)}
    assert chain.find(opp_b[:15]) == set() and chain.find("nonsense") == set()
    chain.remove(opp_a, make_id("008", 3))
    chain.remove(opp_a, make_id("008", 5))
    assert chain.find(opp_a) == {make_id("008", 1)}
    chain.remove(opp_b, make_id("008", 9))  # not there: nothing changes
    assert len(chain.find(opp_b)) == 2


def test_reference_index_keeps_the_stored_id_and_finds_it_in_any_case() -> None:
    parent, child = make_id("001", 631), make_id("003", 5)  # the parent's id has capitals
    assert restore_case(parent.lower()) == parent and restore_case(parent.upper()) == parent
    assert restore_case(parent) is parent  # already in its own case: the same string, no copy
    assert restore_case(parent[:15]) is None and restore_case("x" * 15 + "999") is None
    idx = RefIndex()
    idx.add(parent, child)
    assert next(iter(idx._map)) is parent  # the row's own string is the key
    assert idx.find(parent.lower()) == idx.find(parent) == {child}
    assert idx.find(parent[:15]) == set() and idx.find(make_id("001", 632)) == set()
    idx.remove(parent, child)
    assert idx.find(parent) == set() and not idx._map


def test_a_salesforce_row_is_one_object_that_compares_as_a_mapping() -> None:
    plain = {"Id": "001", "Name": "Acme", "Amount": 1.0}
    row = Shapes().row(plain)
    assert not any(type(x) is tuple for x in gc.get_referents(row))  # shape and values in one tuple
    assert row == plain and row != {**plain, "Amount": 2.0} and row != ("001", "Acme", 1.0)
    assert pickle.loads(pickle.dumps(row)) == row and copy.copy(row) == row
    with pytest.raises(TypeError):
        hash(row)  # a mapping: unhashable, as the dict it replaces


def test_hubspot_instants_are_kept_as_milliseconds_and_read_back_as_written() -> None:
    written = {"a": "2024-05-01T09:30:00.000Z", "b": "1969-12-31T23:59:59.999Z",
               "c": "2024-05-01T09:30:00Z", "d": "2024-05-01", "e": "2024-13-01T09:30:00.000Z", "f": 5}
    values = Values(written)
    assert values.to_dict() == written and dict(values) == written
    assert [type(v) for v in values.values()] == [type(v) for v in written.values()]
    assert type(values._values[0]) is int and type(values._values[1]) is int  # the two instants
    assert values._values[2:5] == ("2024-05-01T09:30:00Z", "2024-05-01", "2024-13-01T09:30:00.000Z")
    values["g"] = "2025-01-02T03:04:05.006Z"
    assert values["g"] == "2025-01-02T03:04:05.006Z" and values.get("a") == written["a"]
    assert Values(values).to_dict() == {**written, "g": "2025-01-02T03:04:05.006Z"}


def test_hubspot_remembered_normal_values_are_forgotten_when_a_property_changes() -> None:
    schema = PropertySchema()
    definition = {"name": "tier", "label": "Tier", "type": "enumeration", "fieldType": "select",
                  "groupName": "contactinformation",
                  "options": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}]}
    schema.create(definition, "2026-01-01T00:00:00.000Z")
    assert schema.check_write({"tier": "a"}, api=True) == ({"tier": "a"}, [])
    assert schema.check_write({"tier": "a"}, api=True) == ({"tier": "a"}, [])  # remembered
    only_b = {**definition, "options": [{"label": "B", "value": "b"}]}
    schema.update("tier", only_b, "2026-01-02T00:00:00.000Z")
    out, problems = schema.check_write({"tier": "a"}, api=True)
    assert out == {} and [p.error for p in problems] == ["INVALID_OPTION"]


def test_history_instants_read_from_their_columns_as_from_the_rows() -> None:
    rows = HistoryRows(Shapes(), ("Prospecting",))
    later = T0 + timedelta(days=2)
    for rec in (_history_row(1), _history_row(2, Amount=5), _history_row(4, SystemModstamp=later)):
        rows[rec["Id"]] = rec  # type: ignore[index]
    for field in ("CreatedDate", "SystemModstamp"):
        current = rows.instant(field)
        assert current is not None
        for n in range(1, 6):
            key = make_id("008", n)
            expected = rows[key].get(field) if key in rows else None
            assert current(key) == expected
    assert rows.instant("Amount") is None


def test_history_rows_beyond_four_byte_counters_are_kept_as_they_are() -> None:
    rows = HistoryRows(Shapes(), ("Prospecting",))
    far = _history_row(1, OpportunityId=make_id("006", 1 << 31))
    rows[far["Id"]] = far  # type: ignore[index]
    assert rows._other and _same(rows[far["Id"]].to_dict(), far)  # type: ignore[index]


def test_history_expected_revenue_is_computed_again_only_when_it_is_amount_times_probability() -> None:
    rows = HistoryRows(Shapes(), ("Prospecting",))
    computed = _history_row(1, Amount=1234.5, Probability=70.0, ExpectedRevenue=1234.5 * 70.0 / 100)
    other = _history_row(2, ExpectedRevenue=99.0)  # not Amount * Probability / 100
    for rec in (computed, other):
        rows[rec["Id"]] = rec  # type: ignore[index]
        assert _same(rows[rec["Id"]].to_dict(), rec)  # type: ignore[index]
    assert list(rows._other) == [2]
