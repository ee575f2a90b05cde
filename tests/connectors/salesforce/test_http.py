"""Salesforce connector edge cases at the HTTP level (responses): login, re-login, errors, budget."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.base import (
    AuthenticationError,
    BudgetExhausted,
    CallCounter,
    ConfigurationError,
    FatalAPIError,
    FieldUpdate,
    RetriableAPIError,
)
from connectors.retry import RetryPolicy
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.read import MAX_IN_IDS
from connectors.salesforce.settings import SalesforceSettings

INSTANCE = "https://acme.my.salesforce.com"
BASE = f"{INSTANCE}/services/data/v59.0/"
SOAP = "https://login.salesforce.com/services/Soap/u/59.0"
QUERY = re.compile(re.escape(BASE) + r"query(All)?/.*")
EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def soap_ok(session_id: str) -> str:
    return (
        f"<?xml version='1.0'?><soapenv:Envelope xmlns:soapenv='x'><soapenv:Body><loginResponse><result>"
        f"<serverUrl>{INSTANCE}/services/Soap/u/59.0/00D</serverUrl><sessionId>{session_id}</sessionId>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )


SOAP_FAULT = (
    "<?xml version='1.0'?><soapenv:Envelope xmlns:soapenv='x' xmlns:sf='y'><soapenv:Body>"
    "<soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><detail><sf:LoginFault>"
    "<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid username, "
    "password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail>"
    "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def page(records: list[dict], *, done: bool = True, next_url: str | None = None) -> dict:
    body: dict = {
        "totalSize": len(records),
        "done": done,
        "records": [{"attributes": {"type": "Contact"}, **r} for r in records],
    }
    if next_url:
        body["nextRecordsUrl"] = next_url
    return body


def connector(
    auth: str = "password",
    *,
    reserve: int = 0,
    counter: CallCounter | None = None,
    sleeps: Sleeps | None = None,
) -> SalesforceConnector:
    config = SalesforceSettings(
        auth=auth,
        username="int@acme.com",
        password="pw",
        security_token="tok",
        session_id="SESSION0",
        instance_url=INSTANCE,
        daily_reserve=reserve,
    )
    return SalesforceConnector(
        config,
        counter=counter or CallCounter(),
        policy=RetryPolicy(max_attempts=3, base_delay=0.1, max_backoff=5.0),
        sleep=sleeps if sleeps is not None else Sleeps(),
    )


def auth_headers(calls: responses.CallList, url_part: str) -> list[str]:
    return [c.request.headers.get("Authorization", "") for c in calls if url_part in c.request.url]


@responses.activate
def test_password_login_then_query_uses_the_session() -> None:
    counter = CallCounter()
    responses.post(SOAP, body=soap_ok("SESSION1"))
    responses.get(QUERY, json=page([{"Id": "0035g000000001AAA", "Email": "a@x.com"}]))
    sf = connector(counter=counter)
    sf.connect()
    rows = list(sf.read_contacts(["0035g000000001AAA"], ["Email"]))
    assert rows == [{"Id": "0035g000000001AAA", "Email": "a@x.com"}]
    assert auth_headers(responses.calls, "/query") == ["Bearer SESSION1"]
    assert counter.by_system() == {"salesforce": {"salesforce.login": 1, "salesforce.query": 1}}


@responses.activate
def test_expired_session_relogs_in_once_and_retries() -> None:
    responses.post(SOAP, body=soap_ok("SESSION1"))
    responses.post(SOAP, body=soap_ok("SESSION2"))
    responses.get(QUERY, status=401, json=EXPIRED)
    responses.get(QUERY, json=page([{"Id": "0035g000000001AAA"}]))
    counter = CallCounter()
    sf = connector(counter=counter)
    sf.connect()
    assert [r["Id"] for r in sf.read_contacts(["0035g000000001AAA"], [])] == ["0035g000000001AAA"]
    assert auth_headers(responses.calls, "/query") == ["Bearer SESSION1", "Bearer SESSION2"]
    assert counter.by_system()["salesforce"] == {"salesforce.login": 2, "salesforce.query": 2}


@responses.activate
def test_second_expiry_is_an_authentication_error() -> None:
    responses.post(SOAP, body=soap_ok("SESSION1"))
    responses.get(QUERY, status=401, json=EXPIRED)
    sf = connector()
    sf.connect()
    with pytest.raises(AuthenticationError):
        list(sf.read_contacts(["0035g000000001AAA"], []))
    assert len([c for c in responses.calls if "Soap" in c.request.url]) == 2
    assert len([c for c in responses.calls if "/query" in c.request.url]) == 2


@responses.activate
def test_given_session_cannot_relogin_and_says_so() -> None:
    responses.get(QUERY, status=401, json=EXPIRED)
    sf = connector("session")
    with pytest.raises(AuthenticationError, match="auth = 'session'"):
        list(sf.read_contacts(["0035g000000001AAA"], []))


@responses.activate
def test_refused_login_is_an_authentication_error_without_retries() -> None:
    responses.post(SOAP, status=500, body=SOAP_FAULT)
    sf = connector()
    with pytest.raises(AuthenticationError, match="INVALID_LOGIN"):
        sf.connect()
    assert len(responses.calls) == 1


@responses.activate
def test_request_limit_exceeded_stops_at_once() -> None:
    responses.get(
        QUERY,
        status=403,
        json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    )
    with pytest.raises(BudgetExhausted):
        list(connector("session").read_contacts(["0035g000000001AAA"], []))
    assert len(responses.calls) == 1


@responses.activate
def test_malformed_query_is_fatal_with_its_code() -> None:
    responses.get(QUERY, status=400, json=[{"message": "unexpected token", "errorCode": "MALFORMED_QUERY"}])
    with pytest.raises(FatalAPIError) as info:
        list(connector("session").read_contacts(["0035g000000001AAA"], []))
    assert (info.value.status, info.value.code) == (400, "MALFORMED_QUERY")
    assert len(responses.calls) == 1


@pytest.mark.parametrize(("retry_after", "expected_sleep"), [("3", 3.0), ("120", 5.0)])
@responses.activate
def test_retry_after_of_a_salesforce_429_is_honoured(retry_after: str, expected_sleep: float) -> None:
    sleeps = Sleeps()
    responses.get(
        QUERY,
        status=429,
        headers={"Retry-After": retry_after},
        json=[{"message": "slow down", "errorCode": "X"}],
    )
    responses.get(QUERY, json=page([]))
    list(connector("session", sleeps=sleeps).read_contacts(["0035g000000001AAA"], []))
    assert sleeps == [expected_sleep]


@responses.activate
def test_server_errors_are_retried_then_given_up() -> None:
    counter = CallCounter()
    responses.get(QUERY, status=503, body="unavailable")
    with pytest.raises(RetriableAPIError):
        list(connector("session", counter=counter).read_contacts(["0035g000000001AAA"], []))
    assert counter.by_system()["salesforce"]["salesforce.query"] == 3 == len(responses.calls)


@responses.activate
def test_budget_is_read_from_limit_info_and_checked_before_a_batch() -> None:
    responses.get(
        QUERY,
        json=page([{"Id": "0035g000000001AAA"}]),
        headers={"Sforce-Limit-Info": "api-usage=14950/15000"},
    )
    responses.patch(
        BASE + "composite/sobjects", json=[{"id": "0035g000000001AAA", "success": True, "errors": []}]
    )
    sf = connector("session", reserve=100)
    assert sf.budget() is None
    list(sf.read_contacts(["0035g000000001AAA"], []))  # under budget at the start: runs
    assert sf.budget() == (14950, 15000)
    with pytest.raises(BudgetExhausted, match="50 of 15000"):
        sf.update_fields([FieldUpdate("Contact", "0035g000000001AAA", {"Lead_Score__c": 5})])
    assert not any("composite" in c.request.url for c in responses.calls)


@responses.activate
def test_queries_follow_next_records_url_page_by_page() -> None:
    next_url = "/services/data/v59.0/query/01gD0000002HU6KIAW-2000"
    responses.get(BASE + "query/", json=page([{"Id": "0035g000000001AAA"}], done=False, next_url=next_url))
    responses.get(INSTANCE + next_url, json=page([{"Id": "0035g000000002AAA"}]))
    rows = list(connector("session").read_contacts(["0035g000000001AAA", "0035g000000002AAA"], ["Email"]))
    assert [r["Id"] for r in rows] == ["0035g000000001AAA", "0035g000000002AAA"]
    assert responses.calls[0].request.headers["Sforce-Query-Options"] == "batchSize=2000"


@responses.activate
def test_contact_reads_are_batched_in_in_lists() -> None:
    ids = [f"0035g{i:010d}AAA" for i in range(650)]
    responses.get(QUERY, json=page([]))
    list(connector("session").read_contacts(ids + ids[:10], ["Email", "HasOptedOutOfEmail"]))
    assert len(responses.calls) == -(-650 // MAX_IN_IDS)  # unique ids, MAX_IN_IDS per query
    assert all(len(c.request.url) < 16_384 for c in responses.calls)  # Salesforce's URL limit
    queries = [parse_qs(urlsplit(c.request.url).query)["q"][0] for c in responses.calls]
    assert all(
        q.startswith("SELECT Id, Email, HasOptedOutOfEmail FROM Contact WHERE Id IN (") for q in queries
    )
    assert sum(q.count("'0035g") for q in queries) == 650


@pytest.mark.parametrize("bad", ["Email, (SELECT Id FROM Cases)", "x' OR Name != '", "Name FROM User --"])
def test_field_names_that_are_not_identifiers_are_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        list(connector("session").read_contacts(["0035g000000001AAA"], [bad]))


@responses.activate
def test_secret_settings_are_unwrapped_where_sent_and_hidden_elsewhere() -> None:
    responses.post(SOAP, body=soap_ok("SESSION1"))
    responses.get(QUERY, json=page([]))
    sf = connector()  # password mode: password "pw", security token "tok"
    sf.connect()
    login_body = responses.calls[0].request.body
    login_body = login_body.decode() if isinstance(login_body, bytes) else login_body
    assert "<n1:password>pwtok</n1:password>" in login_body

    given = connector("session")  # session mode: session id "SESSION0"
    list(given.read_contacts(["0035g000000001AAA"], ["Email"]))
    assert auth_headers(responses.calls, "/query") == ["Bearer SESSION0"]
    shown = repr(sf.config) + str(sf.config) + repr(given.config)
    assert "pwtok" not in shown and "'pw'" not in shown and "SESSION0" not in shown


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"auth": "password"}, "salesforce.username, salesforce.password"),
        ({"auth": "client_credentials", "consumer_key": "k", "consumer_secret": "s"}, "My Domain"),
        (
            {"auth": "jwt", "username": "u", "consumer_key": "k", "private_key_file": "/nonexistent.pem"},
            "private_key_file not found",
        ),
        ({"auth": "session", "session_id": "s"}, "salesforce.instance_url"),
    ],
)
@responses.activate
def test_incomplete_auth_settings_fail_at_connect_before_any_request(settings: dict, message: str) -> None:
    sf = SalesforceConnector(SalesforceSettings(**settings), counter=CallCounter(), policy=RetryPolicy())
    with pytest.raises(ConfigurationError, match=message):
        sf.connect()
    assert len(responses.calls) == 0


@responses.activate
def test_request_bodies_are_json(monkeypatch: pytest.MonkeyPatch) -> None:
    responses.patch(
        BASE + "composite/sobjects", json=[{"id": "0035g000000001AAA", "success": True, "errors": []}]
    )
    connector("session").update_fields([FieldUpdate("Contact", "0035g000000001AAA", {"Lead_Score__c": 5})])
    body = json.loads(responses.calls[0].request.body)
    assert body == {
        "allOrNone": False,
        "records": [{"attributes": {"type": "Contact"}, "id": "0035g000000001AAA", "Lead_Score__c": 5}],
    }
