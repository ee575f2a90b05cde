"""Where each key of a TOML document sits: key path -> line number.

`tomllib` parses TOML but keeps no positions, and `tomlkit` keeps the layout but no line numbers, so
this module scans the text once more, after `tomllib` has accepted it, to record the 1-based line of
every table header, key and array element. It understands everything TOML 1.0 allows: `[tables]`,
`[[arrays.of.tables]]`, dotted and quoted keys, inline tables, multi-line arrays, all four string
forms (a `#`, `=`, `[` or newline inside a string is not structure), and comments.

A path is a tuple of keys (str) and array indices (int), the same shape as a pydantic error `loc`:
`("recycle", "high", 1)` is the second element of `high = [...]` in `[recycle]`.

The scanner is best effort by design: it only ever runs on text `tomllib` accepted, it never raises
(on anything unexpected it stops and keeps what it found), and `KeyLines.line()` falls back to the
nearest ancestor that it knows.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from bisect import bisect_right
from dataclasses import dataclass, field

PathKey = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_WS = " \t"


@dataclass(frozen=True)
class KeyLines:
    """Lines of the keys of one TOML document (see the module docstring)."""

    lines: dict[PathKey, int] = field(default_factory=dict)
    headers: frozenset[PathKey] = frozenset()  # paths of explicit [table] / [[array]] headers

    def line(self, path: PathKey) -> int:
        """Line of `path`, else of its nearest known ancestor, else 1."""
        probe = tuple(path)
        while probe:
            found = self.lines.get(probe)
            if found is not None:
                return found
            probe = probe[:-1]
        return 1

    def table_of(self, path: PathKey) -> PathKey:
        """The longest prefix of `path` (itself included) that is an explicit table header, else `()`."""
        for cut in range(len(path), 0, -1):
            if path[:cut] in self.headers:
                return path[:cut]
        return ()


def locate_keys(text: str) -> KeyLines:
    """Scan `text` (already accepted by tomllib) and return the line of every key path."""
    scanner = _Scanner(text)
    with contextlib.suppress(IndexError, ValueError, tomllib.TOMLDecodeError):
        scanner.document()  # on anything unexpected keep what was found; line() falls back to ancestors
    return KeyLines(scanner.lines, frozenset(scanner.headers))


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.lines: dict[PathKey, int] = {}
        self.headers: set[PathKey] = set()
        self.aot_index: dict[PathKey, int] = {}  # raw header path of [[x]] -> current index

    # ----------------------------------------------------------------- helpers

    def lineno(self, pos: int | None = None) -> int:
        return bisect_right(self.line_starts, self.i if pos is None else pos)

    def record(self, path: PathKey, line: int) -> None:
        for cut in range(1, len(path)):
            self.lines.setdefault(path[:cut], line)  # implicit parents: first mention
        self.lines[path] = line

    def peek(self, k: int = 1) -> str:
        return self.s[self.i : self.i + k]

    def skip_ws(self) -> None:
        while self.i < self.n and self.s[self.i] in _WS:
            self.i += 1

    def skip_comment(self) -> None:
        if self.i < self.n and self.s[self.i] == "#":
            end = self.s.find("\n", self.i)
            self.i = self.n if end < 0 else end

    def skip_blank(self) -> None:
        """Whitespace, newlines and comments (inside arrays and between statements)."""
        while self.i < self.n:
            self.skip_ws()
            self.skip_comment()
            if self.i < self.n and self.s[self.i] in "\r\n":
                self.i += 1
            else:
                return

    # ----------------------------------------------------------------- grammar

    def document(self) -> None:
        current: PathKey = ()
        while True:
            self.skip_blank()
            if self.i >= self.n:
                return
            line = self.lineno()
            if self.peek(2) == "[[":
                self.i += 2
                raw = self.key()
                self.expect("]]")
                current = self.resolve(raw)
                index = self.aot_index.get(raw, -1) + 1
                self.aot_index[raw] = index
                # a new element resets the indices of arrays nested under the previous one
                for other in [k for k in self.aot_index if len(k) > len(raw) and k[: len(raw)] == raw]:
                    del self.aot_index[other]
                current = (*current, index)
                self.record(current, line)
                self.headers.add(current)
            elif self.peek() == "[":
                self.i += 1
                raw = self.key()
                self.expect("]")
                current = self.resolve(raw)
                self.record(current, line)
                self.headers.add(current)
            else:
                self.keyval(current)
            self.skip_ws()
            self.skip_comment()

    def resolve(self, raw: tuple[str, ...]) -> PathKey:
        """Insert the current index of every array of tables the header path runs through."""
        out: list[str | int] = []
        for cut in range(1, len(raw) + 1):
            out.append(raw[cut - 1])
            if cut < len(raw) and raw[:cut] in self.aot_index:
                out.append(self.aot_index[raw[:cut]])
        return tuple(out)

    def expect(self, token: str) -> None:
        self.skip_ws()
        if not self.s.startswith(token, self.i):
            raise ValueError(f"expected {token!r} at {self.i}")
        self.i += len(token)

    def keyval(self, table: PathKey) -> None:
        line = self.lineno()
        path = (*table, *self.key())
        self.expect("=")
        self.record(path, line)
        self.skip_ws()
        self.value(path)

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip_ws()
            parts.append(self.simple_key())
            self.skip_ws()
            if self.peek() != ".":
                return tuple(parts)
            self.i += 1

    def simple_key(self) -> str:
        ch = self.peek()
        if ch == '"':
            start = self.i
            self.basic_string()
            return _decode_basic(self.s[start : self.i])
        if ch == "'":
            start = self.i
            self.literal_string()
            return self.s[start + 1 : self.i - 1]
        match = _BARE_KEY.match(self.s, self.i)
        if not match:
            raise ValueError(f"expected a key at {self.i}")
        self.i = match.end()
        return match.group()

    def need_more(self) -> None:
        if self.i >= self.n:
            raise ValueError("unexpected end of document")

    def value(self, path: PathKey) -> None:
        self.need_more()
        ch = self.peek()
        if ch == "[":
            self.array(path)
        elif ch == "{":
            self.inline_table(path)
        elif self.peek(3) in ('"""', "'''"):
            self.multiline_string(self.peek(3))
        elif ch == '"':
            self.basic_string()
        elif ch == "'":
            self.literal_string()
        else:  # number, bool, date/time (a space may separate date and time)
            start = self.i
            while self.i < self.n and self.s[self.i] not in ",]}\r\n#":
                self.i += 1
            if self.i == start:
                raise ValueError(f"expected a value at {start}")

    def array(self, path: PathKey) -> None:
        self.i += 1  # [
        index = 0
        while True:
            self.skip_blank()
            if self.peek() == "]":
                self.i += 1
                return
            self.need_more()
            element = (*path, index)
            self.record(element, self.lineno())
            self.value(element)
            index += 1
            self.skip_blank()
            if self.peek() == ",":
                self.i += 1

    def inline_table(self, path: PathKey) -> None:
        self.i += 1  # {
        while True:
            self.skip_blank()
            if self.peek() == "}":
                self.i += 1
                return
            self.need_more()
            self.keyval(path)
            self.skip_blank()
            if self.peek() == ",":
                self.i += 1

    def basic_string(self) -> None:
        self.i += 1
        while self.i < self.n:
            ch = self.s[self.i]
            if ch == "\\":
                self.i += 2
                continue
            self.i += 1
            if ch == '"':
                return
        raise ValueError("unterminated string")

    def literal_string(self) -> None:
        end = self.s.index("'", self.i + 1)
        self.i = end + 1

    def multiline_string(self, delim: str) -> None:
        self.i += 3
        while self.i < self.n:
            if delim == '"""' and self.s[self.i] == "\\":
                self.i += 2
                continue
            if self.s.startswith(delim, self.i):
                self.i += 3
                # up to two quotes may directly precede the closing delimiter: """a""""" ends last
                extra = 0
                while extra < 2 and self.i < self.n and self.s[self.i] == delim[0]:
                    self.i += 1
                    extra += 1
                return
            self.i += 1
        raise ValueError("unterminated multi-line string")


def _decode_basic(quoted: str) -> str:
    """Decode a quoted basic-string key exactly as tomllib does (escapes included)."""
    if "\\" not in quoted:
        return quoted[1:-1]
    value = tomllib.loads(f"k = {quoted}")["k"]
    return str(value)
