"""Contacts as the API returns them (`SimplePublicObject` and friends); every value a string or null."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .store import Contact
from .timefmt import iso_ms

ALWAYS = ("hs_object_id", "createdate", "lastmodifieddate")
DEFAULT_READ = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")


def property_names(requested: Iterable[str] | None, known: set[str] | frozenset[str]) -> list[str]:
    """Requested properties (unknown names ignored, as the real API does) plus the system ones;
    the default set when nothing is requested."""
    if not requested:
        return list(DEFAULT_READ)
    names = [n for n in dict.fromkeys(requested) if n in known]
    return names + [n for n in ALWAYS if n not in names]


def public_object(
    contact: Contact, names: Sequence[str], *, history: Sequence[str] = (), new: bool | None = None
) -> dict[str, Any]:
    """`SimplePublicObject` (with `new` for upserts, `propertiesWithHistory` when asked)."""
    ident, created, updated = str(contact.id), iso_ms(contact.created), iso_ms(contact.updated)
    get = contact.values.get
    props = {n: get(n) for n in names}
    if "hs_object_id" in props:
        props["hs_object_id"] = ident
    if "createdate" in props:
        props["createdate"] = created
    if "lastmodifieddate" in props:
        props["lastmodifieddate"] = updated
    out: dict[str, Any] = {
        "id": ident,
        "properties": props,
        "createdAt": created,
        "updatedAt": updated,
        "archived": contact.archived_at is not None,
    }
    if contact.archived_at is not None:
        out["archivedAt"] = iso_ms(contact.archived_at)
    if history:
        out["propertiesWithHistory"] = {
            n: [
                {"value": v if v is not None else "", "timestamp": iso_ms(ms), "sourceType": src}
                for v, ms, src in contact.history_of(n)
            ]
            for n in history
        }
    if new is not None:
        out["new"] = new
    return out
