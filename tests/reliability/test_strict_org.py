"""A strict org and portal (issue 10): HubSpot refuses whole batches (400) instead of answering 207,
caps membership calls, and the Salesforce org answers the errors real automation gives — validation
rules, duplicate rules, flows, locked records, access, integrity — on some of the people's records of
the first run (Contact field updates, campaign members, call tasks: chosen by what is written, not by
call order, so the campaigns the run creates up front are not among them), and its concurrent-request
limit (403 REQUEST_LIMIT_EXCEEDED) twice.

The first run must write every other record and keep each refused one as an open failure carrying its
code (`leadsync failures --json`), without resubmitting what a retry cannot fix; the next run (the org
fixed, the faults spent) must reach exactly the state a fault-free run reaches, with nothing open."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from sandbox.faults import FaultInjector
from sandbox.salesforce.composite import ENDPOINT, injected_error
from sync.cli.main import app
from tests.reliability.conftest import References
from tests.reliability.harness import Harness
from tests.reliability.sf_writes import RecordWrite, on_record_writes
from tests.reliability.state_compare import capture, differences

pytestmark = pytest.mark.slow  # seconds per test: `pytest -m "not slow"` skips it in a quick loop

ORG_ERRORS = ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "DUPLICATES_DETECTED", "CANNOT_EXECUTE_FLOW_TRIGGER",
              "ENTITY_IS_LOCKED", "INSUFFICIENT_ACCESS_OR_READONLY", "FIELD_INTEGRITY_EXCEPTION")
PER_CODE = 2  # records refused with each code on the first run


@pytest.fixture
def strict(harness: Harness) -> Iterator[Harness]:
    """The shared sandbox in its strict modes for this test only."""
    hubspot = harness.box.hubspot
    before = (hubspot.batch_errors, hubspot.membership_max_ids)
    hubspot.batch_errors, hubspot.membership_max_ids = "whole_batch", 500
    try:
        yield harness
    finally:
        hubspot.batch_errors, hubspot.membership_max_ids = before


def _failures_cli(harness: Harness) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["failures", "--json", "--config", str(harness.settings_path)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_strict_org_and_portal_converge_with_every_refused_record_reported(
        strict: Harness, references: References) -> None:
    harness = strict
    expected = references.get()
    harness.load()
    harness.configure()
    harness.setup()
    people_faults = FaultInjector.parse(
        ";".join(f"salesforce.collections:record=1x{PER_CODE}@{code}" for code in ORG_ERRORS), seed=7)
    # the org's concurrent-request limit: waited out
    harness.box.salesforce.faults = FaultInjector.parse("salesforce.query:concurrent=1x2", seed=7)
    harness.box.hubspot.faults = FaultInjector.parse("hubspot.batch_update:record=1x3@INVALID_OPTION", seed=8)

    def refuse(write: RecordWrite) -> None:
        code = people_faults.draw_record(ENDPOINT) if write.for_people else None
        if code is not None:
            raise injected_error(code, write.record_id)  # as a `record` fault of the call would

    with on_record_writes(harness.box.salesforce.store, refuse):
        first = harness.run()
    assert first.status == "partial" and first.exit_code == 1, (first.status, first.error)
    failures = [f for f in _failures_cli(harness) if f["stage"] == "write"]
    # a write failure's reason reads "<what>: <CODE>: <message> (check: <what to check in the org>)"
    codes = Counter(str(f["reason"]).split(": ")[1] for f in failures if f["system"] == "salesforce")
    # every refused record is an open failure with its code, and none was resubmitted in the run (a
    # resubmission would have drawn no fault, written the record and left no failure behind)
    assert codes == dict.fromkeys(ORG_ERRORS, PER_CODE), [f["reason"] for f in failures]
    assert all("check:" in str(f["reason"]) for f in failures if f["system"] == "salesforce"), failures
    hubspot_failed = [f for f in failures if f["system"] == "hubspot"]
    assert len(hubspot_failed) == 3, hubspot_failed  # the whole-batch 400s cost only the refused records
    injectors = (people_faults, harness.box.salesforce.faults, harness.box.hubspot.faults)
    injected = Counter(kind for faults in injectors
                       for (_endpoint, kind), n in faults.injected.items() for _ in range(n))
    assert injected["record"] == len(ORG_ERRORS) * PER_CODE + 3, injected
    assert injected["concurrent"] == 2, injected

    second = harness.run()
    assert second.status == "ok", (second.status, second.error)
    assert differences(expected, capture(harness.box)) == []
    assert [f for f in _failures_cli(harness) if f["stage"] == "write"] == []
