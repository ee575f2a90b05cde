"""In-memory contacts with the indexes search needs, archived contacts, merges and property history.

Kept small per contact so a million can be seeded: a `Contact` holds only the values that are set
(`createdate`, `lastmodifieddate` and `hs_object_id` are derived from its fields), and history is
kept only for properties changed after creation. Indexes: email (lower-cased) -> id, a sorted list of
active ids (paging, `hs_object_id` ranges) and a sorted list of `(lastmodifieddate, id)` keys packed
into one int (time-window searches).

The public methods (`create_contact`, `update_contact`, ...) are the Python handle tests and demo
data use; they bypass rate limits, call counting and fault injection. The API handlers use the same
store under `store.lock`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sortedcontainers import SortedList

from .defaults import LIFECYCLE_DATE
from .errors import ContactConflictError, PropertyValidationError
from .lists import ListStore
from .schema import PropertySchema, object_type_of
from .timefmt import iso_ms, parse_ms, to_ms
from .values import Values

ID_BITS = 40
ID_MASK = (1 << ID_BITS) - 1
FIRST_ID = 101
DERIVED = frozenset({"hs_object_id", "createdate", "lastmodifieddate"})
STAGE = "lifecyclestage"


class Contact:
    __slots__ = ("id", "values", "created", "updated", "archived_at", "history", "first_set")

    def __init__(self, contact_id: int, values: Mapping[str, str], created: int):
        self.id = contact_id
        self.values = Values(values)
        self.created = created
        self.updated = created
        self.archived_at: int | None = None
        # property -> [(value, epoch ms, sourceType)], newest first; only properties changed after creation
        self.history: dict[str, list[tuple[str | None, int, str]]] | None = None
        # the same, compact, for the properties the first update after creation set where they had no
        # value and that have not changed since (an import's engagement values): (epoch ms, sourceType,
        # names). Each one's trail is [(current value, ms, sourceType)]; `expand` writes it out before
        # the property changes again. A million contacts hold one tuple each instead of eight lists.
        self.first_set: tuple[int, str, frozenset[str]] | None = None

    def prop(self, name: str) -> str | None:
        if name == "hs_object_id":
            return str(self.id)
        if name == "createdate":
            return iso_ms(self.created)
        if name == "lastmodifieddate":
            return iso_ms(self.updated)
        return self.values.get(name)

    def history_of(self, name: str) -> list[tuple[str | None, int, str]]:
        if self.history and name in self.history:
            return self.history[name]
        first = self.first_set
        if first is not None and name in first[2]:
            return [(self.values[name], first[0], first[1])]
        value = self.prop(name)
        if value is None:
            return []
        return [(value, self.updated if name == "lastmodifieddate" else self.created, "CRM_UI")]

    def expand(self, name: str) -> None:
        """Write the compact trail of `name` (see `first_set`) out into `history`, before it changes."""
        first = self.first_set
        if first is None or name not in first[2]:
            return
        if self.history is None:
            self.history = {}
        self.history[name] = [(self.values[name], first[0], first[1])]
        rest = first[2] - {name}
        self.first_set = (first[0], first[1], _shared(rest)) if rest else None


_NAME_SETS: dict[frozenset[str], frozenset[str]] = {}


def _shared(names: frozenset[str]) -> frozenset[str]:
    """One frozenset object per distinct set of property names (most contacts share a few)."""
    return _NAME_SETS.setdefault(names, names)


def _lower(text: str) -> str:
    """`text` in lower case, the same string object when it already is (HubSpot stores emails in
    lower case: the index key then costs no second copy)."""
    lower = text.lower()
    return text if lower == text else lower


def updated_key(contact: Contact) -> int:
    return (contact.updated << ID_BITS) | contact.id


class ContactStore:
    """All contacts of one emulated portal, the property schema and the lists."""

    def __init__(self, clock: Callable[[], datetime], *, search_lag: float = 0.0):
        self.clock = clock
        self.search_lag_ms = int(search_lag * 1000)
        self.lock = threading.RLock()
        self.schema = PropertySchema()
        self.lists = ListStore(self)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.schema.reset()
            self.lists.reset()
            self._contacts: dict[int, Contact] = {}
            self._next_id = FIRST_ID
            self.by_email: dict[str, int] = {}
            self.active_ids: SortedList = SortedList()
            self.archived_ids: SortedList = SortedList()
            self.by_updated: SortedList = SortedList()
            self.merged_into: dict[int, int] = {}
            # search index lag: id -> (epoch ms when search sees the current state, what search sees
            # until then: a copy of the contact before its first unindexed write, None = not at all)
            self.unindexed: dict[int, tuple[int, Contact | None]] = {}

    def now_ms(self) -> int:
        return to_ms(self.clock())

    # ------------------------------------------------------------------ Python handle (public)
    def create_contact(self, properties: Mapping[str, str | None], *, at: datetime | None = None) -> str:
        """Create a contact (as a portal import would: engagement values may be set). Returns its id.
        Raises PropertyValidationError or ContactConflictError (duplicate email)."""
        values = self._checked(properties, api=False)
        with self.lock:
            return str(self.insert(values, self._ms(at), source="IMPORT").id)

    def update_contact(
        self, contact_id: str, properties: Mapping[str, str | None], *, at: datetime | None = None
    ) -> None:
        values = self._checked(properties, api=False)
        with self.lock:
            self.apply_update(self._require(contact_id), values, self._ms(at), source="IMPORT")

    def archive_contact(self, contact_id: str, *, at: datetime | None = None) -> None:
        with self.lock:
            self.archive(self._require(contact_id), self._ms(at))

    def merge_contacts(self, primary_id: str, merged_id: str, *, at: datetime | None = None) -> None:
        """Merge `merged_id` into `primary_id`: the merged contact disappears (its id no longer
        resolves for writes or list memberships) and the primary's `hs_merged_object_ids` lists it."""
        with self.lock:
            self.merge(self._require(primary_id), self._require(merged_id), self._ms(at))

    def get_contact(self, contact_id: str) -> dict[str, Any] | None:
        """The contact with every set property (API shape: id, properties, createdAt, updatedAt,
        archived, archivedAt); None if unknown or merged away."""
        with self.lock:
            contact = self.find(contact_id, include_archived=True)
            return None if contact is None else self.describe(contact)

    def contacts(self, *, include_archived: bool = False) -> list[dict[str, Any]]:
        """Every active contact (and archived ones when asked), described as by `get_contact`."""
        with self.lock:
            return [self.describe(c) for c in self._iter(include_archived)]

    def contacts_page(
        self, *, include_archived: bool = False, limit: int = 1000
    ) -> tuple[int, list[dict[str, Any]]]:
        """(how many there are, the first `limit` of them described), without describing them all."""
        with self.lock:
            total = len(self._contacts) if include_archived else len(self.active_ids)
            return total, [
                self.describe(c) for c in itertools.islice(self._iter(include_archived), max(0, limit))
            ]

    def _iter(self, include_archived: bool) -> Iterator[Contact]:
        return (c for c in self._contacts.values() if include_archived or c.archived_at is None)

    def create_property(self, object_type: str, definition: Mapping[str, Any]) -> None:
        """Create a custom property with the same validation as `POST /crm/v3/properties/{objectType}`
        (raises errors.ApiError on an invalid definition)."""
        object_type_of(object_type)
        self.schema.create(definition, iso_ms(self.now_ms()))

    def list_members(self, list_name: str) -> set[str]:
        """Record ids in the list with this name (case-insensitive); KeyError if there is none."""
        return self.lists.members_by_name(list_name)

    def __len__(self) -> int:
        return len(self.active_ids)

    # ------------------------------------------------------------------ used by the API handlers
    def find(
        self, contact_id: str | int, *, include_archived: bool = False, follow_merges: bool = False
    ) -> Contact | None:
        try:
            key = int(contact_id)
        except (TypeError, ValueError):
            return None
        if follow_merges:
            while key in self.merged_into:
                key = self.merged_into[key]
        contact = self._contacts.get(key)
        if contact is None or (contact.archived_at is not None and not include_archived):
            return None
        return contact

    def find_by_email(self, email: str) -> Contact | None:
        key = self.by_email.get(email.strip().lower())
        return None if key is None else self._contacts.get(key)

    def insert(self, values: dict[str, str | None], at_ms: int, *, source: str) -> Contact:
        """Create from already-normalized values (caller holds the lock)."""
        email = values.get("email")
        if email:
            existing = self.by_email.get(email.lower())
            if existing is not None:
                raise ContactConflictError(str(existing))
        created = at_ms
        if values.get("createdate"):
            created = parse_ms(values.pop("createdate") or "") or at_ms
        values.pop("createdate", None)
        values = self._with_stage_date(values, None, created, source)  # entered at creation
        contact = Contact(self._next_id, {k: v for k, v in values.items() if v is not None}, created)
        contact.updated = max(at_ms, created)
        self._next_id += 1
        self._contacts[contact.id] = contact
        self._unindex(contact, before=None)
        self.active_ids.add(contact.id)
        self.by_updated.add(updated_key(contact))
        if email:
            self.by_email[_lower(email)] = contact.id
        return contact

    def apply_update(
        self, contact: Contact, values: dict[str, str | None], at_ms: int, *, source: str
    ) -> None:
        """Apply normalized values (caller holds the lock); bumps lastmodifieddate even if nothing changed,
        as a real write does."""
        values = self._with_stage_date(values, contact.values.get(STAGE), at_ms, source)
        self._unindex(contact, before=contact)
        email = values.get("email", contact.values.get("email"))
        old_email = contact.values.get("email")
        if "email" in values and email and (not old_email or email.lower() != old_email.lower()):
            other = self.by_email.get(email.lower())
            if other is not None and other != contact.id:
                raise ContactConflictError(str(other))
        compact = contact.history is None and contact.first_set is None
        first_set: list[str] = []
        current = contact.values
        changed = current.to_dict()  # written back once (each write to a Values rebuilds its tuple)
        for name, value in values.items():
            if name == "createdate":
                contact.created = parse_ms(value or "") or contact.created
                continue
            previous = current.get(name)
            if previous == value:
                continue
            if compact and previous is None:  # set for the first time: kept compact (Contact.first_set)
                first_set.append(name)
                changed[name] = value  # not None: previous is None and value differs
                continue
            contact.expand(name)
            if contact.history is None:
                contact.history = {}
            trail = contact.history.setdefault(
                name, [] if previous is None else [(previous, contact.created, "CRM_UI")]
            )
            trail.insert(0, (value, at_ms, source))
            if value is None:
                changed.pop(name, None)
            else:
                changed[name] = value
        contact.values = Values(changed)
        if first_set:
            contact.first_set = (at_ms, source, _shared(frozenset(first_set)))
        if "email" in values:
            if old_email and self.by_email.get(old_email.lower()) == contact.id:
                del self.by_email[old_email.lower()]
            if email and contact.archived_at is None:
                self.by_email[_lower(email)] = contact.id
        self._touch(contact, at_ms)

    def archive(self, contact: Contact, at_ms: int) -> None:
        if contact.archived_at is not None:
            return
        self._unindex(contact, before=contact)
        self.by_updated.discard(updated_key(contact))
        self.active_ids.discard(contact.id)
        email = contact.values.get("email")
        if email and self.by_email.get(email.lower()) == contact.id:
            del self.by_email[email.lower()]
        contact.archived_at = at_ms
        self.archived_ids.add(contact.id)
        self.lists.drop_record(str(contact.id))

    def merge(self, primary: Contact, merged: Contact, at_ms: int) -> None:
        if primary.id == merged.id:
            raise ValueError("cannot merge a contact into itself")
        if primary.archived_at is not None or merged.archived_at is not None:
            raise ValueError("cannot merge archived contacts")
        self._unindex(primary, before=primary)
        ids = [x for x in (primary.values.get("hs_merged_object_ids") or "").split(";") if x]
        ids += [str(merged.id)] + [
            x for x in (merged.values.get("hs_merged_object_ids") or "").split(";") if x
        ]
        self.archive(merged, at_ms)
        self.archived_ids.discard(merged.id)
        del self._contacts[merged.id]
        self.merged_into[merged.id] = primary.id
        for old, new in list(self.merged_into.items()):
            if new == merged.id:
                self.merged_into[old] = primary.id
        primary.expand("hs_merged_object_ids")
        primary.values["hs_merged_object_ids"] = ";".join(ids)
        self._touch(primary, at_ms)

    def describe(self, contact: Contact) -> dict[str, Any]:
        props = {name: contact.prop(name) for name in (*DERIVED, *contact.values)}
        out: dict[str, Any] = {
            "id": str(contact.id),
            "properties": props,
            "createdAt": iso_ms(contact.created),
            "updatedAt": iso_ms(contact.updated),
            "archived": contact.archived_at is not None,
        }
        if contact.archived_at is not None:
            out["archivedAt"] = iso_ms(contact.archived_at)
        return out

    def all_active(self) -> Iterable[Contact]:
        return self._iter(False)

    def contact(self, contact_id: int) -> Contact:
        return self._contacts[contact_id]

    def search_view(self) -> dict[int, Contact | None]:
        """Contacts search does not see as they are yet (caller holds the lock): id -> what search
        sees instead (None: nothing). Empty unless `search_lag`; entries whose lag has passed go."""
        if not self.unindexed:
            return {}
        now = self.now_ms()
        for key in [k for k, (due, _) in self.unindexed.items() if due <= now]:
            del self.unindexed[key]
        return {k: seen for k, (_, seen) in self.unindexed.items()}

    # ------------------------------------------------------------------ internals
    def _with_stage_date(
        self, values: dict[str, str | None], previous: str | None, at_ms: int, source: str
    ) -> dict[str, str | None]:
        """HubSpot's rules for `lifecyclestage`: through the API a value earlier in the stage order than
        the current one is ignored without an error (clear it first, then set the earlier stage:
        integrate.hubspot.com/t/update-lifecycle-stage-using-api/1333; knowledge.hubspot.com "Use
        lifecycle stages": automatic updates only move forward); entering a stage sets its read-only
        "Became a ... date" (`hs_lifecyclestage_<value>_date`) to the time of the write, unless the
        write sets that date itself (an import). Skipped stages get no date; dates of stages left stay."""
        stage = values.get(STAGE)
        if STAGE not in values or stage is None or stage == previous:
            return values
        prop = self.schema.get(STAGE)
        order = {o.value: o.display_order for o in prop.options} if prop is not None else {}
        if (source == "API" and previous is not None and stage in order and previous in order
                and order[stage] < order[previous]):
            return {k: v for k, v in values.items() if k != STAGE}
        date = LIFECYCLE_DATE.format(stage)
        if self.schema.get(date) is None or values.get(date):
            return values
        return {**values, date: iso_ms(at_ms)}

    def _unindex(self, contact: Contact, *, before: Contact | None) -> None:
        """Search index lag: a write reaches search `search_lag` after the latest write; until then
        search sees the contact as it was before the first write it has not indexed."""
        if not self.search_lag_ms:
            return
        now = self.now_ms()
        pending = self.unindexed.get(contact.id)
        if pending is not None and pending[0] > now:
            seen = pending[1]
        elif before is None or before.archived_at is not None:
            seen = None
        else:
            seen = Contact(before.id, before.values, before.created)
            seen.updated = before.updated
        self.unindexed[contact.id] = (now + self.search_lag_ms, seen)

    def _touch(self, contact: Contact, at_ms: int) -> None:
        active = contact.archived_at is None
        if active:
            self.by_updated.discard((contact.updated << ID_BITS) | contact.id)
        contact.updated = at_ms if at_ms > contact.created else contact.created
        if active:
            self.by_updated.add((contact.updated << ID_BITS) | contact.id)

    def _checked(self, properties: Mapping[str, str | None], *, api: bool) -> dict[str, str | None]:
        values, problems = self.schema.check_write(properties, api=api)
        if problems:
            raise PropertyValidationError(problems)
        return values

    def _ms(self, at: datetime | None) -> int:
        return to_ms(at) if at is not None else self.now_ms()

    def _require(self, contact_id: str) -> Contact:
        contact = self.find(contact_id)
        if contact is None:
            raise KeyError(f"no active contact with id {contact_id}")
        return contact
