"""207 mapping, value checks and conversion, and isolating the records of a batch rejected whole."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.base import CallCounter, Scalar
from connectors.hubspot.transport import HubSpotPacing, HubSpotTransport
from connectors.hubspot.write import (
    PropertyRule,
    _submit_update,
    check_values,
    map_batch_results,
    to_hubspot_value,
)
from connectors.pacing import IntervalLimiter, RollingWindowLimiter, VirtualClock
from connectors.retry import RetryPolicy


def test_207_maps_every_input() -> None:
    data = {
        "status": "COMPLETE",
        "results": [{"id": "1"}, {"id": "4"}],
        "numErrors": 2,
        "errors": [
            {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "gone", "context": {"ids": ["2"]}},
            {"status": "error", "category": "RATE_LIMITS", "message": "later", "context": {"ids": ["3"]}},
        ],
    }
    results = map_batch_results(["1", "2", "3", "4", "5"], data)
    assert [(r.record_id, r.ok, r.error_code, r.retryable) for r in results] == [
        ("1", True, None, False),
        ("2", False, "RECORD_MISSING", False),
        ("3", False, "RATE_LIMITS", True),
        ("4", True, None, False),
        ("5", False, "UNCONFIRMED", True),  # neither confirmed nor rejected: never a success
    ]


def test_empty_answer_confirms_nothing() -> None:
    assert not any(r.ok for r in map_batch_results(["1", "2"], None))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, ""), (True, "true"), (False, "false"), (12.0, "12"), (12.5, "12.5"), (7, "7"), ("mql", "mql")],
)
def test_to_hubspot_value(value: Scalar, expected: str) -> None:
    assert to_hubspot_value(value) == expected


RULES = {
    "stage": PropertyRule("stage", "enumeration", frozenset({"mql", "sql"})),
    "score": PropertyRule("score", "number"),
    "optout": PropertyRule("optout", "bool"),
    "note": PropertyRule("note", "string"),
    "hs_object_id": PropertyRule("hs_object_id", "number", read_only=True),
}


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"stage": "mql", "score": "3.5", "optout": "true", "note": "x"}, None),
        ({"stage": ""}, None),  # clearing is always allowed
        ({"stage": "mql;sql"}, None),  # multi-select
        ({"stage": "hot"}, "INVALID_OPTION"),
        ({"score": "many"}, "INVALID_NUMBER"),
        ({"optout": "yes"}, "INVALID_BOOLEAN"),
        ({"nope": "1"}, "PROPERTY_DOESNT_EXIST"),
        ({"hs_object_id": "1"}, "READ_ONLY_VALUE"),
    ],
)
def test_check_values(values: dict[str, str], code: str | None) -> None:
    problem = check_values(values, RULES)
    assert (problem[0] if problem else None) == code


# --------------------------------------------------------------------------- whole-batch 400


class _Rejected(Exception):
    """What the client raises for a 400: status, headers, body."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("400")
        self.status = 400
        self.headers: dict[str, str] = {}
        self.body = json.dumps(body)


class _Raw:
    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body).encode()
        self.status = 200
        self.headers: dict[str, str] = {}

    def release_conn(self) -> None:
        pass


def _transport(bad: set[str] | None, calls: list[list[str]], *, naming: str | None = None,
               ) -> HubSpotTransport:
    """Batch update that rejects a whole batch (400) when it holds a `bad` id, or always (None).
    `naming`: where the error names the bad ids ("context", "message"), or nowhere (None)."""

    def update(body: Any, **_: Any) -> _Raw:
        ids = [i.id for i in body.inputs]
        calls.append(ids)
        if bad is None or bad & set(ids):
            hit = sorted(bad & set(ids)) if bad else []
            if naming == "context":
                raise _Rejected({"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not "
                                 "get some CONTACT objects", "context": {"ids": hit}})
            if naming == "message":
                raise _Rejected({"status": "error", "category": "VALIDATION_ERROR", "message": "Duplicate "
                                 f"IDs found in batch input: [{', '.join(hit)}]. IDs must be unique"})
            raise _Rejected({"status": "error", "category": "VALIDATION_ERROR", "message": "Property values "
                             "were not valid: [{\"isValid\":false,\"message\":\"3 is not a date\"}]"})
        return _Raw({"status": "COMPLETE", "results": [{"id": i} for i in ids]})

    client = SimpleNamespace(crm=SimpleNamespace(contacts=SimpleNamespace(
        batch_api=SimpleNamespace(update_with_http_info=update))))
    clock = VirtualClock()
    pacing = HubSpotPacing(RollingWindowLimiter(100, 10.0, clock=clock, sleep=clock.sleep),
                           IntervalLimiter(5.0, clock=clock, sleep=clock.sleep))
    return HubSpotTransport(client, counter=CallCounter(), policy=RetryPolicy(), pacing=pacing,  # type: ignore[arg-type]
                            daily_reserve=0, timeout=None, sleep=clock.sleep)


def test_a_rejected_batch_is_split_until_the_bad_record_is_alone() -> None:
    calls: list[list[str]] = []
    batch = [(str(i), {"x": "1"}) for i in range(100)]
    results = _submit_update(_transport({"37"}, calls), batch)
    assert [r.record_id for r in results] == [str(i) for i in range(100)]
    assert [r.record_id for r in results if not r.ok] == ["37"]
    assert results[37].error_code == "VALIDATION_ERROR" and "not valid" in (results[37].message or "")
    assert len(calls) <= 1 + 2 * 7  # log2(100) levels, two halves each
    assert max(len(c) for c in calls[1:]) == 50


def test_bad_records_in_both_halves_are_isolated_and_the_rest_is_written() -> None:
    calls: list[list[str]] = []
    bad = {"3", "37", "60", "99"}
    results = _submit_update(_transport(bad, calls), [(str(i), {"x": "1"}) for i in range(100)])
    assert [r.record_id for r in results] == [str(i) for i in range(100)]
    assert {r.record_id for r in results if not r.ok} == bad
    written = {rid for c in calls if not bad & set(c) for rid in c}
    assert written == {str(i) for i in range(100)} - bad  # every good record written, once
    assert sum(len(c) for c in calls if not bad & set(c)) == 96
    assert len(calls) <= 1 + 2 * 7 * len(bad)


@pytest.mark.parametrize("naming", ["context", "message"])
def test_records_named_by_a_rejected_batch_fail_and_the_rest_is_sent_once_more(naming: str) -> None:
    calls: list[list[str]] = []
    bad = {"5", "70"}
    batch = [(str(i), {"x": "1"}) for i in range(100)]
    results = _submit_update(_transport(bad, calls, naming=naming), batch)
    assert {r.record_id for r in results if not r.ok} == bad
    assert all(r.ok for r in results if r.record_id not in bad)
    assert [len(c) for c in calls] == [100, 98]
    expected = "RECORD_MISSING" if naming == "context" else "VALIDATION_ERROR"
    assert {results[5].error_code, results[70].error_code} == {expected}


def test_a_batch_refused_for_no_record_fails_each_record_alone() -> None:
    calls: list[list[str]] = []
    results = _submit_update(_transport(None, calls), [(str(i), {"x": "1"}) for i in range(8)])
    assert not any(r.ok for r in results) and len(results) == 8
    assert len(calls) == 15  # 8 + 4 + 2 + 1: down to single records
    assert results[0].error_code == "VALIDATION_ERROR" and "not a date" in (results[0].message or "")
