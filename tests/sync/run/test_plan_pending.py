"""The planner with write intents left by a run that died with a batch in flight."""

from __future__ import annotations

import pytest

from sync.run.plan import FieldTarget, ListTarget, PersonDesired, PlanState, plan

KEY = ("hubspot", "contacts", "101", "leadsync_recycle_group")


def target(value: str, current: str | None, policy: str = "keep_manual") -> FieldTarget:
    return FieldTarget("hubspot", "contacts", "101", "leadsync_recycle_group", value, policy,  # type: ignore[arg-type]
                       current)


@pytest.mark.parametrize(
    ("want", "current", "pending", "last", "outcome"),
    [
        # the interrupted run's value landed and is still wanted: adopt it (record, no API call)
        pytest.param("waiting", "waiting", "waiting", None, "adopt", id="landed-still-wanted"),
        # it landed; now leadsync wants something else: that value is leadsync's own, so write
        pytest.param("high", "waiting", "waiting", None, "write", id="landed-then-moved-on"),
        pytest.param("high", "waiting", "waiting", "low", "write", id="landed-over-an-older-write"),
        # the system holds something else: a human changed it (or the write never landed over theirs)
        pytest.param("high", "excluded", "waiting", None, "skip", id="hand-edit-wins"),
        pytest.param("high", "excluded", "waiting", "low", "skip", id="hand-edit-over-older-write"),
    ],
)
def test_keep_manual_with_a_pending_write(want: str, current: str, pending: str, last: str | None,
                                          outcome: str) -> None:
    person = PersonDesired("p@example.com", fields=(target(want, current),))
    state = PlanState(last_written={KEY: last} if last else {}, pending={KEY: pending})
    result = plan([person], state)
    kinds = {"write": bool(result.field_updates), "adopt": bool(result.adopted),
             "skip": bool(result.skipped)}
    assert [k for k, v in kinds.items() if v] == [outcome]


def test_without_the_intent_the_landed_value_looks_like_a_hand_edit() -> None:
    """What the intents fix: the same situation with no pending record is (wrongly) left alone."""
    person = PersonDesired("p@example.com", fields=(target("high", "waiting"),))
    assert plan([person], PlanState()).skipped


def lists(*names: str) -> tuple[ListTarget, ...]:
    return tuple(ListTarget("hubspot", n, "101") for n in names)


@pytest.mark.parametrize(
    ("want", "managed", "uncertain", "adds", "removes"),
    [
        # an add landed unrecorded; the person moved on: remove it (idempotent if it never landed)
        pytest.param(["Nurture - Events"], [], ["Nurture - Call/DM"], ["Nurture - Events"],
                     ["Nurture - Call/DM"], id="uncertain-add-then-moved"),
        # an add of the wanted list may not have landed: send it again
        pytest.param(["Nurture - Events"], [], ["Nurture - Events"], ["Nurture - Events"], [],
                     id="uncertain-wanted-add-resent"),
        # a recorded membership whose remove was in flight, wanted again: add it again
        pytest.param(["Nurture - Events"], ["Nurture - Events"], ["Nurture - Events"], ["Nurture - Events"],
                     [], id="uncertain-remove-now-wanted"),
        # nothing uncertain, nothing to do
        pytest.param(["Nurture - Events"], ["Nurture - Events"], [], [], [], id="settled"),
    ],
)
def test_uncertain_memberships_are_said_again(want: list[str], managed: list[str], uncertain: list[str],
                                              adds: list[str], removes: list[str]) -> None:
    person = PersonDesired("p@example.com", lists=lists(*want), records=(("hubspot", "101"),))
    state = PlanState(memberships={("hubspot", n, "101") for n in managed},
                      uncertain={("hubspot", n, "101") for n in uncertain})
    changes = plan([person], state).list_changes.get("hubspot", ())
    assert sorted(c.list_name for c in changes if c.op == "add") == adds
    assert sorted(c.list_name for c in changes if c.op == "remove") == removes
