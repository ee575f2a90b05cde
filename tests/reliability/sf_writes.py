"""What a Salesforce write call carries, seen inside the emulator (it runs in the test process).

Probes of the reliability suite key on the content of a write (the first Contact field update, the
first member of a given campaign, the first call task), not on the n-th sObject Collections call: the
run is free to change the order and grouping of its calls (campaigns created in one call up front,
member batches that mix campaigns), and a probe keyed on call order then fires at another point or
never. `on_record_writes` calls a hook with each record the emulator's store is about to create,
update or upsert, in the request's thread, before the record is written: a hook that blocks holds the
answer back, one that raises `RecordError` fails that one record as the org would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sandbox.salesforce.store import Store

# the records a sync writes for people (campaign creation and the like are not among them)
PEOPLE_WRITES = frozenset({("update", "Contact"), ("create", "CampaignMember"), ("upsert", "Task")})


@dataclass(frozen=True)
class RecordWrite:
    op: str  # "create", "update" or "upsert"
    sobject: str
    record_id: str | None  # the record updated; None for a create or an upsert
    fields: Mapping[str, Any]

    @property
    def for_people(self) -> bool:
        return (self.op, self.sobject) in PEOPLE_WRITES


Hook = Callable[[RecordWrite], None]


@contextmanager
def on_record_writes(store: Store, hook: Hook) -> Iterator[None]:
    """Call `hook` before each record write the store handles while inside (a create that an upsert
    makes is part of the upsert: the hook sees the upsert only)."""
    create, update, upsert = store.create, store.update, store.upsert
    depth = threading.local()

    def outer(write: RecordWrite, do: Callable[[], Any]) -> Any:
        level = getattr(depth, "n", 0)
        if level == 0:
            hook(write)
        depth.n = level + 1
        try:
            return do()
        finally:
            depth.n = level

    def create_(sobject: str, fields: Mapping[str, Any], **kw: Any) -> str:
        return outer(RecordWrite("create", sobject, None, fields), lambda: create(sobject, fields, **kw))

    def update_(sobject: str, record_id: str, fields: Mapping[str, Any], **kw: Any) -> None:
        return outer(RecordWrite("update", sobject, record_id, fields),
                     lambda: update(sobject, record_id, fields, **kw))

    def upsert_(sobject: str, id_field: str, id_value: Any, fields: Mapping[str, Any],
                **kw: Any) -> tuple[str, bool]:
        return outer(RecordWrite("upsert", sobject, None, fields),
                     lambda: upsert(sobject, id_field, id_value, fields, **kw))

    store.create, store.update, store.upsert = create_, update_, upsert_  # type: ignore[method-assign]
    try:
        yield
    finally:
        del store.create, store.update, store.upsert  # the class's methods again


def campaign_id(store: Store, name: str) -> str | None:
    """The id of the (oldest) campaign named `name`, if any."""
    ids = [c["Id"] for c in store.all("Campaign") if c["Name"] == name]
    return ids[0] if ids else None
