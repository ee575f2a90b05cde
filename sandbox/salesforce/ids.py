"""Salesforce record ids: 15-character case-sensitive ids with a 3-character checksum suffix (18 chars).

An id is KEY_PREFIX(3) + POD(2) + "0" + a 9-digit base-62 counter. Base-62 digits in ASCII order
(0-9, A-Z, a-z) with a fixed width make ids of one object sort in creation order, which the store
uses as the natural order of query results.
"""

from __future__ import annotations

import re
from functools import lru_cache

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
POD = "5g"
ORG_ID = "00D5g0000000001"  # the sandbox org's id (15)


def _chunk_bits(c: str) -> int:
    up = _UPPER
    return (c[0] in up) | (c[1] in up) << 1 | (c[2] in up) << 2 | (c[3] in up) << 3 | (c[4] in up) << 4


def checksum_suffix(id15: str) -> str:
    """The 3 characters that make a 15-character id case-insensitively unique (bit i of each 5-character
    chunk is set when its character i is an uppercase letter)."""
    return (
        _SUFFIX[_chunk_bits(id15[0:5])] + _SUFFIX[_chunk_bits(id15[5:10])] + _SUFFIX[_chunk_bits(id15[10:15])]
    )


_PAIRS = [a + b for a in _BASE62 for b in _BASE62]  # base-62 digit pairs, 00 .. zz
_UP = [c in _UPPER for c in _BASE62]  # digit value -> is an uppercase letter
_PAIR_UP = [_UP[i // 62] | _UP[i % 62] << 1 for i in range(62 * 62)]  # pair value -> its 2 uppercase bits
_HEAD_BITS: dict[str, int] = {}  # key prefix -> uppercase bits of the first chunk (prefix + POD)


def make_id(key_prefix: str, number: int) -> str:
    """The 18-character id number `number` of the object with `key_prefix`.

    Same as `id15 + checksum_suffix(id15)`, with the checksum's uppercase bits taken from the digits'
    values (the store makes an id per record: at a million people this is several million ids)."""
    if not 0 <= number < 62**9:
        raise OverflowError("id counter exhausted")
    rest, d4 = divmod(number, 3844)
    rest, d3 = divmod(rest, 3844)
    rest, d2 = divmod(rest, 3844)
    d0, d1 = divmod(rest, 3844)
    head = _HEAD_BITS.get(key_prefix)
    if head is None:
        head = _HEAD_BITS[key_prefix] = _chunk_bits(f"{key_prefix}{POD}")
    # chunk 2 = "0", d0, pair d1, first digit of pair d2; chunk 3 = second digit of d2, pairs d3, d4
    second = _UP[d0] << 1 | _PAIR_UP[d1] << 2 | _UP[d2 // 62] << 4
    third = _UP[d2 % 62] | _PAIR_UP[d3] << 1 | _PAIR_UP[d4] << 3
    return (f"{key_prefix}{POD}0{_BASE62[d0]}{_PAIRS[d1]}{_PAIRS[d2]}{_PAIRS[d3]}{_PAIRS[d4]}"
            f"{_SUFFIX[head]}{_SUFFIX[second]}{_SUFFIX[third]}")


@lru_cache(maxsize=65536)
def _normalize(value: str) -> str | None:
    if not _ID_RE.match(value):
        return None
    id15 = value[:15]
    suffix = checksum_suffix(id15)
    if len(value) == 18 and value[15:] != suffix:
        return None
    return id15 + suffix


def normalize_id(value: object) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None if `value` is not a well-formed id."""
    return _normalize(value) if isinstance(value, str) else None


ORG_ID18 = ORG_ID + checksum_suffix(ORG_ID)


_DIGIT = {c: i for i, c in enumerate(_BASE62)}


def id_number(record_id: str) -> int:
    """The counter `make_id` built `record_id` from (its 9 base-62 digits after prefix, pod and "0")."""
    n = 0
    for c in record_id[6:15]:
        n = n * 62 + _DIGIT[c]
    return n


def restore_case(value: object) -> str | None:
    """The 18-character id `value` in its own letter case, from any case (the checksum suffix says which
    of the 15 characters are capitals), or None when `value` cannot be one. Ids compare
    case-insensitively; indexes keep the stored id and find it from any spelling through this."""
    if not isinstance(value, str) or len(value) != 18:
        return None
    suffix = value[15:].upper()
    bits = [_SUFFIX.find(c) for c in suffix]
    if min(bits) < 0:
        return None
    head = value[:15]
    chars = [c.upper() if bits[i // 5] >> (i % 5) & 1 else c.lower() for i, c in enumerate(head)]
    restored = "".join(chars) + suffix
    return value if restored == value else restored
