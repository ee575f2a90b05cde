"""The pull streams: what a run reads from each system, under which watermark, and where it starts.

One rule for every stream (`start`): an incremental read starts at its watermark minus the lookback
of the connector that reads it (records changed while the last run read are read again); a backfill
starts exactly at `--since` (streams that follow the backfill window); a stream with no watermark yet
reads everything. Connectors read from exactly the `since` they are given.

Watermark names are stored in users' state databases: never rename one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from connectors.base import ContactRef, LostDeal, MarketingSystem, SalesSystem, TaskState

Backfill = Literal["window", "watermark", "everything"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sources:
    """What a stream's read needs: both connectors and the run's arguments."""

    sales: SalesSystem
    marketing: MarketingSystem
    properties: Sequence[str]  # MA contact properties to read
    fields: Sequence[str]  # SFA contact fields to read
    watch: Sequence[str]  # SFA contact fields whose hand edits matter (keep_manual, if_blank)
    until: datetime | None  # end of a backfill window (None: now)


Read = Callable[[Sources, datetime | None],
                Iterable[LostDeal] | Iterable[ContactRef] | Iterable[TaskState] | None]


@dataclass(frozen=True, slots=True)
class Stream:
    """One pull stream. `read(sources, since)` is the source call (None: nothing to read this run)."""

    name: str  # its watermark in the state store
    system: Literal["salesforce", "hubspot"]  # whose connector reads it: its `lookback` applies
    snapshot: Literal["deals", "contacts", "tasks"]  # what the records are stored as (in that system's
    #                                                   snapshot; tasks: the status of call_tasks rows)
    read: Read
    on_backfill: Backfill = "window"  # window: from --since to --until; watermark: as incremental;
    #                                   everything: read it all again
    after: str | None = None  # on a non-backfill run, read only once this stream or `after` has a mark


DEALS = Stream("salesforce.opportunities", "salesforce", "deals",
               lambda s, since: s.sales.iter_deals(since, s.until, contact_fields=s.watch))
CONTACTS = Stream("hubspot.contacts", "hubspot", "contacts",
                  lambda s, since: s.marketing.iter_contacts(since, s.properties, s.until))
ARCHIVED = Stream("hubspot.archived", "hubspot", "contacts",
                  lambda s, since: s.marketing.iter_archived(since),
                  on_backfill="watermark", after="hubspot.contacts")
SF_CONTACTS = Stream("salesforce.managed_contacts", "salesforce", "contacts",  # none to watch: not read
                     lambda s, since: s.sales.iter_managed_contacts(s.fields, s.watch, since) if s.watch
                     else None, on_backfill="everything")
# the call tasks leadsync created, read back (status, closed): after the deals, with its own watermark;
# with none yet (a first run, or the first after migration 7) every keyed task is read once. A backfill
# reads it as an incremental run does (a task's status is not a fact of the backfill window).
TASKS = Stream("salesforce.call_tasks", "salesforce", "tasks",
               lambda s, since: s.sales.iter_task_states(since), on_backfill="watermark")
STREAMS: tuple[Stream, ...] = (DEALS, TASKS, CONTACTS, ARCHIVED, SF_CONTACTS)  # in pull order


def lookback(stream: Stream, sources: Sources) -> timedelta:
    """The lookback of the connector that reads `stream` (from that connector's settings)."""
    return sources.sales.lookback if stream.system == "salesforce" else sources.marketing.lookback


def start(stream: Stream, *, watermark: datetime | None, lookback: timedelta, backfill: bool,
          since: datetime | None) -> datetime | None:
    """Where a read of `stream` starts (None: from the beginning). The one rule: incremental =
    watermark - lookback; backfill (for a stream that follows the window) = exactly `since`; no
    watermark = everything."""
    if backfill and stream.on_backfill == "window":
        return since
    if backfill and stream.on_backfill == "everything":
        return None
    return None if watermark is None else watermark - lookback


def due(stream: Stream, marks: dict[str, datetime | None], *, backfill: bool) -> bool:
    """Whether `stream` is read this run (`marks`: the watermarks before the run)."""
    if backfill or stream.after is None:
        return True
    return marks.get(stream.name) is not None or marks.get(stream.after) is not None


def batches_keeping_partial(records: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` records, like `sync.state.sql.chunks`, except that when the
    read fails the records read before the failure come out as a last (short) batch first, and the
    error is raised when the next batch is asked for: the caller stores what was read (snapshots are
    upserts, so storing part of a stream is always safe) and the watermark, which only a finished run
    moves, stays where the unread part begins."""
    batch: list[T] = []
    it = iter(records)
    while True:
        try:
            item = next(it)
        except StopIteration:
            break
        except Exception:
            if batch:
                yield batch
            raise
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
