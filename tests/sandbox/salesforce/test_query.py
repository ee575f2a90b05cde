"""SOQL through the real client: paging, queryAll, relationships, filters, ordering, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import Salesforce, SalesforceMalformedRequest, format_soql

from sandbox.salesforce import SalesforceEmulator
from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.ids import make_id
from sandbox.salesforce.query import CHILD_INLINE, MAX_SOQL_CHARS, QueryEngine


@pytest.fixture
def book(emu: SalesforceEmulator) -> dict[str, str]:
    """Two accounts, four contacts (one without email, one opted out), a lost opportunity with a role."""
    ids = {
        "acme": emu.store.create(
            "Account", {"Name": "Acme", "NumberOfEmployees": 1200, "Industry": "Banking"}
        ),
        "kaisha": emu.store.create("Account", {"Name": "株式会社サンプル", "NumberOfEmployees": 40}),
    }
    people = [
        ("Ann", "Lee", "ann@acme.example", "acme", False, 70.0),
        ("Bob", "Ito", "BOB@acme.example", "acme", True, 20.0),
        ("Cy", "Zed", None, "kaisha", False, None),
        ("太郎", "山田", "taro@kaisha.example", "kaisha", False, 55.0),
    ]
    for first, last, email, account, opted_out, score in people:
        ids[first] = emu.store.create(
            "Contact",
            {
                "FirstName": first,
                "LastName": last,
                "Email": email,
                "AccountId": ids[account],
                "HasOptedOutOfEmail": opted_out,
                "Lead_Score__c": score,
            },
            at="2026-01-10T09:00:00Z",
        )
    ids["opp"] = emu.store.create(
        "Opportunity",
        {
            "Name": "Acme renewal",
            "StageName": "Proposal/Price Quote",
            "CloseDate": "2026-02-01",
            "Amount": 5000,
            "AccountId": ids["acme"],
        },
        at="2026-01-01T00:00:00Z",
    )
    emu.store.update(
        "Opportunity",
        ids["opp"],
        {"StageName": "Closed Lost", "Loss_Reason__c": "Price"},
        at="2026-01-20T00:00:00Z",
    )
    emu.store.create(
        "OpportunityContactRole",
        {"OpportunityId": ids["opp"], "ContactId": ids["Ann"], "Role": "Decision Maker", "IsPrimary": True},
    )
    return ids


def _names(sf: Salesforce, soql: str) -> list[str]:
    return [r["FirstName"] for r in sf.query_all(soql)["records"]]


def test_query_all_iter_pages_through_more_than_2000_rows(
    emu: SalesforceEmulator, sf: Salesforce, check: Callable[..., None]
) -> None:
    for i in range(4500):
        emu.store.create("Contact", {"LastName": f"P{i:05d}", "Email": f"p{i}@example.com"})
    first = sf.query("SELECT Id, LastName FROM Contact")
    check("query_result", first)
    assert (first["totalSize"], first["done"], len(first["records"])) == (4500, False, 2000)
    names = [r["LastName"] for r in sf.query_all_iter("SELECT Id, LastName FROM Contact ORDER BY LastName")]
    assert names == [f"P{i:05d}" for i in range(4500)]
    assert emu.calls.snapshot()["salesforce.query_more"] == 2


def test_query_more_pages_validate_and_end(
    emu: SalesforceEmulator, sf: Salesforce, check: Callable[..., None]
) -> None:
    for i in range(2100):
        emu.store.create("Account", {"Name": f"A{i}"})
    first = sf.query("SELECT Name FROM Account")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    check("query_result", second)
    assert (second["done"], len(second["records"]), second["totalSize"]) == (True, 100, 2100)


@pytest.mark.parametrize(("header", "page"), [("batchSize=500", 500), ("batchSize=50", 200), (None, 2000)])
def test_batch_size_header(emu: SalesforceEmulator, sf: Salesforce, header: str | None, page: int) -> None:
    for i in range(2500):
        emu.store.create("Account", {"Name": f"A{i}"})
    headers = {"Sforce-Query-Options": header} if header else {}
    assert len(sf.query("SELECT Id FROM Account", headers=headers)["records"]) == page


def test_two_long_text_fields_shrink_pages_to_200(emu: SalesforceEmulator, sf: Salesforce) -> None:
    who = emu.store.create("Contact", {"LastName": "L", "Leadsync_Explanation__c": "why"})
    for i in range(250):
        emu.store.create("Task", {"Subject": f"T{i}", "Description": "x" * 300, "WhoId": who})
    assert len(sf.query("SELECT Id, Description FROM Task")["records"]) == 250
    two_long = sf.query("SELECT Id, Description, Who.Leadsync_Explanation__c FROM Task")
    assert (len(two_long["records"]), two_long["totalSize"]) == (200, 250)
    assert two_long["records"][0]["Who"]["Leadsync_Explanation__c"] == "why"


def test_query_all_sees_deleted_rows(book: dict[str, str], sf: Salesforce) -> None:
    sf.Contact.delete(book["Bob"])
    live = _names(sf, "SELECT FirstName FROM Contact ORDER BY FirstName")
    assert live == ["Ann", "Cy", "太郎"]
    everyone = sf.query_all(
        "SELECT FirstName, IsDeleted FROM Contact ORDER BY FirstName", include_deleted=True
    )
    assert [(r["FirstName"], r["IsDeleted"]) for r in everyone["records"]] == [
        ("Ann", False),
        ("Bob", True),
        ("Cy", False),
        ("太郎", False),
    ]


def test_parent_relationship_fields_nest_with_attributes(
    book: dict[str, str], sf: Salesforce, check: Callable[..., None]
) -> None:
    result = sf.query(
        "SELECT Id, Email, Account.Name, Account.Owner.Name, Owner.Name FROM Contact WHERE FirstName = 'Ann'"
    )
    check("query_result", result)
    row = result["records"][0]
    assert row["Account"]["Name"] == "Acme"
    assert row["Account"]["attributes"]["type"] == "Account"
    assert row["Account"]["Owner"]["Name"] == "Leadsync Integration"
    role = sf.query("SELECT Contact.Email, Opportunity.StageName, Role FROM OpportunityContactRole")[
        "records"
    ][0]
    assert (role["Contact"]["Email"], role["Opportunity"]["StageName"]) == ("ann@acme.example", "Closed Lost")


def test_null_parent_is_null(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.store.create("Contact", {"LastName": "Orphan"})
    assert sf.query("SELECT Account.Name FROM Contact")["records"][0]["Account"] is None


def test_child_subquery(book: dict[str, str], sf: Salesforce, check: Callable[..., None]) -> None:
    result = sf.query(
        "SELECT Name, (SELECT ContactId, Role FROM OpportunityContactRoles), "
        "(SELECT StageName FROM OpportunityHistories ORDER BY CreatedDate) FROM Opportunity"
    )
    check("query_result", result)
    opp = result["records"][0]
    assert [r["ContactId"] for r in opp["OpportunityContactRoles"]["records"]] == [book["Ann"]]
    assert [r["StageName"] for r in opp["OpportunityHistories"]["records"]] == [
        "Proposal/Price Quote",
        "Closed Lost",
    ]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Email = 'bob@ACME.example'", ["Bob"]),  # text equality ignores case
        ("Email != null", ["Ann", "Bob", "太郎"]),
        ("Email = null", ["Cy"]),
        ("Email != 'ann@acme.example'", ["Bob", "Cy", "太郎"]),  # != keeps nulls
        ("Email LIKE '%acme%'", ["Ann", "Bob"]),
        ("FirstName LIKE 'A_n'", ["Ann"]),
        ("Lead_Score__c >= 55", ["Ann", "太郎"]),
        ("Lead_Score__c < 55", ["Bob"]),
        ("HasOptedOutOfEmail = true", ["Bob"]),
        ("NOT HasOptedOutOfEmail = true", ["Ann", "Cy", "太郎"]),
        ("FirstName IN ('Ann', 'cy')", ["Ann", "Cy"]),
        ("FirstName NOT IN ('Ann', 'Cy')", ["Bob", "太郎"]),
        ("(Lead_Score__c > 60 OR Email = null) AND Account.Name = 'Acme'", ["Ann"]),
        ("Account.NumberOfEmployees > 100", ["Ann", "Bob"]),
        ("CreatedDate >= 2026-01-10T09:00:00Z", ["Ann", "Bob", "Cy", "太郎"]),
        ("CreatedDate > 2026-01-10T17:59:59+09:00", ["Ann", "Bob", "Cy", "太郎"]),
        ("CreatedDate > 2026-01-10T18:00:00+09:00", []),
        ("SystemModstamp < 2026-01-10T09:00:00.000+0000", []),
        ("Id IN (SELECT ContactId FROM OpportunityContactRole)", ["Ann"]),
        ("Id NOT IN (SELECT ContactId FROM OpportunityContactRole)", ["Bob", "Cy", "太郎"]),
    ],
)
def test_where_clauses(book: dict[str, str], sf: Salesforce, where: str, expected: list[str]) -> None:
    assert sorted(_names(sf, f"SELECT FirstName FROM Contact WHERE {where}")) == sorted(expected)


def test_format_soql_values_are_escaped_and_matched(book: dict[str, str], sf: Salesforce) -> None:
    sf.Contact.update(book["Cy"], {"LastName": "O'Neil \\ 100%"})
    soql = format_soql(
        "SELECT FirstName FROM Contact WHERE LastName = {} OR Id IN {}", "O'Neil \\ 100%", [book["Ann"]]
    )
    assert sorted(_names(sf, soql)) == ["Ann", "Cy"]


def test_relative_date_literals(emu: SalesforceEmulator, sf: Salesforce) -> None:
    now = datetime.now(UTC)
    emu.store.create("Contact", {"FirstName": "old", "LastName": "x"}, at=now - timedelta(days=40))
    emu.store.create("Contact", {"FirstName": "new", "LastName": "x"}, at=now - timedelta(days=2))
    assert _names(sf, "SELECT FirstName FROM Contact WHERE CreatedDate = LAST_N_DAYS:30") == ["new"]
    assert _names(sf, "SELECT FirstName FROM Contact WHERE CreatedDate < LAST_N_DAYS:30") == ["old"]


def test_order_by_several_fields_with_nulls(book: dict[str, str], sf: Salesforce) -> None:
    base = "SELECT FirstName FROM Contact ORDER BY "
    assert _names(sf, base + "Lead_Score__c DESC NULLS LAST, FirstName") == ["Ann", "太郎", "Bob", "Cy"]
    assert _names(sf, base + "Lead_Score__c ASC NULLS FIRST") == ["Cy", "Bob", "太郎", "Ann"]
    assert _names(sf, base + "Account.Name DESC, FirstName DESC") == ["太郎", "Cy", "Bob", "Ann"]


def test_limit_offset_and_count(book: dict[str, str], sf: Salesforce) -> None:
    assert _names(sf, "SELECT FirstName FROM Contact ORDER BY FirstName LIMIT 2 OFFSET 1") == ["Bob", "Cy"]
    assert sf.query("SELECT COUNT() FROM Contact WHERE Email != null")["totalSize"] == 3
    counted = sf.query("SELECT COUNT(Email) FROM Contact")["records"][0]
    assert counted["expr0"] == 3


def test_opportunity_history_follows_stage_changes(book: dict[str, str], sf: Salesforce) -> None:
    rows = sf.query_all(
        format_soql(
            "SELECT StageName, CreatedDate FROM OpportunityHistory WHERE "
            "OpportunityId = {} ORDER BY CreatedDate",
            book["opp"],
        )
    )["records"]
    assert [(r["StageName"], r["CreatedDate"]) for r in rows] == [
        ("Proposal/Price Quote", "2026-01-01T00:00:00.000+0000"),
        ("Closed Lost", "2026-01-20T00:00:00.000+0000"),
    ]
    opp = sf.Opportunity.get(book["opp"])
    assert (opp["IsClosed"], opp["IsWon"], opp["Probability"]) == (True, False, 0.0)


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email = 'a' AND LastName = 'b' OR FirstName = 'c'", "MALFORMED_QUERY"),
        ("SELECT Id, Id FROM Contact", "MALFORMED_QUERY"),
        ("SELECT Nope__c FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE Nope = 1", "INVALID_FIELD"),
        ("SELECT Foo.Name FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
        ("SELECT Id FROM Contact WHERE Lead_Score__c = '5'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE CreatedDate > 2026-01-01", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email = 5", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE AccountId = 'not-an-id'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Contact WHERE Leadsync_Explanation__c = 'x'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE"),
    ],
)
def test_invalid_soql_gives_400_with_error_code(
    emu: SalesforceEmulator, sf: Salesforce, soql: str, code: str, check: Callable[..., None]
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query(soql)
    check("error_list", info.value.content)
    assert info.value.content[0]["errorCode"] == code


def test_expired_locator(emu: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query_more("01g5g0000000999AAA-2000")
    assert info.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_datetimes_have_second_precision_like_the_org(emu: SalesforceEmulator, sf: Salesforce) -> None:
    """Salesforce stores no milliseconds: values read back as ".000+0000" and a literal 900 ms later
    compares equal (facts §12). A record written at 09:00:00.750 is stamped 09:00:00."""
    emu.store.create("Contact", {"LastName": "Ms"}, at=datetime(2026, 2, 1, 9, 0, 0, 750_000, tzinfo=UTC))
    (row,) = sf.query("SELECT CreatedDate, SystemModstamp FROM Contact WHERE LastName = 'Ms'")["records"]
    assert row["CreatedDate"] == row["SystemModstamp"] == "2026-02-01T09:00:00.000+0000"
    later = "SELECT LastName FROM Contact WHERE SystemModstamp >= 2026-02-01T09:00:00.900Z"
    assert [r["LastName"] for r in sf.query(later)["records"]] == ["Ms"]


def test_the_organization_row_is_the_orgs_id_and_follows_a_refresh(emu: SalesforceEmulator,
                                                                     sf: Salesforce) -> None:
    """`SELECT Id FROM Organization`: one row, the org's 18-character id (Object Reference,
    "Organization"); a reset with another `org_id` is another org."""
    rows = sf.query("SELECT Id, Name FROM Organization")["records"]
    assert [r["Id"] for r in rows] == [emu.org_id] and emu.org_id.startswith("00D") and len(emu.org_id) == 18
    other = make_id("00D", 3)
    emu.reset(org_id=other)
    assert emu.mint_session().startswith(other[:15] + "!")
    emu.reset()
    assert emu.org_id != other


def _deal_with_roles(emu: SalesforceEmulator, roles: int, name: str = "Deal") -> str:
    opp = emu.store.create("Opportunity", {"Name": name, "StageName": "Prospecting",
                                           "CloseDate": "2026-02-01"})
    for i in range(roles):
        contact = emu.store.create("Contact", {"LastName": f"{name}{i}"})
        emu.store.create("OpportunityContactRole", {"OpportunityId": opp, "ContactId": contact})
    return opp


def test_child_rows_count_toward_the_page(emu: SalesforceEmulator, sf: Salesforce) -> None:
    """QueryOptions: "Child objects count toward the number of records for the batch size"."""
    for i in range(10):
        _deal_with_roles(emu, 49, name=f"D{i}")  # 50 rows a deal
    soql = "SELECT Name, (SELECT ContactId FROM OpportunityContactRoles) FROM Opportunity"
    first = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    assert len(first["records"]) == 4 and not first["done"] and first["totalSize"] == 10
    assert all(r["OpportunityContactRoles"]["totalSize"] == 49 for r in first["records"])
    rows = list(sf.query_all_iter(soql))
    assert len(rows) == 10 and sum(len(r["OpportunityContactRoles"]["records"]) for r in rows) == 490


def test_a_long_child_result_pages_by_its_own_locator(emu: SalesforceEmulator, sf: Salesforce) -> None:
    """More child rows than a parent answers inline (CHILD_INLINE): `done: false` and a nextRecordsUrl
    for the rest, read with queryMore like any other page."""
    _deal_with_roles(emu, CHILD_INLINE + 30)
    record = sf.query("SELECT Name, (SELECT ContactId FROM OpportunityContactRoles ORDER BY Id) "
                      "FROM Opportunity")["records"][0]
    child = record["OpportunityContactRoles"]
    assert (child["totalSize"], child["done"]) == (CHILD_INLINE + 30, False)
    assert len(child["records"]) == CHILD_INLINE
    rest = sf.query_more(child["nextRecordsUrl"], identifier_is_url=True)
    assert rest["done"] and len(rest["records"]) == 30
    ids = [r["ContactId"] for r in child["records"] + rest["records"]]
    assert len(set(ids)) == CHILD_INLINE + 30


def test_soql_longer_than_100000_characters_is_refused(emu: SalesforceEmulator) -> None:
    """App Limits cheatsheet: SOQL statements are at most 100,000 characters (sent in a POST body here:
    a GET URI that long is refused first, with 414)."""
    text = "SELECT Id FROM Contact WHERE LastName IN (" + ", ".join(["'x'"] * (MAX_SOQL_CHARS // 5)) + ")"
    assert len(text) > MAX_SOQL_CHARS
    with pytest.raises(ApiError, match="100,000 characters") as caught:
        QueryEngine(emu.store).compile(text, datetime.now(UTC).date())
    assert caught.value.error_code == "MALFORMED_QUERY"


def test_opportunity_history_date_ranges_read_the_columns(book: dict[str, str], sf: Salesforce) -> None:
    """OpportunityHistory is stored as columns (sandbox/salesforce/history.py); its range indexes check
    entries against the columns: the answers are those of any other table."""
    base = "SELECT StageName FROM OpportunityHistory WHERE "  # the range index alone picks the rows
    later = sf.query_all(base + "CreatedDate > 2026-01-10T00:00:00Z")["records"]
    earlier = sf.query_all(base + "SystemModstamp < 2026-01-10T00:00:00Z")["records"]
    exact = sf.query_all(base + "CreatedDate = 2026-01-20T00:00:00Z")["records"]
    assert [r["StageName"] for r in later] == ["Closed Lost"] == [r["StageName"] for r in exact]
    assert [r["StageName"] for r in earlier] == ["Proposal/Price Quote"]
