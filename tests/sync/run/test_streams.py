"""The pull streams and the one lookback rule: an incremental read starts at the stream's watermark
minus the lookback of the connector that reads it, a backfill starts exactly at `--since` (streams that
follow the window), a first run reads everything. Recording fakes of both systems stand in for the
connectors: this is about the `since` the runner hands them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import (
    Allowance,
    BatchSizes,
    CallCounter,
    CallTask,
    ContactRef,
    FieldSpec,
    FieldUpdate,
    ListChange,
    LostDeal,
    MarketingSystem,
    OwnerOutlook,
    SalesSystem,
    Scalar,
    TaskState,
    WriteResult,
)
from mappings.loader import load_mapping_text
from sync.run import streams
from sync.run.context import SyncContext
from sync.run.runner import RunOptions, run
from sync.settings import Settings, StateSettings
from sync.state.store import StateStore
from tests.mappings.mapping_helpers import default_text

SF_LOOKBACK = timedelta(minutes=10)
HS_LOOKBACK = timedelta(minutes=3)  # differs from Salesforce's: a swapped lookback shows
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
MARKS = {
    "salesforce.opportunities": datetime(2025, 5, 1, 9, tzinfo=UTC),
    "salesforce.call_tasks": datetime(2025, 5, 1, 11, tzinfo=UTC),
    "hubspot.contacts": datetime(2025, 5, 2, 9, tzinfo=UTC),
    "hubspot.archived": datetime(2025, 5, 3, 9, tzinfo=UTC),
    "salesforce.managed_contacts": datetime(2025, 5, 4, 9, tzinfo=UTC),
}
SINCE, UNTIL = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
CALLS = {"salesforce.opportunities": "iter_deals", "salesforce.call_tasks": "iter_task_states",
         "hubspot.contacts": "iter_contacts",
         "hubspot.archived": "iter_archived", "salesforce.managed_contacts": "iter_managed_contacts"}


class Recorder:
    def __init__(self, lookback: timedelta) -> None:
        self.lookback = lookback
        self.since: dict[str, datetime | None] = {}
        self.until: dict[str, datetime | None] = {}

    def update_fields(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        return [WriteResult(u.record_id, True) for u in updates]

    def change_lists(self, changes: Sequence[ListChange]) -> list[WriteResult]:
        return [WriteResult(c.record_id, True) for c in changes]


class FakeSales(Recorder):
    system = "salesforce"
    write_sizes = BatchSizes(200, 200, 200)

    def connect(self) -> None:
        pass

    def account_id(self) -> str:
        return "00D000000000001AAA"

    def iter_deals(self, since: datetime | None, until: datetime | None = None, *,
                   lost_only: bool = False, contact_fields: Sequence[str] = ()) -> Iterator[LostDeal]:
        self.since["iter_deals"], self.until["iter_deals"] = since, until
        return iter(())

    def iter_task_states(self, since: datetime | None, until: datetime | None = None) -> Iterator[TaskState]:
        self.since["iter_task_states"], self.until["iter_task_states"] = since, until
        return iter(())

    def iter_managed_contacts(self, fields: Sequence[str], watch: Sequence[str],
                              since: datetime | None) -> Iterator[ContactRef]:
        assert watch, "the default mapping watches keep_manual fields"
        self.since["iter_managed_contacts"] = since
        return iter(())

    def read_current(self, ids: Sequence[str], fields: Sequence[str]) -> dict[str, dict[str, Scalar]]:
        return {}

    def check_read_fields(self) -> list[str]:
        return []

    def task_owner_outlook(self, lost_since: datetime) -> OwnerOutlook:
        return OwnerOutlook(0, 0, 0, 0)

    def daily_allowance(self) -> Allowance | None:
        return None

    def check_fields(self, expected: Any) -> list[str]:
        return []

    def prepare_lists(self, names: Sequence[str]) -> dict[str, str]:
        return {}

    def create_tasks(self, tasks: Sequence[CallTask]) -> list[WriteResult]:
        return [WriteResult(t.cycle_key, True) for t in tasks]


class FakeMarketing(Recorder):
    system = "hubspot"
    write_sizes = BatchSizes(100, 500, 100)

    def connect(self) -> None:
        pass

    def account_id(self) -> str:
        return "1"

    def iter_contacts(self, since: datetime | None, properties: Sequence[str],
                      until: datetime | None = None) -> Iterator[ContactRef]:
        self.since["iter_contacts"], self.until["iter_contacts"] = since, until
        return iter(())

    def iter_archived(self, since: datetime | None) -> Iterator[ContactRef]:
        self.since["iter_archived"] = since
        return iter(())

    def read_by_email(self, emails: Sequence[str], properties: Sequence[str]) -> Iterator[ContactRef]:
        return iter(())

    def ensure_properties(self, definitions: Sequence[FieldSpec], *, create_missing: bool) -> list[str]:
        return []

    def daily_allowance(self) -> Allowance | None:
        return None

    def ensure_lists(self, names: Sequence[str], *, create_missing: bool) -> dict[str, str]:
        return {}

    def confirm_lists(self, names: Sequence[str]) -> dict[str, str]:
        return {}

    def remember_list_ids(self, known: Mapping[str, str],
                          on_change: Callable[[str, str | None], None]) -> None:
        pass


def pulled(tmp_path: Path, marks: dict[str, datetime], options: RunOptions) -> dict[str, datetime | None]:
    """Run once with these watermarks; connector call -> the `since` it received."""
    store = StateStore.open(f"sqlite:///{tmp_path}/state.db")
    for name, mark in marks.items():
        store.set_watermark(name, mark)
    sales, marketing = FakeSales(SF_LOOKBACK), FakeMarketing(HS_LOOKBACK)
    assert isinstance(sales, SalesSystem) and isinstance(marketing, MarketingSystem)
    mapping = load_mapping_text(default_text(), "default.toml")
    settings = Settings(state=StateSettings(url=f"sqlite:///{tmp_path}/state.db"))
    ctx = SyncContext(settings, mapping, store, CallCounter(), sales, marketing)
    try:
        result = run(ctx, options)
    finally:
        ctx.close()
    assert result.status == "ok", result.to_dict()
    if options.kind == "backfill":
        assert sales.until["iter_deals"] == marketing.until["iter_contacts"] == options.until
    assert sales.until["iter_task_states"] is None  # every change since the mark, backfill or not
    return {**sales.since, **marketing.since}


def test_the_watermark_names_are_the_stored_ones() -> None:
    assert [s.name for s in streams.STREAMS] == list(MARKS)  # users' state databases hold these names


@pytest.mark.parametrize("stream", list(MARKS))
def test_incremental_reads_start_at_watermark_minus_the_readers_lookback(tmp_path: Path, stream: str) -> None:
    since = pulled(tmp_path, MARKS, RunOptions(now=NOW))
    lookback = SF_LOOKBACK if stream.startswith("salesforce.") else HS_LOOKBACK
    assert since[CALLS[stream]] == MARKS[stream] - lookback


@pytest.mark.parametrize("stream, expected", [
    ("salesforce.opportunities", SINCE),  # exactly --since (it used to start 10 minutes early)
    ("hubspot.contacts", SINCE),
    ("hubspot.archived", MARKS["hubspot.archived"] - HS_LOOKBACK),  # archived follows its watermark
    ("salesforce.managed_contacts", None),  # re-read entirely on a backfill
    ("salesforce.call_tasks", MARKS["salesforce.call_tasks"] - SF_LOOKBACK),  # tasks follow their watermark
])
def test_a_backfill_starts_exactly_at_since(tmp_path: Path, stream: str, expected: datetime | None) -> None:
    since = pulled(tmp_path, MARKS, RunOptions(now=NOW, kind="backfill", since=SINCE, until=UNTIL))
    assert since[CALLS[stream]] == expected


def test_a_first_run_reads_everything_and_no_archive_yet(tmp_path: Path) -> None:
    since = pulled(tmp_path, {}, RunOptions(now=NOW))
    assert since == {"iter_deals": None, "iter_task_states": None, "iter_contacts": None,
                     "iter_managed_contacts": None}


def test_archived_contacts_are_read_whole_once_contacts_are_known(tmp_path: Path) -> None:
    since = pulled(tmp_path, {"hubspot.contacts": MARKS["hubspot.contacts"]}, RunOptions(now=NOW))
    assert "iter_archived" in since and since["iter_archived"] is None


def test_the_rule() -> None:
    mark, lookback = MARKS["hubspot.contacts"], timedelta(minutes=5)
    for stream in streams.STREAMS:
        assert streams.start(stream, watermark=mark, lookback=lookback, backfill=False, since=SINCE) \
            == mark - lookback
        assert streams.start(stream, watermark=None, lookback=lookback, backfill=False, since=SINCE) is None
    backfill = streams.start(streams.DEALS, watermark=mark, lookback=lookback, backfill=True, since=SINCE)
    assert backfill == SINCE
