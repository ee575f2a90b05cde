"""Pure parts of the Salesforce connector (SOQL building, parsing, stage at loss, result mapping) and
Bulk API 2.0 paging/ingest at the HTTP level (responses)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.base import CallCounter, ConfigurationError, FieldUpdate
from connectors.retry import RetryPolicy
from connectors.salesforce.bulk import BulkOptions, build_csv, parse_csv
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.read import (
    HistoryStream,
    _nest,
    deal_soql,
    loss_entered,
    parse_datetime,
    stage_at_loss,
)
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.write import record_result

INSTANCE = "https://acme.my.salesforce.com"
BASE = f"{INSTANCE}/services/data/v59.0/"
CLOSED = {"Closed Won": True, "Closed Lost": False}


def rows(*stages: str) -> list[dict[str, str]]:
    return [{"StageName": s} for s in stages]


def dated(*stages: str) -> list[dict[str, str]]:
    """History rows one day apart: row i on 2024-01-(i+1)."""
    return [{"StageName": s, "CreatedDate": f"2024-01-{i + 1:02d}T10:00:00.000+0000"}
            for i, s in enumerate(stages)]


@pytest.mark.parametrize(
    ("history", "entered_day"),
    [
        ([], None),
        (dated("Prospecting", "Closed Lost"), 2),
        (dated("Prospecting", "Closed Lost", "Closed Lost", "Closed Lost"), 2),  # CloseDate/amount edits
        (dated("Prospecting", "Closed Lost", "Qualification", "Closed Lost", "Closed Lost"), 4),  # again
        (dated("Prospecting", "Closed Lost", "Lost - No Budget"), 2),  # closed-lost to closed-lost
        (dated("Prospecting", "Closed Won", "Closed Lost"), 3),  # won, then lost
        (dated("Prospecting", "Closed Lost", "Qualification"), None),  # reopened: not lost now
        (dated("Closed Lost", "Closed Lost"), None),  # created lost (imported): no move to see
    ],
)
def test_loss_entered(history: list[dict[str, str]], entered_day: int | None) -> None:
    closed = {**CLOSED, "Lost - No Budget": False}
    expected = None if entered_day is None else datetime(2024, 1, entered_day, 10, tzinfo=UTC)
    assert loss_entered(history, closed) == expected


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], None),
        (rows("Prospecting", "Qualification", "Closed Lost"), "Qualification"),
        (
            rows("Qualification", "Qualification", "Closed Lost", "Closed Lost"),
            "Qualification",
        ),  # amount edits
        (rows("Prospecting", "Closed Lost", "Negotiation/Review", "Closed Lost"), "Negotiation/Review"),
        (rows("Prospecting", "Closed Won", "Closed Lost"), "Prospecting"),  # won then lost
        (rows("Closed Lost"), None),
        (rows("Prospecting", "Value Proposition"), "Value Proposition"),  # history without the close
    ],
)
def test_stage_at_loss(history: list[dict[str, str]], expected: str | None) -> None:
    assert stage_at_loss(history, CLOSED) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T09:00:00.000+0000", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("2024-03-01T11:30:00.000+0230", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("2024-03-01T09:00:00Z", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("2024-03-01T09:00:00", datetime(2024, 3, 1, 9, tzinfo=UTC)),
    ],
)
def test_parse_datetime(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


def test_deal_soql_quotes_datetimes_and_refuses_bad_field_names() -> None:
    soql = deal_soql(
        "Loss_Reason__c",
        datetime(2024, 3, 1, 9, 0, 0, 123456, tzinfo=UTC),
        datetime(2024, 3, 2, tzinfo=UTC),
        lost_only=True,
    )
    assert (
        "SystemModstamp >= 2024-03-01T09:00:00+00:00 AND SystemModstamp < 2024-03-02T00:00:00+00:00" in soql
    )
    assert soql.endswith("AND IsClosed = true AND IsWon = false ORDER BY SystemModstamp, Id")
    assert "ORDER BY" not in deal_soql("Loss_Reason__c", None, None, lost_only=False, ordered=False)
    with pytest.raises(ConfigurationError):
        deal_soql("Reason__c FROM User WHERE Name != ''", None, None, lost_only=False)


def test_nest_bulk_parent_columns() -> None:
    assert _nest({"Id": "1", "Account.Name": "A", "Account.Industry": None}) == {
        "Id": "1",
        "Account": {"Name": "A", "Industry": None},
    }
    assert _nest({"Id": "1", "Account.Name": None})["Account"] is None


@pytest.mark.parametrize(
    ("item", "ok", "code", "retryable"),
    [
        ({"id": "003", "success": True, "errors": []}, True, None, False),
        (
            {"success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}]},
            False,
            "UNABLE_TO_LOCK_ROW",
            True,
        ),
        (
            {
                "success": False,
                "errors": [
                    {
                        "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        "message": "bad value",
                        "fields": ["Lead_Stage__c"],
                    }
                ],
            },
            False,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            False,
        ),
        ({"success": False, "errors": []}, False, "UNKNOWN_ERROR", False),
        (None, False, "MISSING_RESULT", True),
    ],
)
def test_record_result(item: dict | None, ok: bool, code: str | None, retryable: bool) -> None:
    result = record_result("003x", item)
    assert (result.ok, result.error_code, result.retryable) == (ok, code, retryable)


def test_duplicate_value_can_mean_success() -> None:
    item = {"success": False, "errors": [{"statusCode": "DUPLICATE_VALUE", "message": "Already a member"}]}
    assert record_result("003x", item, ok_codes=frozenset({"DUPLICATE_VALUE"})).ok


def test_csv_round_trip_with_nulls_booleans_and_quotes() -> None:
    text = build_csv([{"Id": "1", "A": None, "B": True}, {"Id": "2", "A": 'say "hi", ok'}], ["Id", "A", "B"])
    assert text.splitlines()[1] == "1,#N/A,true"
    parsed = parse_csv(text)
    assert parsed[1] == {"Id": "2", "A": 'say "hi", ok', "B": None}  # empty cell: unchanged on ingest


# --------------------------------------------------------------------------- bulk over HTTP


def connector(**overrides: object) -> tuple[SalesforceConnector, CallCounter, list[float]]:
    counter, sleeps = CallCounter(), []
    config = SalesforceSettings(
        auth="session", session_id="S", instance_url=INSTANCE, lookback_minutes=0, **overrides
    )
    return (
        SalesforceConnector(
            config,
            counter=counter,
            policy=RetryPolicy(max_attempts=3, base_delay=0.01),
            sleep=sleeps.append,
            bulk_options=BulkOptions(poll_interval=1.0),
        ),
        counter,
        sleeps,
    )


OPP_CSV_HEADER = (
    '"Id","Name","StageName","IsClosed","IsWon","IsDeleted","Loss_Reason__c","CloseDate","Amount",'
    '"OwnerId","AccountId","Account.Name","Account.NumberOfEmployees","Account.Industry",'
    '"SystemModstamp"\n'
)


def opp_csv(start: int, n: int) -> str:
    lines = [
        f'"006{i:015d}","D{i}","Closed Lost","true","false","false","Price","2024-06-30","10.5",'
        f'"005000000000000001","","","","","2024-03-01T09:00:00.000+0000"\n'
        for i in range(start, start + n)
    ]
    return OPP_CSV_HEADER + "".join(lines)


@responses.activate
def test_bulk_query_pages_through_locators_one_page_at_a_time() -> None:
    first = {
        "totalSize": 5000,
        "done": False,
        "nextRecordsUrl": "/services/data/v59.0/queryAll/01g-2000",
        "records": [],
    }
    responses.get(re.compile(re.escape(BASE) + r"queryAll/\?q=SELECT\+Id%2C\+Name.*"), json=first)
    responses.get(
        re.compile(re.escape(BASE) + r"query(All)?/\?q=SELECT.*FROM\+Opportunity(History|Stage).*"),
        json={"totalSize": 0, "done": True, "records": []},
    )
    responses.get(
        re.compile(re.escape(BASE) + r"queryAll/\?q=SELECT.*OpportunityContactRole.*"),
        json={"totalSize": 0, "done": True, "records": []},
    )
    responses.post(BASE + "jobs/query", json={"id": "750J1", "state": "UploadComplete"})
    responses.get(BASE + "jobs/query/750J1", json={"id": "750J1", "state": "InProgress"})
    responses.get(BASE + "jobs/query/750J1", json={"id": "750J1", "state": "JobComplete"})
    responses.get(
        BASE + "jobs/query/750J1/results",
        body=opp_csv(0, 2),
        headers={"Sforce-Locator": "LOC2", "Sforce-NumberOfRecords": "2"},
    )
    responses.get(
        BASE + "jobs/query/750J1/results",
        body=opp_csv(2, 1),
        headers={"Sforce-Locator": "null", "Sforce-NumberOfRecords": "1"},
    )
    conn, counter, sleeps = connector(bulk_read_threshold=1000)
    deals = conn.iter_deals(None, page_size=2)
    first_deal = next(deals)
    result_calls = [c for c in responses.calls if "/results" in c.request.url]
    assert len(result_calls) == 1  # streamed: the second page is not fetched before it is needed
    rest = list(deals)
    assert [d.opportunity_id for d in [first_deal, *rest]] == [f"006{i:015d}" for i in range(3)]
    assert first_deal.amount == 10.5 and first_deal.state == "lost" and first_deal.account_name is None
    result_calls = [c for c in responses.calls if "/results" in c.request.url]
    assert [parse_qs(urlsplit(c.request.url).query) for c in result_calls] == [
        {"maxRecords": ["2"]},
        {"maxRecords": ["2"], "locator": ["LOC2"]},
    ]
    job = json.loads(next(c for c in responses.calls if c.request.url.endswith("jobs/query")).request.body)
    assert job["operation"] == "queryAll" and "ORDER BY" not in job["query"]
    assert sleeps == [1.0]  # one poll wait, through the injected sleep
    assert counter.by_system()["salesforce"]["salesforce.bulk"] == 5


@responses.activate
def test_bulk_ingest_maps_results_back_per_record() -> None:
    ids = [f"003{i:015d}" for i in range(4)]
    responses.post(BASE + "jobs/ingest", json={"id": "750I1", "state": "Open"})
    responses.put(BASE + "jobs/ingest/750I1/batches", status=201)
    responses.patch(BASE + "jobs/ingest/750I1", json={"id": "750I1", "state": "UploadComplete"})
    responses.get(BASE + "jobs/ingest/750I1", json={"id": "750I1", "state": "JobComplete"})
    responses.get(
        BASE + "jobs/ingest/750I1/successfulResults/",
        body=f'"sf__Id","sf__Created","Id","Lead_Score__c"\n"{ids[0]}","false","{ids[0]}","1"\n',
    )
    responses.get(
        BASE + "jobs/ingest/750I1/failedResults/",
        body=(
            '"sf__Id","sf__Error","Id","Lead_Score__c"\n'
            f'"","UNABLE_TO_LOCK_ROW:unable to obtain exclusive access:--","{ids[1]}","2"\n'
            f'"","MALFORMED_ID:bad id:Id --","{ids[2]}","3"\n'
        ),
    )
    responses.get(BASE + "jobs/ingest/750I1/unprocessedrecords/", body='"Id","Lead_Score__c"\n')
    responses.patch(
        BASE + "composite/sobjects",
        json=[{"id": ids[1], "success": True, "errors": []}, {"id": ids[3], "success": True, "errors": []}],
    )
    conn, counter, _ = connector(bulk_write_threshold=3)
    updates = [FieldUpdate("Contact", rid, {"Lead_Score__c": i + 1}) for i, rid in enumerate(ids)]
    results = conn.update_fields(updates)
    assert [(r.record_id, r.ok, r.error_code) for r in results] == [
        (ids[0], True, None),
        (ids[1], True, None),
        (ids[2], False, "MALFORMED_ID"),
        (ids[3], True, None),
    ]
    upload = next(c for c in responses.calls if c.request.method == "PUT")
    assert upload.request.body.decode().splitlines() == ["Id,Lead_Score__c"] + [
        f"{r},{i + 1}" for i, r in enumerate(ids)
    ]
    assert upload.request.headers["Content-Type"] == "text/csv"
    # a record missing from every result file (ids[3]) and the locked one are resubmitted via Collections
    resubmitted = json.loads(next(c for c in responses.calls if "composite" in c.request.url).request.body)
    assert [r["id"] for r in resubmitted["records"]] == [ids[1], ids[3]]
    assert counter.by_system()["salesforce"] == {"salesforce.bulk": 7, "salesforce.collections": 1}


@responses.activate
def test_a_failed_bulk_upload_aborts_the_job_and_starts_a_new_one() -> None:
    responses.post(BASE + "jobs/ingest", json={"id": "J1", "state": "Open"})
    responses.post(BASE + "jobs/ingest", json={"id": "J2", "state": "Open"})
    responses.put(BASE + "jobs/ingest/J1/batches", body=ConnectionError("dropped"))
    responses.patch(BASE + "jobs/ingest/J1", json={"id": "J1", "state": "Aborted"})
    responses.put(BASE + "jobs/ingest/J2/batches", status=201)
    responses.patch(BASE + "jobs/ingest/J2", json={"id": "J2", "state": "UploadComplete"})
    responses.get(BASE + "jobs/ingest/J2", json={"id": "J2", "state": "JobComplete"})
    responses.get(
        BASE + "jobs/ingest/J2/successfulResults/",
        body='"sf__Id","sf__Created","Id"\n"A","false","A"\n"B","false","B"\n',
    )
    responses.get(BASE + "jobs/ingest/J2/failedResults/", body='"sf__Id","sf__Error","Id"\n')
    responses.get(BASE + "jobs/ingest/J2/unprocessedrecords/", body='"Id"\n')
    conn, _, _ = connector(bulk_write_threshold=1)
    results = conn.update_fields(
        [FieldUpdate("Contact", "A", {"X__c": 1}), FieldUpdate("Contact", "B", {"X__c": 2})]
    )
    assert all(r.ok for r in results)
    aborted = [
        json.loads(c.request.body)
        for c in responses.calls
        if c.request.method == "PATCH" and c.request.url.endswith("J1")
    ]
    assert aborted == [{"state": "Aborted"}]
    assert len([c for c in responses.calls if c.request.method == "PUT"]) == 2  # never the same job twice


def test_history_stream_hands_rows_out_deal_by_deal_whatever_the_id_order() -> None:
    """Rows come ordered by (deal stamp, deal id in the server's collation): rows of another deal at
    the same stamp are held for it, rows at an earlier stamp and rows without a stamp are dropped."""
    t1, t2 = "2024-03-01T09:00:00.000+0000", "2024-03-01T09:00:01.000+0000"

    def row(opp: str, stamp: str | None, stage: str) -> dict:
        parent = {"SystemModstamp": stamp} if stamp else None
        return {"OpportunityId": opp, "StageName": stage, "Opportunity": parent}

    rows = [row("old", t1, "x"), row("b", t2, "1"), row("b", t2, "2"), row("nostamp", None, "y"),
            row("a", t2, "3"), row("c", "2024-03-01T09:00:02.000+0000", "4")]
    opened: list[int] = []

    def open_rows() -> Iterator[dict]:
        opened.append(1)
        return iter(rows)

    stream = HistoryStream(open_rows)
    assert opened == []  # nothing asked yet: no query
    at2 = parse_datetime(t2)
    assert [r["StageName"] for r in stream.take("a", at2) or []] == ["3"]  # "b" held on the way
    assert [r["StageName"] for r in stream.take("b", at2) or []] == ["1", "2"]
    assert stream.take("gone", at2) is None
    at3 = parse_datetime("2024-03-01T09:00:02Z")
    assert [r["StageName"] for r in stream.take("c", at3) or []] == ["4"]
    assert opened == [1]
