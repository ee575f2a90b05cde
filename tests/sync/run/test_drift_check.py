"""The drift check (issue 11): values changed behind leadsync's back in a way no incremental read sees
(a restore that keeps old timestamps) are written again: all of them with `--verify`, the sampled ones
(a window that moves each run) by a normal run. Real clients over HTTP against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox
from sync.run.context import SyncContext, open_context
from sync.run.runner import RunOptions, RunResult, run
from sync.run.setup import run_setup
from sync.settings import load_settings

SF_FIELD, HS_FIELD = "Lead_Rank__c", "leadsync_rank"  # overwrite fields of the default mapping
LONG_AGO = datetime(2020, 1, 1)  # a restore: the values come back with old modification times


@pytest.fixture
def synced(sandbox: Sandbox, tmp_path: Path) -> Iterator[tuple[Sandbox, Path]]:
    path = sandbox.write_settings(tmp_path / "settings.toml", state_url=f"sqlite:///{tmp_path}/state.db")
    ctx = make_ctx(path, sample=0)
    try:
        assert run_setup(ctx, create_missing=True).ok
        for _ in range(2):  # the second run reads back what the first wrote and moves the watermarks on
            done = run(ctx, RunOptions(now=sandbox.now))
            assert done.status == "ok", done.error
    finally:
        ctx.close()
    yield sandbox, path


def make_ctx(path: Path, *, sample: int) -> SyncContext:
    settings = load_settings(path)
    sync_section = settings.sync.model_copy(update={"verify_sample": sample})
    settings = settings.model_copy(update={"sync": sync_section})
    return open_context(settings)


def tamper(box: Sandbox) -> tuple[list[str], list[str]]:
    """Blank the rank leadsync wrote on every contact, with a modification time long before the
    watermarks (no incremental read sees it). Returns the Salesforce and HubSpot ids changed."""
    at = LONG_AGO.replace(tzinfo=box.now.tzinfo) if box.now else None
    sf_ids = [c["Id"] for c in box.salesforce.store.all("Contact") if c.get(SF_FIELD)]
    for cid in sf_ids:
        box.salesforce.store.update("Contact", cid, {SF_FIELD: None}, at=at)
    hs = box.hubspot.store
    hs_ids = [c["id"] for c in hs.contacts() if c["properties"].get(HS_FIELD)]
    for hid in hs_ids:
        hs.update_contact(hid, {HS_FIELD: None}, at=at)
    return sf_ids, hs_ids


def restored(box: Sandbox, sf_ids: list[str], hs_ids: list[str]) -> tuple[int, int]:
    sf = sum(1 for cid in sf_ids if (box.salesforce.store.get("Contact", cid) or {}).get(SF_FIELD))
    hs = sum(1 for hid in hs_ids if (box.hubspot.store.get_contact(hid) or {}).get("properties", {})
             .get(HS_FIELD))
    return sf, hs


def sync(path: Path, box: Sandbox, *, sample: int, verify: bool = False) -> RunResult:
    ctx = make_ctx(path, sample=sample)
    try:
        result = run(ctx, RunOptions(now=box.now + timedelta(minutes=1) if box.now else None, verify=verify))
    finally:
        ctx.close()
    assert result.status == "ok", result.error
    return result


def test_without_the_check_nothing_is_restored_and_verify_restores_everything(
        synced: tuple[Sandbox, Path]) -> None:
    box, path = synced
    sf_ids, hs_ids = tamper(box)
    assert len(sf_ids) > 10 and len(hs_ids) > 10
    sync(path, box, sample=0)  # what leadsync did before: it believes the values are there
    assert restored(box, sf_ids, hs_ids) == (0, 0)
    result = sync(path, box, sample=0, verify=True)
    assert restored(box, sf_ids, hs_ids) == (len(sf_ids), len(hs_ids))
    assert result.counts["verify.salesforce.drifted"] == len(sf_ids)
    assert result.counts["verify.hubspot.drifted"] == len(hs_ids)
    again = sync(path, box, sample=0, verify=True)
    assert again.counts["verify.salesforce.drifted"] == again.counts["verify.hubspot.drifted"] == 0
    assert sum(again.plan["counts"].get(s, {}).get("fields", 0) for s in ("salesforce", "hubspot")) == 0


def test_normal_runs_restore_a_moving_sample_until_all_are_back(synced: tuple[Sandbox, Path]) -> None:
    box, path = synced
    sf_ids, hs_ids = tamper(box)
    sample = 7
    first = sync(path, box, sample=sample)
    sf_back, hs_back = restored(box, sf_ids, hs_ids)
    assert first.counts["verify.salesforce.read"] <= sample and first.counts["verify.hubspot.read"] <= sample
    assert 0 < sf_back <= sample and 0 < hs_back <= sample  # the sampled ones, no more
    assert (sf_back, hs_back) == (first.counts["verify.salesforce.drifted"],
                                  first.counts["verify.hubspot.drifted"])
    runs = 1
    while restored(box, sf_ids, hs_ids) != (len(sf_ids), len(hs_ids)):
        sync(path, box, sample=sample)
        runs += 1
        assert runs <= 40, restored(box, sf_ids, hs_ids)
    ctx = make_ctx(path, sample=sample)
    try:
        written = max(len(ctx.store.written_record_ids(s)) for s in ("salesforce", "hubspot"))
    finally:
        ctx.close()
    assert runs <= -(-written // sample)  # the window moves: every record within ceil(n / sample) runs
