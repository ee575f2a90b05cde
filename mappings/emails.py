"""The person key: one person per normalized email (pure code, shared by the run and the views).

Normalization: `email.strip().casefold()`.
A usable email (checked on the normalized form) is at most 254 characters, has exactly one "@",
a local part of 1-64 characters with no whitespace, control or zero-width characters, none of
`( ) < > [ ] \\ , ; : "` and no leading, trailing or doubled dot (quoted local parts are not
accepted), and a domain of two or more dot-separated labels, each 1-63 letters, digits or inner
hyphens (Unicode letters allowed), with a top-level label that is not all digits (no IP
literals). Non-ASCII local parts (RFC 6531, e.g. Japanese) are accepted.
"""

from __future__ import annotations

import re

from mappings.printable import visible

MAX_EMAIL = 254
MAX_LOCAL = 64

_BAD_LOCAL_CHARS = r"\s@()<>\[\]\\,;:\"\x00-\x1f\x7f\u200b-\u200f\u2060\ufeff"
_ATOM = rf"[^{_BAD_LOCAL_CHARS}.]+"
_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
_EMAIL = re.compile(rf"(?={_ATOM}(?:\.{_ATOM})*@)[^@]{{1,{MAX_LOCAL}}}@(?:{_LABEL}\.)+(?!\d+$){_LABEL}")


def normalize_email(raw: str | None) -> str:
    """Trimmed and case-folded; "" for None. Does not validate (see `email_problem`)."""
    return raw.strip().casefold() if raw else ""


def email_problem(normalized: str) -> str | None:
    """Why a normalized email is not usable, or None when it is. See the module docstring."""
    if not normalized:
        return "no email"
    if len(normalized) <= MAX_EMAIL and _EMAIL.fullmatch(normalized):
        return None
    if len(normalized) > MAX_EMAIL:
        return f"malformed email: longer than {MAX_EMAIL} characters"
    if normalized.count("@") != 1:
        return "malformed email: needs exactly one @"
    local, domain = normalized.split("@")
    if not local:
        return "malformed email: nothing before the @"
    if len(local) > MAX_LOCAL:
        return f"malformed email: more than {MAX_LOCAL} characters before the @"
    if re.search(rf"[{_BAD_LOCAL_CHARS}]", local):
        return "malformed email: space, control or special character before the @"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "malformed email: misplaced dot before the @"
    return "malformed email: the domain is not a valid host name"


def parse_email(raw: str | None) -> tuple[str | None, str | None]:
    """(normalized email, None) when usable, else (None, reason)."""
    norm = normalize_email(raw)
    problem = email_problem(norm)
    return (None, problem) if problem else (norm, None)


def mask_email(email: str | None) -> str:
    """A loggable form that identifies without revealing: "taro.yamada@example.com" -> "ta***@example.com".

    At most two characters of the local part are shown (one when it is that short); anything that is
    not an email shows at most its first two characters. Control characters are made visible (`\\x1b`):
    the mask goes to logs and failure reasons, which reach a terminal.
    """
    if not email:
        return "<no email>"
    local, at, domain = email.strip().rpartition("@")
    if not at:
        return visible(f"{domain[:2]}***")
    shown = local[:2] if len(local) > 2 else local[:1]
    return visible(f"{shown}***@{domain[:100]}")
