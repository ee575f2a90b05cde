"""Lists v3 for contacts (objectTypeId 0-1): MANUAL, SNAPSHOT and DYNAMIC lists and memberships.

MANUAL and SNAPSHOT lists take membership adds and removes; DYNAMIC lists refuse them (their filters
are stored but not evaluated: a DYNAMIC list stays empty in the sandbox). Ids that are not active
contacts (unknown, archived or merged away) are answered in `recordIdsMissing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sortedcontainers import SortedDict

from .errors import ApiError
from .timefmt import iso_ms

if TYPE_CHECKING:
    from .store import ContactStore

PROCESSING_TYPES = ("MANUAL", "SNAPSHOT", "DYNAMIC")
CONTACT_OBJECT_TYPE = "0-1"
MAX_MEMBERSHIP_PAGE = 250


@dataclass
class ContactList:
    list_id: int
    name: str
    processing_type: str
    created: int
    updated: int
    filter_branch: dict[str, Any] | None = None
    version: int = 1
    members: SortedDict = field(default_factory=SortedDict)  # record id (int) -> joined at (epoch ms)

    def as_json(self, *, include_filters: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "listId": str(self.list_id),
            "listVersion": self.version,
            "name": self.name,
            "objectTypeId": CONTACT_OBJECT_TYPE,
            "processingStatus": "COMPLETE",
            "processingType": self.processing_type,
            "createdAt": iso_ms(self.created),
            "updatedAt": iso_ms(self.updated),
            "filtersUpdatedAt": iso_ms(self.created),
            "createdById": "1",
            "updatedById": "1",
            "size": len(self.members),
        }
        if include_filters and self.filter_branch is not None:
            out["filterBranch"] = self.filter_branch
        return out


    def search_json(self) -> dict[str, Any]:
        """A PublicObjectListSearchResult (`additionalProperties` holds the size, as strings)."""
        out = {k: v for k, v in self.as_json().items() if k != "size"}
        out["additionalProperties"] = {"hs_list_size": str(len(self.members))}
        return out


class ListStore:
    """Lists of one portal; every method takes the contact store's lock."""

    def __init__(self, store: ContactStore):
        self._store = store
        self.reset()

    def reset(self) -> None:
        self._lists: dict[int, ContactList] = {}
        self._next_id = 1

    # ---- definitions
    def create(self, raw: Any) -> ContactList:
        if not isinstance(raw, dict):
            raise ApiError.validation("Invalid input JSON: expected an object")
        missing = [k for k in ("name", "objectTypeId", "processingType") if not raw.get(k)]
        if missing:
            raise ApiError.validation(f"Some required fields were not set: [{', '.join(missing)}]")
        name, object_type, processing = str(raw["name"]), str(raw["objectTypeId"]), str(raw["processingType"])
        if object_type != CONTACT_OBJECT_TYPE:
            raise ApiError.validation(
                f"Object type {object_type} is not supported by this sandbox (only 0-1)"
            )
        if processing not in PROCESSING_TYPES:
            raise ApiError.validation(
                f"Invalid processingType {processing}; expected one of {list(PROCESSING_TYPES)}"
            )
        if processing == "DYNAMIC" and not raw.get("filterBranch"):
            raise ApiError.validation("A DYNAMIC list needs a filterBranch")
        with self._store.lock:
            if self._find_name(name) is not None:
                raise ApiError(409, f"A list named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
            now = self._store.now_ms()
            created = ContactList(self._next_id, name, processing, now, now, raw.get("filterBranch"))
            self._lists[created.list_id] = created
            self._next_id += 1
            return created

    def get(self, list_id: str) -> ContactList:
        try:
            key = int(list_id)
        except ValueError:
            key = -1
        with self._store.lock:
            found = self._lists.get(key)
        if found is None:
            raise ApiError(404, f"List does not exist with ID {list_id}.", "OBJECT_NOT_FOUND")
        return found

    def by_ids(self, list_ids: Iterable[str]) -> list[ContactList]:
        """The lists with these ids, by id; ids of no list are left out."""
        keys = {int(x) for x in list_ids if str(x).isdigit()}
        with self._store.lock:
            return [self._lists[k] for k in sorted(keys) if k in self._lists]

    def by_name(self, object_type: str, name: str) -> ContactList:
        with self._store.lock:
            found = self._find_name(name) if object_type == CONTACT_OBJECT_TYPE else None
        if found is None:
            raise ApiError(
                404,
                f"List does not exist with name {name} for object type {object_type}.",
                "OBJECT_NOT_FOUND",
            )
        return found

    def search(self, query: str, offset: int, count: int, processing_types: list[str]) -> dict[str, Any]:
        """The ListSearchResponse page: lists whose name contains `query` (case-insensitively; empty:
        all), by list id, `count` from `offset`."""
        wanted = query.casefold()
        with self._store.lock:
            found = [x for _, x in sorted(self._lists.items())
                     if wanted in x.name.casefold()
                     and (not processing_types or x.processing_type in processing_types)]
        page = found[offset:offset + count]
        return {"lists": [x.search_json() for x in page], "offset": offset + len(page),
                "hasMore": offset + len(page) < len(found), "total": len(found)}

    def delete(self, list_id: str) -> None:
        found = self.get(list_id)
        with self._store.lock:
            self._lists.pop(found.list_id, None)

    def members_by_name(self, name: str) -> set[str]:
        with self._store.lock:
            found = self._find_name(name)
            if found is None:
                raise KeyError(f"no list named {name!r}")
            return {str(k) for k in found.members}

    # ---- memberships
    def change(self, list_id: str, add: Iterable[Any], remove: Iterable[Any]) -> dict[str, list[str]]:
        """Add then remove record ids; the MembershipsUpdateResponse body."""
        target = self.get(list_id)
        if target.processing_type == "DYNAMIC":
            raise ApiError.validation(
                f"List {list_id} is a DYNAMIC list; memberships of DYNAMIC lists cannot be changed manually"
            )
        added: list[str] = []
        removed: list[str] = []
        missing: list[str] = []
        with self._store.lock:
            now = self._store.now_ms()
            for raw in add:
                key = self._active_id(raw)
                if key is None:
                    missing.append(str(raw))
                elif key not in target.members:
                    target.members[key] = now
                    added.append(str(key))
            for raw in remove:
                key = self._active_id(raw)
                if key is None:
                    missing.append(str(raw))
                elif target.members.pop(key, None) is not None:
                    removed.append(str(key))
            if added or removed:
                target.updated = now
        return {"recordsIdsAdded": added, "recordIdsRemoved": removed, "recordIdsMissing": missing}

    def page(self, list_id: str, after: str | None, limit: int) -> dict[str, Any]:
        if limit < 1 or limit > MAX_MEMBERSHIP_PAGE:
            raise ApiError.validation(f"limit must be between 1 and {MAX_MEMBERSHIP_PAGE}, got {limit}")
        target = self.get(list_id)
        with self._store.lock:
            start = target.members.bisect_right(int(after)) if after and after.isdigit() else 0
            keys = list(target.members.islice(start, start + limit + 1))
            rows = [
                {"recordId": str(k), "membershipTimestamp": iso_ms(target.members[k])} for k in keys[:limit]
            ]
            total = len(target.members)
        body: dict[str, Any] = {"results": rows, "total": total}
        if len(keys) > limit:
            body["paging"] = {"next": {"after": rows[-1]["recordId"]}}
        return body

    def drop_record(self, record_id: str) -> None:
        """An archived or merged-away record leaves every list."""
        key = int(record_id)
        for target in self._lists.values():
            target.members.pop(key, None)

    def _active_id(self, raw: Any) -> int | None:
        contact = self._store.find(str(raw))
        return None if contact is None else contact.id

    def _find_name(self, name: str) -> ContactList | None:
        wanted = name.casefold()
        return next((x for x in self._lists.values() if x.name.casefold() == wanted), None)
