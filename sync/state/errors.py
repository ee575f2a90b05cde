"""State-store trouble in one sentence: `StateStoreError` and the translation of database errors.

Every engine the state store builds (`sync.state.sql.create_engine`) turns the database errors an admin
can act on — a full disk, a read-only folder, a damaged or foreign file, a database server that is down,
gone or refuses the password — into a `StateStoreError` whose message names the store (password
hidden), says what happened and what to do. The CLI prints that message and exits 2; nothing else in
leadsync needs a try/except for it. Errors that are bugs (integrity, SQL syntax) are left as they are.
"""

from __future__ import annotations

import errno
import re

import sqlalchemy as sa

GONE = ("the database server went away during the run; the run stopped and is recorded as unfinished "
        "(the next run redoes what was in flight): start the database server and run again")
RERUN = "nothing but the batch being recorded was lost: the run can simply be repeated"


class StateStoreError(Exception):
    """The state store cannot be used; the message says why and what to do (never a password)."""


class StateStoreFullError(StateStoreError):
    """The disk (or database) holding the state store is full."""


class StateStoreGoneError(StateStoreError):
    """The database server cannot be reached, or went away during the run."""


# (pattern in the driver's message, class, what it means and what to do). First match wins.
_KINDS: tuple[tuple[re.Pattern[str], type[StateStoreError], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), cls, text) for p, cls, text in (
        (r"database or disk is full|no space left on device|could not extend file|disk full"
         r"|could not write to file|SQLITE_FULL", StateStoreFullError,
         "the disk holding it is full; " + RERUN + " once there is space again"),
        (r"readonly database|read-only (file system|transaction)|read only|permission denied|access denied",
         StateStoreError,
         "it cannot be written (a read-only file or folder, a database or server that takes no writes, or "
         "no permission): make it writable for the user that runs leadsync (SQLite also writes -wal and "
         "-shm files beside the file)"),
        (r"file is not a database|disk image is malformed|file is encrypted|malformed database schema"
         r"|could not decode to utf-8|codec can't decode"
         r"|database corrupt|SQLITE_CORRUPT|SQLITE_NOTADB", StateStoreError,
         "it is damaged or not a SQLite database at all: restore it from a backup, or move it aside "
         "to start afresh (a new store reads both systems in full again)"),
        (r"no such table|no such column|relation \".*\" does not exist|column \".*\" does not exist"
         r"|has no column named", StateStoreError,
         "it lacks tables or columns its schema_version promises: it was changed by hand or by another "
         "program; restore it from a backup, or move it aside to start afresh"),
        (r"disk i/o error|input/output error|SQLITE_IOERR", StateStoreError,
         "the disk reported an I/O error (a failing disk, a removed file, a network file system that "
         "went away): check the disk, then run again"),
        (r"unable to open database file", StateStoreError,
         "the file cannot be opened: check that its folder exists and that the user that runs leadsync "
         "can read and write it"),
        (r"database is locked|database table is locked|SQLITE_BUSY", StateStoreError,
         "another process kept it locked for longer than the busy timeout; try again when that process "
         "has finished"),
        (r"password authentication failed|authentication failed|no password supplied|role .* does not "
         r"exist|pg_hba\.conf", StateStoreError,
         "the database server refused the user name or password: check state.url (or "
         "LEADSYNC_STATE__URL)"),
        (r'database ".*" does not exist|unknown database', StateStoreError,
         "the database named in state.url does not exist: create it, or fix state.url"),
        (r"server closed the connection|terminating connection|connection .*(lost|closed|reset)"
         r"|consuming input failed|ssl syscall|server has gone away|broken pipe|the connection is closed",
         StateStoreGoneError, GONE),
        (r"connection refused|could not connect|connection failed|could not translate host name"
         r"|name or service not known|timeout expired|timed out|no route to host|is the server running"
         r"|the database system is (starting up|shutting down|in recovery mode)", StateStoreGoneError,
         "the database server cannot be reached: check that it is running and that state.url names the "
         "right host and port"),
    )
)

# Database errors that are trouble in the environment, not bugs in leadsync's SQL.
_TRANSLATED = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.InternalError)


def damaged_value(what: str, exc: BaseException) -> StateStoreError:
    """A value the store gave back that cannot be decoded: the file was damaged or edited."""
    detail = f"{type(exc).__name__}: {first_line(exc)[:120]}"
    return StateStoreError(f"state store: {what} cannot be read ({detail}): the store is damaged or "
                           "was edited; restore it from a backup, or move it aside to start afresh (a new "
                           "store reads both systems in full again)")


def first_line(exc: BaseException) -> str:
    """The driver's own message, first line only, without SQLAlchemy's statement and link."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


def describe(exc: BaseException, where: str, *, disconnect: bool = False) -> StateStoreError:
    """A `StateStoreError` for `exc` raised by the state store `where` (a display URL or path);
    `disconnect`: the driver says the connection is gone, whatever its message."""
    detail = first_line(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        detail = "no space left on device"
    for pattern, cls, meaning in _KINDS:
        if pattern.search(detail):
            if disconnect and not issubclass(cls, StateStoreGoneError):
                continue
            return cls(f"state store {where}: {meaning} ({detail})")
    if disconnect:
        return StateStoreGoneError(f"state store {where}: {GONE} ({detail})")
    return StateStoreError(f"state store {where}: {detail}")


def translatable(exc: BaseException, backend: str) -> bool:
    """Whether a database error is environment trouble to put in words (not a bug to show in full).
    SQLite reports its SQL syntax errors as OperationalError too: there only the known words count."""
    if any(pattern.search(first_line(exc)) for pattern, _, _ in _KINDS):
        return isinstance(exc, sa.exc.DBAPIError) and not isinstance(exc, sa.exc.IntegrityError)
    if backend == "sqlite":
        return False
    return isinstance(exc, _TRANSLATED) or type(exc) is sa.exc.DatabaseError
