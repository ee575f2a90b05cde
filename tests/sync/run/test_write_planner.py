"""The planner: write policies, list moves, opt-outs, tasks, idempotency, estimates."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import CallTask, FieldUpdate, ListChange, Scalar
from connectors.hubspot.connector import HubSpotConnector
from connectors.salesforce.connector import SalesforceConnector
from sync.run.plan import (
    UNKNOWN,
    BatchSizes,
    FieldKey,
    FieldTarget,
    ListTarget,
    PersonDesired,
    PlanState,
    PlanSummary,
    TaskTarget,
    WritePlan,
    canonical,
    decide,
    plan,
)

KEY: FieldKey = ("salesforce", "Contact", "003A", "Recycle_Group__c")
SIZES = {"salesforce": SalesforceConnector.write_sizes, "hubspot": HubSpotConnector.write_sizes}


def target(value: Scalar, policy: str = "overwrite", current: Any = UNKNOWN) -> FieldTarget:
    return FieldTarget(*KEY, value=value, policy=policy, current=current)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- policies

NEVER = object()  # "leadsync never wrote this field"

POLICY_TABLE = [
    # policy,       desired, last written, current,  decision, words in the reason
    ("overwrite", "high", NEVER, UNKNOWN, "write", "never written"),
    ("overwrite", "high", "low", UNKNOWN, "write", "last written 'low'"),
    ("overwrite", "high", "high", UNKNOWN, "noop", "already"),
    ("overwrite", "high", "high", "high", "noop", "already"),
    ("overwrite", "high", "high", "manual", "write", "'manual' → 'high'"),
    ("overwrite", "high", NEVER, "high", "adopt", "recording it"),
    ("overwrite", "high", "low", "high", "adopt", "recording it"),
    ("overwrite", None, "high", "high", "write", "→ (blank)"),
    ("overwrite", None, NEVER, None, "adopt", "already (blank)"),
    ("if_blank", "high", NEVER, None, "write", "(blank) → 'high'"),
    ("if_blank", "high", NEVER, "", "write", "(blank) → 'high'"),
    ("if_blank", "high", NEVER, "low", "skip", "not blank"),
    ("if_blank", "high", "low", "low", "skip", "not blank"),
    ("if_blank", "high", NEVER, UNKNOWN, "skip", "current value unknown"),
    ("if_blank", "high", "low", UNKNOWN, "skip", "filled it before"),
    ("if_blank", "high", "high", UNKNOWN, "noop", "already"),
    ("if_blank", "high", NEVER, "high", "adopt", "recording it"),
    ("keep_manual", "high", "low", "low", "write", "'low' → 'high'"),
    ("keep_manual", "high", "low", "manual", "skip", "changed by hand"),
    ("keep_manual", "high", "low", None, "skip", "changed by hand"),
    ("keep_manual", "high", NEVER, "manual", "skip", "not written by leadsync"),
    ("keep_manual", "high", NEVER, None, "write", "(blank) → 'high'"),
    ("keep_manual", "high", "low", UNKNOWN, "write", "last written 'low'"),
    ("keep_manual", "high", "high", "high", "noop", "already"),
    ("keep_manual", "high", "low", "high", "adopt", "recording it"),
]


@pytest.mark.parametrize("policy, desired, last, current, decision, words", POLICY_TABLE)
def test_policy_table(
    policy: str, desired: Scalar, last: Any, current: Any, decision: str, words: str
) -> None:
    last_written = {} if last is NEVER else {KEY: last}
    got, reason = decide(target(desired, policy, current), last_written)
    assert (got, words in reason) == (decision, True), reason


@pytest.mark.parametrize("policy, desired, last, current, decision, words", POLICY_TABLE)
def test_policy_table_through_plan(
    policy: str, desired: Scalar, last: Any, current: Any, decision: str, words: str
) -> None:
    last_written = {} if last is NEVER else {KEY: last}
    p = plan([PersonDesired("a@x.com", fields=(target(desired, policy, current),))], PlanState(last_written))
    writes = p.field_updates.get(("salesforce", "Contact"), ())
    assert (writes == (FieldUpdate("Contact", "003A", {"Recycle_Group__c": desired}),)) is (
        decision == "write"
    )
    assert (len(p.adopted) == 1) is (decision == "adopt")
    assert (len(p.skipped) == 1) is (decision == "skip")
    if decision == "write":
        assert p.changes[0].reason.startswith("Recycle_Group__c") and words in p.changes[0].reason


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown write policy"):
        decide(target("x", "sometimes"), {})


@pytest.mark.parametrize(
    "a, b",
    [
        (42, "42"),
        (42.0, "42"),
        ("42.0", 42),
        (True, "true"),
        (False, "FALSE"),
        (None, ""),
        (None, "  "),
        ("high ", "high"),
        (1.5, "1.50"),
    ],
)
def test_equal_values_in_either_system_spelling(a: Scalar, b: Scalar) -> None:
    assert canonical(a) == canonical(b)


@pytest.mark.parametrize("a, b", [("High", "high"), (1, True), ("0", None), ("1.5", "1.6"), ("true", "yes")])
def test_different_values(a: Scalar, b: Scalar) -> None:
    assert canonical(a) != canonical(b)


def test_only_changed_fields_are_written_and_one_update_per_record() -> None:
    fields = (
        FieldTarget("hubspot", "contacts", "101", "leadsync_score", 55, current="40"),
        FieldTarget("hubspot", "contacts", "101", "leadsync_stage", "mql", current="mql"),
        FieldTarget("hubspot", "contacts", "101", "nurture_list", "warm", current=None),
        FieldTarget("salesforce", "Contact", "003A", "Lead_Score__c", 55, current=55.0),
    )
    p = plan(
        [PersonDesired("a@x.com", fields=fields)],
        PlanState(
            {
                ("hubspot", "contacts", "101", "leadsync_stage"): "mql",
                ("salesforce", "Contact", "003A", "Lead_Score__c"): 55,
            }
        ),
    )
    assert p.field_updates == {
        ("hubspot", "contacts"): (
            FieldUpdate("contacts", "101", {"leadsync_score": 55, "nurture_list": "warm"}),
        )
    }
    assert [c.reason for c in p.changes] == ["leadsync_score: '40' → '55'", "nurture_list: (blank) → 'warm'"]


def test_a_field_targeted_twice_is_written_once_and_reported() -> None:
    a = FieldTarget("hubspot", "contacts", "101", "leadsync_score", 55)
    p = plan([PersonDesired("a@x.com", fields=(a,)), PersonDesired("b@x.com", fields=(a,))], PlanState())
    assert len(p.field_updates[("hubspot", "contacts")]) == 1
    assert [s.person_key for s in p.skipped] == ["b@x.com"]


# --------------------------------------------------------------------------- lists

EMAIL_LISTS = {("hubspot", "Nurture - Newsletter"), ("salesforce", "Nurture - Newsletter")}


def person(lists: tuple[ListTarget, ...] = (), *, opted_out: bool = False, **kw: Any) -> PersonDesired:
    fields = (FieldTarget("hubspot", "contacts", "101", "leadsync_score", 1),)
    return PersonDesired("a@x.com", fields=fields, lists=lists, opted_out=opted_out, **kw)


def test_a_list_move_removes_the_old_membership() -> None:
    p = plan(
        [person((ListTarget("hubspot", "Nurture - Events", "101"),))],
        PlanState(
            {("hubspot", "contacts", "101", "leadsync_score"): 1},
            memberships={("hubspot", "Nurture - Call/DM", "101"), ("hubspot", "Nurture - Events", "999")},
        ),
    )
    assert p.list_changes == {
        "hubspot": (
            ListChange("Nurture - Events", "101", "add"),
            ListChange("Nurture - Call/DM", "101", "remove"),
        )
    }
    assert [c.reason for c in p.changes] == [
        "add to 'Nurture - Events'",
        "remove from 'Nurture - Call/DM': no longer assigned to it",
    ]


def test_an_existing_membership_is_not_added_again() -> None:
    p = plan(
        [person((ListTarget("hubspot", "Nurture - Events", "101"),))],
        PlanState(memberships={("hubspot", "Nurture - Events", "101")}),
    )
    assert p.list_changes == {}


def test_memberships_of_people_outside_the_plan_are_left_alone() -> None:
    p = plan([person()], PlanState(memberships={("hubspot", "Nurture - Events", "202")}))
    assert p.list_changes == {}


def test_explicit_records_clear_memberships_of_a_person_with_no_fields() -> None:
    gone = PersonDesired("a@x.com", records=(("salesforce", "003A"),))
    p = plan([gone], PlanState(memberships={("salesforce", "Nurture - Events", "003A")}))
    assert p.list_changes == {"salesforce": (ListChange("Nurture - Events", "003A", "remove"),)}


@pytest.mark.parametrize("system", ["hubspot", "salesforce"])
def test_opted_out_people_are_never_added_to_an_email_list(system: str) -> None:
    rid = "101" if system == "hubspot" else "003A"
    lists = (ListTarget(system, "Nurture - Newsletter", rid), ListTarget(system, "Recycle - High", rid))
    p = plan([person(lists, opted_out=True)], PlanState(), email_lists=EMAIL_LISTS)
    assert p.list_changes[system] == (ListChange("Recycle - High", rid, "add"),)
    (skip,) = p.skipped
    assert skip.kind == "list_add" and "opted out" in skip.reason and skip.target == "Nurture - Newsletter"


def test_an_opted_out_persons_email_list_membership_is_removed() -> None:
    p = plan(
        [person((ListTarget("hubspot", "Nurture - Newsletter", "101"),), opted_out=True)],
        PlanState(memberships={("hubspot", "Nurture - Newsletter", "101")}),
        email_lists=EMAIL_LISTS,
    )
    assert p.list_changes == {"hubspot": (ListChange("Nurture - Newsletter", "101", "remove"),)}
    assert "opted out of email" in p.changes[-1].reason


def test_not_opted_out_people_join_email_lists() -> None:
    p = plan(
        [person((ListTarget("hubspot", "Nurture - Newsletter", "101"),))],
        PlanState(),
        email_lists=EMAIL_LISTS,
    )
    assert p.list_changes == {"hubspot": (ListChange("Nurture - Newsletter", "101", "add"),)}


# --------------------------------------------------------------------------- tasks


def task(key: str) -> TaskTarget:
    return TaskTarget(
        "salesforce",
        CallTask(
            key, "003A", "005OWNER", "Recycle: check in", "Lost at Negotiation", date(2024, 5, 4), "006A"
        ),
    )


def test_tasks_only_for_cycles_without_a_recorded_task() -> None:
    p = plan([person(tasks=(task("k1"), task("k2"), task("k2")))], PlanState(recorded_tasks={"k1"}))
    assert [t.cycle_key for t in p.tasks["salesforce"]] == ["k2"]
    assert p.changes[-1].reason == "call task for owner 005OWNER: Recycle: check in"


# --------------------------------------------------------------------------- output helpers


def test_counts_batches_and_api_call_estimates() -> None:
    people = [
        PersonDesired(
            f"p{i}@x.com",
            fields=(
                FieldTarget("salesforce", "Contact", f"003{i:04d}", "Lead_Score__c", i),
                FieldTarget("salesforce", "Contact", f"003{i:04d}", "Lead_Stage__c", "mql"),
                FieldTarget("hubspot", "contacts", str(i), "leadsync_score", i),
            ),
            lists=(ListTarget("hubspot", "Nurture - Events", str(i)),),
        )
        for i in range(450)
    ]
    p = plan(people, PlanState())
    assert p.counts()["salesforce"]["records"] == 450 and p.counts()["salesforce"]["fields"] == 900
    assert [len(b) for b in p.batches("salesforce", "Contact", SIZES["salesforce"].fields)] == [200, 200, 50]
    assert [len(b) for b in p.batches("hubspot", "contacts", SIZES["hubspot"].fields)] == [100] * 4 + [50]
    # the connectors' sizes: 100 contacts per batch update, 500 ids per list membership call
    assert p.estimate_api_calls(SIZES) == {"hubspot": 5 + 1, "salesforce": 3}
    assert p.estimate_api_calls(
        {"hubspot": BatchSizes(100, 100, 100), "salesforce": BatchSizes(200, 200, 200)}
    ) == {"hubspot": 5 + 5, "salesforce": 3}
    assert p.estimate_api_calls({"salesforce": BatchSizes(200, 200, 200)}) == {"hubspot": 450 + 450,
                                                                             "salesforce": 3}


def test_summary_over_chunks_estimates_as_one_plan() -> None:
    people = [
        PersonDesired(f"p{i}@x.com", fields=(FieldTarget("hubspot", "contacts", str(i), "s", i),))
        for i in range(150)
    ]
    whole = plan(people, PlanState())
    summary = PlanSummary(sample_size=3)
    for chunk in (people[:70], people[70:]):
        summary.add(plan(chunk, PlanState()))
    assert summary.estimate_api_calls(SIZES) == whole.estimate_api_calls(SIZES) == {"hubspot": 2}
    out = summary.to_dict(SIZES)
    assert out["counts"]["hubspot"]["records"] == 150 and len(out["sample"]) == 3
    assert out["sample"][0]["reason"] == "s: never written → '0'"


# --------------------------------------------------------------------------- idempotency


def apply_and_record(
    p: WritePlan, fields: list[FieldTarget], state: PlanState, system_values: dict[FieldKey, Scalar]
) -> PlanState:
    """What the runner does: write the plan to the 'systems', then record every confirmed change."""
    last = dict(state.last_written)
    for (system, obj), ups in p.field_updates.items():
        for u in ups:
            for f, v in u.values.items():
                system_values[(system, obj, u.record_id, f)] = v
                last[(system, obj, u.record_id, f)] = v
    for t in p.adopted:
        last[t.key] = t.value
    members = set(state.memberships)
    for system, changes in p.list_changes.items():
        for ch in changes:
            (members.add if ch.op == "add" else members.discard)((system, ch.list_name, ch.record_id))
    tasks = set(state.recorded_tasks) | {t.cycle_key for ts in p.tasks.values() for t in ts}
    return PlanState(last, members, tasks)


def with_current(
    fields: list[FieldTarget], system_values: dict[FieldKey, Scalar], known: bool
) -> tuple[FieldTarget, ...]:
    if not known:
        return tuple(FieldTarget(f.system, f.object, f.record_id, f.field, f.value, f.policy) for f in fields)
    return tuple(
        FieldTarget(f.system, f.object, f.record_id, f.field, f.value, f.policy, system_values.get(f.key))
        for f in fields
    )


def test_plan_after_recording_the_writes_is_empty() -> None:
    fields = [
        FieldTarget("hubspot", "contacts", "101", "leadsync_score", 55),
        FieldTarget("salesforce", "Contact", "003A", "Recycle_Group__c", "high", "keep_manual"),
    ]
    desired = PersonDesired(
        "a@x.com",
        fields=tuple(fields),
        lists=(ListTarget("hubspot", "Nurture - Events", "101"),),
        tasks=(task("k1"),),
    )
    first = plan([desired], PlanState())
    assert not first.is_empty
    state = apply_and_record(first, fields, PlanState(), {})
    assert plan([desired], state).is_empty


values = st.one_of(
    st.none(), st.sampled_from(["high", "low", "", "42", "mql"]), st.integers(-3, 3), st.booleans()
)
policies = st.sampled_from(["overwrite", "if_blank", "keep_manual"])
lists = st.sampled_from(["Nurture - Events", "Nurture - Newsletter", "Recycle - High"])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["101", "102"]), st.sampled_from(["f1", "f2"]), values, policies),
        max_size=6,
        unique_by=lambda t: (t[0], t[1]),
    ),
    st.dictionaries(st.tuples(st.sampled_from(["101", "102"]), st.sampled_from(["f1", "f2"])), values),
    st.dictionaries(st.tuples(st.sampled_from(["101", "102"]), st.sampled_from(["f1", "f2"])), values),
    st.sets(st.tuples(lists, st.sampled_from(["101", "102"]))),
    st.sets(st.tuples(lists, st.sampled_from(["101", "102"]))),
    st.booleans(),
    st.booleans(),
)
def test_applying_and_recording_a_plan_then_replanning_yields_an_empty_plan(
    targets: list[tuple[str, str, Scalar, str]],
    last: dict[tuple[str, str], Scalar],
    current: dict[tuple[str, str], Scalar],
    managed: set[tuple[str, str]],
    wanted: set[tuple[str, str]],
    opted_out: bool,
    current_known: bool,
) -> None:
    fields = [FieldTarget("hubspot", "contacts", rid, f, v, p) for rid, f, v, p in targets]  # type: ignore[arg-type]
    system_values: dict[FieldKey, Scalar] = {
        ("hubspot", "contacts", r, f): v for (r, f), v in current.items()
    }
    state = PlanState(
        {("hubspot", "contacts", r, f): v for (r, f), v in last.items()},
        {("hubspot", ln, r) for ln, r in managed},
    )

    def desired() -> PersonDesired:
        return PersonDesired(
            "a@x.com",
            fields=with_current(fields, system_values, current_known),
            lists=tuple(ListTarget("hubspot", ln, r) for ln, r in sorted(wanted)),
            opted_out=opted_out,
            records=(("hubspot", "101"), ("hubspot", "102")),
        )

    first = plan([desired()], state, email_lists={("hubspot", "Nurture - Newsletter")})
    state = apply_and_record(first, fields, state, system_values)
    second = plan([desired()], state, email_lists={("hubspot", "Nurture - Newsletter")})
    assert second.is_empty, second
    assert {(s.target, s.record_id, s.field) for s in second.skipped} == {
        (s.target, s.record_id, s.field) for s in first.skipped
    }
    # and the state converged on what was wanted: every list, every field that was not skipped
    allowed = {(ln, r) for ln, r in wanted if not (opted_out and ln == "Nurture - Newsletter")}
    assert {(ln, r) for _, ln, r in state.memberships} == allowed
    skipped = {(s.record_id, s.field) for s in first.skipped}
    for f in fields:
        if (f.record_id, f.field) not in skipped:
            assert canonical(state.last_written[f.key]) == canonical(f.value)
            if current_known:
                assert canonical(system_values.get(f.key)) == canonical(f.value)


@pytest.mark.parametrize(("first", "then", "last"), [(1, True, 1), (1.0, True, 1.0), (True, 1.0, True),
                                                      (0.0, False, 0.0), ("1", True, "1")])
def test_values_that_compare_equal_in_python_stay_apart_in_the_planner(first: Scalar, then: Scalar,
                                                                        last: Scalar) -> None:
    """The planner memoizes canonical forms: True == 1 and hash alike in Python, yet they are
    different values in either system ("true" versus "1"), so the memo is typed."""
    key = ("hubspot", "contacts", "1", "f")
    assert decide(FieldTarget(*key, first), {key: last})[0] == "noop"
    what, reason = decide(FieldTarget(*key, then), {key: last})
    assert what == "write", reason
