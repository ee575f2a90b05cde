"""Salesforce record ids: 15-character case-sensitive ids with a 3-character checksum suffix (18 chars).

An id is KEY_PREFIX(3) + POD(2) + "0" + a 9-digit base-62 counter. Base-62 digits in ASCII order
(0-9, A-Z, a-z) with a fixed width make ids of one object sort in creation order, which the store
uses as the natural order of query results.
"""

from __future__ import annotations

import re

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
POD = "5g"
ORG_ID = "00D5g0000000001"  # the sandbox org's id (15)


def checksum_suffix(id15: str) -> str:
    """The 3 characters that make a 15-character id case-insensitively unique."""
    out = []
    for chunk in range(3):
        bits = 0
        for pos, char in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << pos
        out.append(_SUFFIX[bits])
    return "".join(out)


def make_id(key_prefix: str, number: int) -> str:
    """The 18-character id number `number` of the object with `key_prefix`."""
    digits = []
    for _ in range(9):
        number, rem = divmod(number, 62)
        digits.append(_BASE62[rem])
    if number:
        raise OverflowError("id counter exhausted")
    id15 = f"{key_prefix}{POD}0{''.join(reversed(digits))}"
    return id15 + checksum_suffix(id15)


def normalize_id(value: object) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None if `value` is not a well-formed id."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    id15 = value[:15]
    suffix = checksum_suffix(id15)
    if len(value) == 18 and value[15:] != suffix:
        return None
    return id15 + suffix


ORG_ID18 = ORG_ID + checksum_suffix(ORG_ID)
