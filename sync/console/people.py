"""The People pages: a paged search of the people the runs decided (`assignments`, keyed by the
normalized email) by the start of their email or of their name, and one person's page from the same
view code as `leadsync mappings explain EMAIL` (`sync.views.explain`) and `leadsync history EMAIL`
(`sync.views.history`).

The search is a range over an index per branch (the email: the primary key; a name: the normalised
name keys of `person_names`, see sync.state.names), keyset-paged by the last person key of the
previous page (sync.state.person_names)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mappings import Mapping
from sync.state.person_names import find_people, names_of
from sync.state.store import StateStore
from sync.views.explain import PersonExplanation, explain_person
from sync.views.history import PersonHistory, person_history

PAGE_SIZE = 50


@dataclass(frozen=True)
class PersonRow:
    email: str
    stage: str
    rank: str
    recycle_group: str | None
    score: int | None
    names: tuple[str, ...] = ()  # the names the snapshots give them


@dataclass(frozen=True)
class PeoplePage:
    query: str
    rows: list[PersonRow]
    next_after: str | None  # the `after` of the next page (None: this is the last)


def search(store: StateStore, query: str, after: str | None = None, limit: int | None = None) -> PeoplePage:
    """People whose email (normalized as person keys are) or name (NFKC, any case, with or without
    the space, family or given name first) starts with `query`, in email order, after `after`
    (`limit`: PAGE_SIZE)."""
    limit = limit or PAGE_SIZE
    rows = find_people(store.engine, query, after, limit + 1)
    page = rows[:limit]
    names = names_of(store.engine, (r.person_key for r in page))
    found = [PersonRow(r.person_key, r.stage, r.rank, r.recycle_group, r.score,
                       tuple(names.get(r.person_key, ()))) for r in page]
    return PeoplePage(query, found, found[-1].email if len(rows) > limit else None)


@dataclass(frozen=True)
class PersonView:
    explanation: PersonExplanation | None
    history: PersonHistory | None


def person(store: StateStore, mapping: Mapping, email: str, now: datetime | None = None) -> PersonView:
    return PersonView(explain_person(store, mapping, email, now or datetime.now(UTC)),
                      person_history(store, email))
