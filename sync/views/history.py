"""One person's path through the shared model, from the local state store: every recorded move of
their stage, rank and recycle group (when, why, which run and mapping version) and their recycle cycles
(`leadsync history EMAIL`). No API call."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mappings.emails import parse_email
from sync.state.history import Move
from sync.state.store import StateStore


@dataclass(frozen=True)
class PersonHistory:
    email: str
    person_key: str
    standing: dict[str, Any] | None  # where they stand now (None: never recorded)
    moves: list[Move]
    cycles: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        standing = None if self.standing is None else {
            k: v for k, v in self.standing.items() if k not in ("facts_digest", "mapping_digest")}
        return {"email": self.email, "person_key": self.person_key, "now": _jsonable(standing),
                "moves": [_jsonable(asdict(m)) for m in self.moves],
                "cycles": [_jsonable(c) for c in self.cycles]}


def _jsonable(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def person_history(store: StateStore, email: str) -> PersonHistory | None:
    """The person's history, None when the email is not usable or nothing is recorded for it."""
    key = parse_email(email)[0]
    if key is None:
        return None
    standing, moves = store.standing_of(key), store.moves_of(key)
    if standing is None and not moves:
        return None
    return PersonHistory(email, key, standing, moves, store.cycles_of(key))
