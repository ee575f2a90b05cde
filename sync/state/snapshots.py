"""What was pulled, kept between runs: the watermark per stream and the last snapshot of every deal
(with the people on it) and contact. Every run recomputes everyone from these, so a time-based rule
(waiting period, score decay) changes assignments with no new source data. Mixed into StateStore."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.base import ContactRef, LostDeal
from mappings.emails import normalize_email
from sync.state import schema as s
from sync.state.codec import (
    deal_from_json,
    deal_to_json,
    properties_from_json,
    properties_to_json,
)
from sync.state.sql import IN_CHUNK, WRITE_CHUNK, at_or_now, chunks, stream_rows, upsert

MERGE_DEPTH = 8  # merges followed at most this deep (a chain: A into B, later B into C, ...)


class Snapshots:
    engine: Engine

    # ------------------------------------------------------------------ watermarks

    def get_watermark(self, stream: str) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(s.watermarks.c.value).where(s.watermarks.c.stream == stream)).scalar()

    def set_watermark(self, stream: str, value: datetime, *, at: datetime | None = None) -> None:
        """Move a stream's watermark. Call only after the data it covers is safely stored."""
        with self.engine.begin() as conn:
            upsert(conn, s.watermarks, [{"stream": stream, "value": value, "updated_at": at_or_now(at)}],
                   ["stream"])

    def watermarks(self) -> dict[str, datetime]:
        with self.engine.connect() as conn:
            return {r.stream: r.value for r in conn.execute(sa.select(s.watermarks))}

    # ------------------------------------------------------------------ deal snapshots

    def upsert_deals(self, deals: Iterable[LostDeal], *, at: datetime | None = None) -> int:
        """Store (or replace) deal snapshots; returns how many. One transaction per WRITE_CHUNK."""
        stored_at, n = at_or_now(at), 0
        for batch in chunks(deals, WRITE_CHUNK):
            rows = [{"opportunity_id": d.opportunity_id, "data": deal_to_json(d), "state": d.state,
                     "modified_at": d.modified_at, "is_deleted": d.is_deleted, "stored_at": stored_at,
                     "account_id": d.account_id or None,
                     **s.deal_columns(d.lost_date, d.stage_at_loss, d.loss_reason, d.amount)}
                    for d in batch]
            latest = {d.opportunity_id: d for d in batch}  # the last snapshot of a deal in the batch wins
            links = [row for d in latest.values() for row in s.deal_contact_rows(
                d.opportunity_id, ((c.contact_id, c.email) for c in d.contacts))]
            names = [row for d in latest.values() for row in s.deal_name_rows(
                d.opportunity_id, ((c.contact_id, c.email, c.last_name, c.first_name) for c in d.contacts))]
            n_ = s.person_names.c
            with self.engine.begin() as conn:
                upsert(conn, s.deals, rows, ["opportunity_id"])
                for part in chunks(list(latest), IN_CHUNK):
                    conn.execute(s.deal_contacts.delete().where(s.deal_contacts.c.opportunity_id.in_(part)))
                    conn.execute(s.person_names.delete().where(n_.source == "deal", n_.record_id.in_(part)))
                if links:
                    conn.execute(s.deal_contacts.insert(), links)
                if names:
                    conn.execute(s.person_names.insert(), names)
            n += len(rows)
        return n

    def iter_deals(self, *, include_deleted: bool = True,
                   ids: Iterable[str] | None = None) -> Iterator[LostDeal]:
        """Stream deal snapshots in id order. Deleted deals are included by default: their people must
        still be recomputed (so they leave the recycle groups)."""
        base = sa.select(s.deals.c.data).order_by(s.deals.c.opportunity_id)
        if not include_deleted:
            base = base.where(s.deals.c.is_deleted == sa.false())
        if ids is None:
            for row in stream_rows(self.engine, base):
                yield deal_from_json(row.data)
            return
        for part in chunks(ids, IN_CHUNK):
            with self.engine.connect() as conn:
                rows = conn.execute(base.where(s.deals.c.opportunity_id.in_(part))).all()
            for row in rows:
                yield deal_from_json(row.data)

    def get_deal(self, opportunity_id: str) -> LostDeal | None:
        return next(self.iter_deals(ids=[opportunity_id]), None)

    def count_deals(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(s.deals)).scalar_one())

    # ------------------------------------------------------------------ contact snapshots

    def upsert_contacts(self, system: str, contacts: Iterable[ContactRef], *,
                        at: datetime | None = None) -> int:
        """Store (or replace) contact snapshots of one system; returns how many.

        A contact's `merged_ids` (records merged into it) are marked `merged_into` it, so they no longer
        appear as people of their own. A contact that comes back itself is live again.
        """
        stored_at, n = at_or_now(at), 0
        c = s.contacts.c
        keyed = s.person_key if system == "hubspot" else (lambda _email: None)  # see schema.contacts
        for batch in chunks(contacts, WRITE_CHUNK):
            batch_props = {x.contact_id: x.properties for x in batch}
            rows = [{"system": system, "contact_id": x.contact_id, "email": x.email,
                     "email_norm": normalize_email(x.email) or None, "person_key": keyed(x.email),
                     "properties": properties_to_json(x.properties), "modified_at": x.modified_at,
                     "archived": x.archived, "merged_into": None, "stored_at": stored_at} for x in batch]
            merges = [{"m_id": old, "m_into": x.contact_id} for x in batch for old in x.merged_ids]
            named = system == "hubspot"  # the contacts with person keys (see schema.contacts)
            latest = {r["contact_id"]: r for r in rows}  # the last snapshot of a contact in the batch wins
            names = [n for x in latest.values() for n in s.contact_name_rows(
                x["contact_id"], x["person_key"], dict(batch_props[x["contact_id"]]))] if named else []
            n_ = s.person_names.c
            with self.engine.begin() as conn:
                upsert(conn, s.contacts, rows, ["system", "contact_id"])
                if named:
                    for part in chunks(list(latest), IN_CHUNK):
                        conn.execute(s.person_names.delete().where(n_.source == "contact",
                                                                   n_.record_id.in_(part)))
                    if names:
                        conn.execute(s.person_names.insert(), names)
                if merges:
                    conn.execute(s.contacts.update().where(
                        c.system == system, c.contact_id == sa.bindparam("m_id"),
                    ).values(merged_into=sa.bindparam("m_into")), merges)
            n += len(rows)
        return n

    def iter_contacts(self, system: str, *, include_archived: bool = False, include_merged: bool = False,
                      emails: Iterable[str] | None = None, ids: Iterable[str] | None = None,
                      key_range: tuple[str, str] | None = None,
                      unkeyed: bool = False) -> Iterator[ContactRef]:
        """Stream one system's contact snapshots in id order; `emails` (normalized), `ids`, person keys
        in the inclusive `key_range` or `unkeyed` (no usable email) narrow the search. Archived contacts
        and those merged into another are left out unless asked for."""
        c = s.contacts.c
        stmt = sa.select(c.contact_id, c.email, c.properties, c.modified_at, c.archived)
        if key_range is not None:  # only HubSpot contacts have a person key: found by its index alone
            if system != "hubspot":
                raise ValueError("person keys are kept for HubSpot contacts only")
            stmt = stmt.where(c.person_key.between(*key_range))
        else:
            stmt = stmt.where(c.system == system)
        if not include_archived:
            stmt = stmt.where(c.archived == sa.false())
        if not include_merged:
            stmt = stmt.where(c.merged_into.is_(None))
        if unkeyed:
            stmt = stmt.where(c.person_key.is_(None))
        if emails is not None:  # sorted here, not in SQL: SQLite would walk the primary key (every contact
            #                     of the system, in id order) instead of seeking ix_contacts_email_norm
            rows: Iterable[sa.Row[Any]] = (
                r for part in chunks(emails, IN_CHUNK)
                for r in sorted(stream_rows(self.engine, stmt.where(c.email_norm.in_(part))),
                                key=lambda r: r.contact_id))
        elif ids is not None:
            by_id = stmt.order_by(c.contact_id)
            rows = (r for part in chunks(ids, IN_CHUNK)
                    for r in stream_rows(self.engine, by_id.where(c.contact_id.in_(part))))
        else:
            rows = stream_rows(self.engine, stmt.order_by(c.contact_id))
        for r in rows:
            yield ContactRef(contact_id=r.contact_id, email=r.email,
                             properties=properties_from_json(r.properties),
                             modified_at=r.modified_at, archived=r.archived)

    def contact_fates(self, system: str, ids: Iterable[str]) -> dict[str, str | None]:
        """Of these contact ids, the ones the snapshots know are gone: id -> the contact it was merged
        into (merges followed to the last one), or None when it is archived (itself, or the contact it
        ended up merged into). Ids not listed are live or unknown."""
        c = s.contacts.c
        fates: dict[str, str | None] = {}
        nodes: dict[str, tuple[bool, str | None]] = {}
        wanted = set(ids)
        for _ in range(MERGE_DEPTH):
            todo = sorted(wanted - set(nodes))
            if not todo:
                break
            for part in chunks(todo, IN_CHUNK):
                with self.engine.connect() as conn:
                    for r in conn.execute(sa.select(c.contact_id, c.archived, c.merged_into).where(
                            c.system == system, c.contact_id.in_(part))):
                        nodes[r.contact_id] = (bool(r.archived), r.merged_into)
            wanted = {into for _a, into in nodes.values() if into}
        for rid in set(ids):
            current, seen = rid, set()
            while current in nodes and nodes[current][1] and current not in seen:
                seen.add(current)
                current = nodes[current][1]  # type: ignore[assignment]
            if current in nodes and nodes[current][0]:
                fates[rid] = None
            elif current != rid:
                fates[rid] = current
        return fates

    def count_contacts(self, system: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(s.contacts).where(
                s.contacts.c.system == system)).scalar_one())
