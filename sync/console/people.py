"""The People pages: a paged search of the people the runs decided (`assignments`, keyed by the
normalized email), and one person's page from the same view code as `leadsync mappings explain EMAIL`
(`sync.views.explain`) and `leadsync history EMAIL` (`sync.views.history`).

The search is by the start of the email (a range over the primary key: one index seek and a page of
rows at any size of the store), keyset-paged by the last email of the previous page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from mappings import Mapping
from mappings.emails import normalize_email
from sync.state import schema as s
from sync.state.store import StateStore
from sync.views.explain import PersonExplanation, explain_person
from sync.views.history import PersonHistory, person_history

PAGE_SIZE = 50
_TOP = "\U0010ffff"  # above every character: the end of a prefix range


@dataclass(frozen=True)
class PersonRow:
    email: str
    stage: str
    rank: str
    recycle_group: str | None
    score: int | None


@dataclass(frozen=True)
class PeoplePage:
    query: str
    rows: list[PersonRow]
    next_after: str | None  # the `after` of the next page (None: this is the last)


def search(store: StateStore, query: str, after: str | None = None, limit: int = PAGE_SIZE) -> PeoplePage:
    """People whose email starts with `query` (normalized as person keys are), in email order,
    after `after`."""
    prefix = normalize_email(query) or ""
    a = s.assignments.c
    conds = [a.person_key >= prefix, a.person_key < prefix + _TOP] if prefix else []
    if after:
        conds.append(a.person_key > after)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(a.person_key, a.stage, a.rank, a.recycle_group, a.score)
                            .where(*conds).order_by(a.person_key).limit(limit + 1)).all()
    found = [PersonRow(r.person_key, r.stage, r.rank, r.recycle_group, r.score) for r in rows[:limit]]
    return PeoplePage(query, found, found[-1].email if len(rows) > limit else None)


@dataclass(frozen=True)
class PersonView:
    explanation: PersonExplanation | None
    history: PersonHistory | None


def person(store: StateStore, mapping: Mapping, email: str, now: datetime | None = None) -> PersonView:
    return PersonView(explain_person(store, mapping, email, now or datetime.now(UTC)),
                      person_history(store, email))
