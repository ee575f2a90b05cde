"""People's names as the search finds them (`person_names`, migration 12): pure functions, no SQL.

A name is searched by the start of a key: the family and given names NFKC-normalised (full-width
letters become ASCII, half-width katakana full-width), case-folded, with every space taken out, joined
both ways round: "family given" and "given family". So 山田太郎, 山田 太郎, 山田, 太郎, Ｙａｍａｄａ,
"yamada taro" and "Taro Yamada" all find 山田 太郎 / Taro Yamada, and the query is normalised the same
way (`name_key`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

KEY_LENGTH = 255  # characters of a search key kept (a longer name is found by its first 255)
DISPLAY_LENGTH = 255


def name_key(text: str | None) -> str:
    """The search form of a name or a query: NFKC, case-folded, without spaces (\"\" when empty)."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in folded if not ch.isspace() and unicodedata.category(ch) != "Cc")[:KEY_LENGTH]


def _cjk(text: str) -> bool:
    """Whether a name is written in Japanese or Chinese script (then shown family name first)."""
    return any("\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"
               or "\uff66" <= ch <= "\uff9f" for ch in text)


def display_name(family: str | None, given: str | None) -> str:
    """The name as shown: family name first in Japanese script (山田 太郎), given name first otherwise
    (Taro Yamada)."""
    f, g = (family or "").strip(), (given or "").strip()
    parts = (f, g) if _cjk(f + g) else (g, f)
    return " ".join(p for p in parts if p)[:DISPLAY_LENGTH]


def name_keys(family: str | None, given: str | None) -> list[str]:
    """The search keys of one name: family+given and given+family (one key when only one is known)."""
    f, g = name_key(family), name_key(given)
    return list(dict.fromkeys(k[:KEY_LENGTH] for k in (f + g, g + f) if k))


def name_rows(source: str, record_id: str, contact_id: str, person_key: str | None,
              family: str | None, given: str | None) -> list[dict[str, Any]]:
    """`person_names` rows of one person's name on one record (none without a person key or a name)."""
    if person_key is None:
        return []
    shown = display_name(family, given)
    return [{"source": source, "record_id": record_id, "contact_id": contact_id, "name_key": key,
             "person_key": person_key, "display_name": shown} for key in name_keys(family, given)]


def unique_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with distinct primary keys (a contact named twice on a deal keeps its first entry)."""
    out: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in rows:
        out.setdefault((r["source"], r["record_id"], r["contact_id"], r["name_key"]), r)
    return list(out.values())
