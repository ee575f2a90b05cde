"""The impact preview (sync.views.impact) over a hand-built store: three people whose standing under
the default mapping and under a draft is worked out by hand below.

now = 2026-06-01, default mapping (hot 60, warm 30, wait 30 days, waiting group on no list):
- hot@example.com: HubSpot only, 5 opens × 10 + 1 click × 20 = 70 → hot, lifecycle lead lifted to mql
  (70 ≥ mql_score 60), list "hot".
- warm@example.com: HubSpot only, 4 opens = 40 → warm, inquiry, list "warm".
- lost@example.com: Salesforce only (a contact on a deal lost at "Proposal/Price Quote" = purchase, a
  high phase, on 2026-05-12: 20 days ago), score 0 → cold; within the 30 days' wait: group waiting,
  stage recycle, no list.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
import threading
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import BatchSizes, ContactRef, DealContact, LostDeal
from mappings import Mapping
from mappings.loader import load_mapping_text
from sync.state.store import StateStore
from sync.views import impact
from sync.views.impact import Impact, preview

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DEFAULT = (Path(__file__).resolve().parents[3] / "mappings" / "default.toml").read_text("utf-8")
SIZES = {"salesforce": BatchSizes(fields=200, list_members=100, tasks=200),
         "hubspot": BatchSizes(fields=100, list_members=100, tasks=100)}


def mapping(text: str = DEFAULT) -> Mapping:
    return load_mapping_text(text, "draft.toml")


def draft(*, hot: int | None = None, wait: int | None = None, version: int = 2,
          warm_list: str | None = None) -> Mapping:
    text = DEFAULT.replace("version = 1 ", f"version = {version} ", 1)
    if hot is not None:
        text = text.replace("hot = 60\n", f"hot = {hot}\n", 1)
    if wait is not None:
        text = text.replace("wait_days = 30 ", f"wait_days = {wait} ", 1)
    if warm_list is not None:
        text = text.replace('hubspot_list = "Nurture - Call/DM"', f'hubspot_list = "{warm_list}"', 1)
    assert text != DEFAULT or version == 1
    return mapping(text)


def contact(cid: str, email: str, **props: str) -> ContactRef:
    return ContactRef(cid, email, {"lifecyclestage": "lead", **props}, datetime(2026, 5, 1, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    st = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    st.upsert_contacts("hubspot", [contact("101", "hot@example.com", hs_email_open="5", hs_email_click="1"),
                                   contact("102", "warm@example.com", hs_email_open="4")])
    st.upsert_deals([LostDeal(
        opportunity_id="006LOST", name="Big deal", state="lost", stage_name="Closed Lost",
        stage_at_loss="Proposal/Price Quote", loss_reason="Price", lost_date=date(2026, 5, 12),
        amount=50_000.0, owner_id="005OWNER", account_id="001A", account_name="Acme",
        account_employees=None, account_industry=None,
        contacts=(DealContact("003LOST", "lost@example.com", "<script>alert(1)</script>", "Lost", False,
                              True),),
        modified_at=datetime(2026, 5, 12, tzinfo=UTC), lost_date_source="history")])
    yield st
    st.close()


def test_nothing_changes_under_the_same_mapping(store: StateStore) -> None:
    impact = preview(store, mapping(), mapping(), now=NOW, sizes=SIZES)
    assert impact.people == 3
    assert impact.changed == 0
    assert not impact.stage and not impact.rank and not impact.group
    assert impact.call_tasks == 0
    assert impact.writes == {} and impact.api_calls == {}
    assert impact.sample == []


def test_a_higher_hot_threshold_moves_exactly_the_hot_person(store: StateStore) -> None:
    impact = preview(store, mapping(), draft(hot=80, version=1), now=NOW, sizes=SIZES)
    assert impact.changed == 1
    assert dict(impact.rank) == {("hot", "warm"): 1}
    assert not impact.stage and not impact.group  # 70 is still ≥ mql_score: mql either way
    assert dict(impact.list_removes) == {"hot": 1} and dict(impact.list_adds) == {"warm": 1}
    assert impact.call_tasks == 0
    # saving bumps the version, which the explanation names: every record is written once; the hot
    # person moves from one HubSpot list to another
    assert impact.writes == {"hubspot": {"records": 2, "list_adds": 1, "list_removes": 1},
                             "salesforce": {"records": 1}}
    assert impact.api_calls == {"hubspot": 3, "salesforce": 1}  # a field batch each, a call per list move
    [moved] = impact.sample
    assert moved.key == "hot@example.com"
    assert (moved.before.rank, moved.after.rank) == ("hot", "warm")
    assert (moved.before.nurture_list, moved.after.nurture_list) == ("hot", "warm")
    rules = {what: (was, now) for what, was, now in moved.rules}
    assert set(rules) == {"rank", "list"}
    assert "rank hot (rank.hot = 60)" in rules["rank"][0] and "rank warm (rank.warm = 30)" in rules["rank"][1]
    assert '"Nurture - Events" for rank hot' in rules["list"][0]
    assert '"Nurture - Call/DM" for rank warm' in rules["list"][1]


def test_shorter_wait_moves_the_lost_person_to_high_with_a_call_task(store: StateStore) -> None:
    impact = preview(store, mapping(), draft(wait=10), now=NOW, sizes=SIZES)
    assert impact.changed == 1
    assert dict(impact.group) == {("waiting", "high"): 1}
    assert not impact.stage  # recycle either way
    assert not impact.rank
    assert dict(impact.list_adds) == {"recycle_high": 1} and not impact.list_removes
    assert impact.call_tasks == 1
    # version 2: the explanation names the version, so every record is written once
    assert impact.writes == {"salesforce": {"records": 1, "list_adds": 1, "tasks": 1},
                             "hubspot": {"records": 2}}
    assert impact.api_calls == {"hubspot": 1, "salesforce": 3}
    [moved] = impact.sample
    assert moved.key == "lost@example.com" and moved.name == "<script>alert(1)</script> Lost"
    assert (moved.before.group, moved.after.group) == ("waiting", "high")
    assert moved.after.task is not None and moved.before.task is None
    rules = {what: (was, now) for what, was, now in moved.rules}
    assert set(rules) == {"group", "list", "task"}
    assert "recycle.wait_days = 30" in rules["group"][0] and "group waiting" in rules["group"][0]
    assert "in recycle.high" in rules["group"][1] and "group high" in rules["group"][1]
    assert moved.after.task in rules["task"][1]


def test_a_recorded_call_task_is_not_counted_again(store: StateStore) -> None:
    first = preview(store, mapping(), draft(wait=10), now=NOW, sizes=SIZES)
    store.record_tasks("salesforce", [(first.sample[0].after.task, "00TDONE")], run_id=None)
    impact = preview(store, mapping(), draft(wait=10), now=NOW, sizes=SIZES)
    assert impact.call_tasks == 0
    assert dict(impact.group) == {("waiting", "high"): 1}


def test_a_renamed_list_moves_its_members_in_that_system_only(store: StateStore) -> None:
    impact = preview(store, mapping(), draft(warm_list="Nurture - Calls", version=1), now=NOW, sizes=SIZES)
    assert impact.changed == 0  # nobody's standing changes, the list's HubSpot name does
    assert impact.writes == {"hubspot": {"records": 2, "list_adds": 1, "list_removes": 1},
                             "salesforce": {"records": 1}}


def test_progress_is_reported_up_to_everyone(store: StateStore) -> None:
    seen: list[tuple[str, int, int | None]] = []
    impact = preview(store, mapping(), draft(hot=80), now=NOW, progress=lambda *a: seen.append(a), size=1)
    assert seen[0] == ("people", 0, 3)
    assert seen[-1] == ("done", 3, 3)
    assert [d for p, d, _ in seen if p == "people"] == sorted(d for p, d, _ in seen if p == "people")
    assert isinstance(impact, Impact) and impact.people == 3


def test_the_sample_is_cut_and_in_key_order(store: StateStore) -> None:
    both = draft(hot=80, wait=10)
    assert [m.key for m in preview(store, mapping(), both, now=NOW).sample] == [
        "hot@example.com", "lost@example.com"]
    assert [m.key for m in preview(store, mapping(), both, now=NOW, sample=1).sample] == ["hot@example.com"]
    assert preview(store, mapping(), both, now=NOW, sample=1).changed == 2


def test_worker_processes_find_the_same(store: StateStore) -> None:
    both = draft(hot=80, wait=10)
    alone = preview(store, mapping(), both, now=NOW, sizes=SIZES, size=1, workers=1)
    pooled = preview(store, mapping(), both, now=NOW, sizes=SIZES, size=1, workers=2)
    assert pooled.to_dict() == alone.to_dict()
    assert pooled.changed == 2


def _sigterm_is_default(_: object) -> bool:
    return signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_forked_workers_do_not_keep_the_parents_sigterm_handler(store: StateStore) -> None:
    """A pool's terminate() ends its workers with SIGTERM; a worker that inherited a Python handler
    (the run's, uvicorn's in the console) would ignore it while blocked on the pool's queue lock, and
    the preview would wait for it for ever (seen once in CI). The workers' initializer restores it."""
    before = signal.signal(signal.SIGTERM, lambda *_: None)
    impact._SHARED = (store, None)  # type: ignore[assignment]  (what the initializer reads)
    try:
        with multiprocessing.get_context("fork").Pool(1, initializer=impact._forked) as pool:
            assert pool.map(_sigterm_is_default, [0]) == [True]
    finally:
        impact._SHARED = None
        signal.signal(signal.SIGTERM, before)


def test_workers_end_under_a_sigterm_handler_that_ignores_it(store: StateStore) -> None:
    """With such a handler in the parent, a pooled preview still returns and leaves no worker behind
    (the workers end on the pool's close, not only on terminate)."""
    both = draft(hot=80, wait=10)
    found: list[Any] = []
    before = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        worker = threading.Thread(target=lambda: found.append(
            preview(store, mapping(), both, now=NOW, sizes=SIZES, size=1, workers=2)), daemon=True)
        worker.start()
        worker.join(60)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert not worker.is_alive(), "the preview waited for its workers"
    assert found and found[0].changed == 2
    assert not multiprocessing.active_children()


def test_the_terminal_tables_show_crm_text_as_text(store: StateStore) -> None:
    from io import StringIO

    from rich.console import Console

    from sync.views.impact_render import render_impact

    impact = preview(store, mapping(), draft(wait=10), now=NOW, sizes=SIZES)
    moved = impact.sample[0]
    impact.sample[0] = replace(moved, name="\x1b[31mred[/] [bold]x")
    out = StringIO()
    render_impact(impact, Console(file=out, width=200, color_system=None, highlight=False))
    text = out.getvalue()
    assert "\x1b" not in text
    assert r"\x1b[31mred[/] [bold]x" in text  # visible, and not taken for markup
    assert "lost@example.com" in text and "waiting" in text and "high" in text


def test_batch_sizes_come_from_the_settings_without_credentials(tmp_path: Path) -> None:
    from connectors.base import CallCounter
    from connectors.factory import build_connectors, write_sizes
    from connectors.hubspot.settings import HubSpotSettings
    from connectors.retry import RetryPolicy
    from connectors.salesforce.settings import SalesforceSettings

    hubspot = HubSpotSettings(membership_chunk=250)
    sizes = write_sizes(SalesforceSettings(), hubspot)  # no token, no key: nothing is built
    assert sizes["hubspot"].list_members == 250
    built = build_connectors(SalesforceSettings(), HubSpotSettings(access_token="x", membership_chunk=250),
                             counter=CallCounter(), policy=RetryPolicy())
    assert {c.system: c.write_sizes for c in built} == sizes  # what a run's connectors send


def test_the_garbage_collector_is_left_as_it_was(store: StateStore) -> None:
    assert gc.isenabled()
    preview(store, mapping(), draft(hot=80), now=NOW, size=1, workers=1)
    assert gc.isenabled()  # paused for each range only
    gc.disable()
    try:
        preview(store, mapping(), draft(hot=80), now=NOW, size=1, workers=1)
        assert not gc.isenabled()  # not turned on by the preview when it was off
    finally:
        gc.enable()
