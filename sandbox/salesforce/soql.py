"""SOQL parser (lark, LALR) producing a small immutable AST.

Covers what leadsync and its tests use: field lists with parent relationship paths (Account.Name),
child relationship subqueries, COUNT() / COUNT(field), WHERE with AND / OR / NOT and parentheses
(mixing AND and OR without parentheses is rejected, as in SOQL), = != <> < <= > >=, LIKE, IN / NOT IN
with a value list or a semi-join subquery, null, true/false, numbers, strings, date and datetime
literals (2026-01-01, 2026-01-01T00:00:00Z, +09:00 offsets) and relative date literals (TODAY,
LAST_N_DAYS:30, ...), ORDER BY several fields ASC/DESC NULLS FIRST/LAST, LIMIT, OFFSET.
Not supported (MALFORMED_QUERY): GROUP BY, HAVING, aggregate functions other than COUNT, TYPEOF,
WITH, FOR VIEW/UPDATE, aliases, INCLUDES/EXCLUDES.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedInput, v_args

from .values import parse_datetime

GRAMMAR = r"""
start: query
query: "SELECT"i select_list "FROM"i NAME where? order_by? limit? offset?
select_list: select_item ("," select_item)*
?select_item: field_path
            | "COUNT"i "(" field_path? ")"   -> count
            | "(" query ")"                  -> subquery
field_path: NAME ("." NAME)*
where: "WHERE"i condition
?condition: unary | and_chain | or_chain
and_chain: unary ("AND"i unary)+
or_chain: unary ("OR"i unary)+
?unary: "NOT"i unary                        -> not_
      | "(" condition ")"
      | field_path COMP_OP value            -> comparison
      | field_path "LIKE"i value            -> like
      | field_path "IN"i "(" in_values ")"  -> in_
      | field_path "NOT"i "IN"i "(" in_values ")" -> not_in
?in_values: value ("," value)*              -> value_list
          | query                           -> semi_join
?value: STRING                              -> string
      | SIGNED_NUMBER                       -> number
      | DATETIME                            -> datetime
      | DATE                                -> date
      | RELATIVE_N                          -> relative
      | RELATIVE                            -> relative
      | "NULL"i                             -> null
      | "TRUE"i                             -> true
      | "FALSE"i                            -> false
order_by: "ORDER"i "BY"i order_item ("," order_item)*
order_item: field_path DIRECTION? NULLS?
limit: "LIMIT"i INT
offset: "OFFSET"i INT

COMP_OP: "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
DIRECTION.2: /(ASC|DESC)\b/i
NULLS.2: /NULLS\s+(FIRST|LAST)\b/i
DATETIME.4: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})/
DATE.3: /\d{4}-\d{2}-\d{2}/
RELATIVE_N.3: /((LAST|NEXT)_N_(DAYS|WEEKS|MONTHS)|N_DAYS_AGO):\d+/i
RELATIVE.2: /(YESTERDAY|TODAY|TOMORROW|(LAST|THIS|NEXT)_(WEEK|MONTH|YEAR)|(LAST|NEXT)_90_DAYS)\b/i
STRING: /'(\\.|[^'\\])*'/
NAME: /[A-Za-z][A-Za-z0-9_]*/

%import common.SIGNED_NUMBER
%import common.INT
%import common.WS
%ignore WS
"""


# ------------------------------------------------------------------ AST
@dataclass(frozen=True)
class FieldPath:
    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Count:
    field: FieldPath | None


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, datetime, date, relative, null, boolean
    value: Any
    text: str


@dataclass(frozen=True)
class Comparison:
    field: FieldPath
    op: str  # = != < <= > >= like
    value: Literal


@dataclass(frozen=True)
class InValues:
    field: FieldPath
    values: tuple[Literal, ...] | Query
    negate: bool


@dataclass(frozen=True)
class BoolOp:
    op: str  # and / or
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Comparison | InValues | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    field: FieldPath
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    select: tuple[FieldPath | Count | Query, ...]
    sobject: str
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


class SoqlSyntaxError(ValueError):
    """The text is not valid SOQL (answered as MALFORMED_QUERY)."""


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


def unquote(token: str) -> str:
    """The value of a quoted SOQL string; \\% and \\_ stay escaped for LIKE."""
    out, chars, i = [], token[1:-1], 0
    while i < len(chars):
        char = chars[i]
        if char == "\\" and i + 1 < len(chars):
            nxt = chars[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in "%_":
                out.append("\\" + nxt)
            else:
                raise SoqlSyntaxError(f"Invalid string literal {token}. Illegal character sequence '\\{nxt}'")
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


@v_args(inline=True)
class _ToAst(Transformer):
    def start(self, query: Query) -> Query:
        return query

    def query(self, select: list[Any], sobject: Token, *clauses: Any) -> Query:
        parts: dict[str, Any] = {"where": None, "order_by": (), "limit": None, "offset": None}
        for kind, value in clauses:
            parts[kind] = value
        return Query(tuple(select), str(sobject), **parts)

    def select_list(self, *items: Any) -> list[Any]:
        return list(items)

    def field_path(self, *names: Token) -> FieldPath:
        return FieldPath(tuple(str(n) for n in names))

    def count(self, field: FieldPath | None = None) -> Count:
        return Count(field)

    def subquery(self, query: Query) -> Query:
        return query

    def where(self, condition: Condition) -> tuple[str, Condition]:
        return ("where", condition)

    def and_chain(self, *items: Condition) -> BoolOp:
        return BoolOp("and", items)

    def or_chain(self, *items: Condition) -> BoolOp:
        return BoolOp("or", items)

    def not_(self, item: Condition) -> Not:
        return Not(item)

    def comparison(self, field: FieldPath, op: Token, value: Literal) -> Comparison:
        return Comparison(field, "!=" if op == "<>" else str(op), value)

    def like(self, field: FieldPath, value: Literal) -> Comparison:
        return Comparison(field, "like", value)

    def in_(self, field: FieldPath, values: tuple[Literal, ...] | Query) -> InValues:
        return InValues(field, values, False)

    def not_in(self, field: FieldPath, values: tuple[Literal, ...] | Query) -> InValues:
        return InValues(field, values, True)

    def value_list(self, *values: Literal) -> tuple[Literal, ...]:
        return values

    def semi_join(self, query: Query) -> Query:
        return query

    def string(self, tok: Token) -> Literal:
        return Literal("string", unquote(str(tok)), str(tok))

    def number(self, tok: Token) -> Literal:
        text = str(tok)
        return Literal("number", float(text), text)

    def datetime(self, tok: Token) -> Literal:
        text = str(tok)
        value: datetime = parse_datetime(
            text[:-5] + text[-5:-2] + ":" + text[-2:] if text[-5] in "+-" else text
        )
        return Literal("datetime", value, text)

    def date(self, tok: Token) -> Literal:
        text = str(tok)
        return Literal("date", date.fromisoformat(text), text)

    def relative(self, tok: Token) -> Literal:
        name, _, n = str(tok).upper().partition(":")
        return Literal("relative", (name, int(n) if n else None), str(tok))

    def null(self) -> Literal:
        return Literal("null", None, "null")

    def true(self) -> Literal:
        return Literal("boolean", True, "true")

    def false(self) -> Literal:
        return Literal("boolean", False, "false")

    def order_by(self, *items: OrderItem) -> tuple[str, tuple[OrderItem, ...]]:
        return ("order_by", items)

    def order_item(self, field: FieldPath, *mods: Token) -> OrderItem:
        descending = any(m.type == "DIRECTION" and m.upper() == "DESC" for m in mods)
        nulls_last = any(m.type == "NULLS" and m.upper().endswith("LAST") for m in mods)
        return OrderItem(field, descending, nulls_last)

    def limit(self, tok: Token) -> tuple[str, int]:
        return ("limit", int(tok))

    def offset(self, tok: Token) -> tuple[str, int]:
        return ("offset", int(tok))


_PARSER = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


# Quoted strings and datetime literals are swapped for numbered placeholders before parsing, so the
# (slow) parse of a query shape is done once and reused with other values, e.g. a new watermark.
_LITERAL_RE = re.compile(
    r"'(?:\\.|[^'\\])*'|\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})"
)
_PLACEHOLDER_RE = re.compile(r"^(?:'\x00(\d+)'|1(\d{3})-01-01T00:00:00Z)$")


def parse(text: str) -> Query:
    """The AST of a SOQL query; SoqlSyntaxError with a position-bearing message otherwise."""
    literals: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        literals.append(match.group(0))
        index = len(literals) - 1
        return f"'\x00{index}'" if match.group(0).startswith("'") else f"1{index:03d}-01-01T00:00:00Z"

    template = _LITERAL_RE.sub(placeholder, text)
    if len(literals) > 999:
        return _parse_text(text)
    try:
        shape = _parse_text(template)
    except SoqlSyntaxError:
        return _parse_text(text)  # the error message must quote the original text
    return _bind(shape, literals) if literals else shape


def _bind(node: Any, literals: list[str]) -> Any:
    """`node` with placeholder literals replaced by the real ones."""
    if isinstance(node, Literal):
        match = _PLACEHOLDER_RE.match(node.text)
        if match is None:
            return node
        original = literals[int(match.group(1) or match.group(2))]
        token = Token("STRING" if original.startswith("'") else "DATETIME", original)
        return _ToAst().string(token) if original.startswith("'") else _ToAst().datetime(token)
    if isinstance(node, tuple):
        return tuple(_bind(item, literals) for item in node)
    if isinstance(node, Query | Comparison | InValues | BoolOp | Not):
        changes = {
            f.name: _bind(getattr(node, f.name), literals)
            for f in fields(node)
            if f.name in ("select", "where", "value", "values", "items", "item")
        }
        return replace(node, **changes)
    return node


@lru_cache(maxsize=4096)
def _parse_text(text: str) -> Query:
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        near = f"unexpected token: '{token}'" if token else "unexpected input"
        raise SoqlSyntaxError(f"\n{text}\nERROR at Row:{exc.line}:Column:{exc.column}\n{near}") from None
    try:
        return _ToAst().transform(tree)
    except Exception as exc:  # lark wraps transformer errors in VisitError
        cause = exc.__context__ or exc
        raise SoqlSyntaxError(str(cause)) from None
