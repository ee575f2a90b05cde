"""The people search of the console, in SQL: by the start of the email (the person key) or of a name
(`person_names`, see sync.state.names), keyset-paged by person key.

Each branch is a range on an indexed column (`assignments.person_key`, `person_names.name_key`) and
reads only its matches; the two are merged, joined to the people the runs decided (`assignments`) and
cut at one page after the `after` key, so a page costs the same at any size of the store."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mappings.emails import normalize_email
from sync.state import schema as s
from sync.state.names import name_key
from sync.state.sql import IN_CHUNK, chunks

TOP = "\U0010ffff"  # above every character: the end of a prefix range


def _prefix(column: Any, prefix: str) -> list[Any]:
    return [column >= prefix, column < prefix + TOP] if prefix else []


def find_people(engine: Engine, query: str, after: str | None, limit: int) -> list[sa.Row[Any]]:
    """Up to `limit` people (person_key, stage, rank, recycle_group, score) in person key order after
    `after`, whose email (NFKC, normalised as person keys are) or name (`name_key`) starts with
    `query`; everyone when it is blank."""
    a, n = s.assignments.c, s.person_names.c
    email, name = normalize_email(unicodedata.normalize("NFKC", query)) or "", name_key(query)
    later = [a.person_key > after] if after else []
    by_email = (sa.select(a.person_key).where(*_prefix(a.person_key, email), *later)
                .order_by(a.person_key).limit(limit).subquery("by_email"))
    branches = [sa.select(by_email.c.person_key)]
    if name:
        by_name = (sa.select(n.person_key).join(s.assignments, a.person_key == n.person_key)
                   .where(*_prefix(n.name_key, name), *([n.person_key > after] if after else []))
                   .group_by(n.person_key).order_by(n.person_key).limit(limit).subquery("by_name"))
        branches.append(sa.select(by_name.c.person_key))
    found = sa.union(*branches).subquery("found") if len(branches) > 1 else by_email
    stmt = (sa.select(a.person_key, a.stage, a.rank, a.recycle_group, a.score)
            .join(found, found.c.person_key == a.person_key).order_by(a.person_key).limit(limit))
    with engine.connect() as conn:
        return list(conn.execute(stmt).all())


def names_of(engine: Engine, person_keys: Iterable[str]) -> dict[str, list[str]]:
    """Person key -> the distinct names the snapshots give them (sorted)."""
    n = s.person_names.c
    found: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for part in chunks(sorted(set(person_keys)), IN_CHUNK):
            for r in conn.execute(sa.select(n.person_key, n.display_name).distinct()
                                  .where(n.person_key.in_(part))):
                found.setdefault(r.person_key, set()).add(r.display_name)
    return {k: sorted(v) for k, v in found.items()}


def deal_contact_names(engine: Engine, deal_ids: Iterable[str]) -> dict[tuple[str, str], str]:
    """(deal id, contact id) -> the name of that person on that deal snapshot."""
    n = s.person_names.c
    out: dict[tuple[str, str], str] = {}
    with engine.connect() as conn:
        for part in chunks(sorted(set(deal_ids)), IN_CHUNK):
            for r in conn.execute(sa.select(n.record_id, n.contact_id, n.display_name)
                                  .where(n.source == "deal", n.record_id.in_(part))):
                out.setdefault((r.record_id, r.contact_id), r.display_name)
    return out
