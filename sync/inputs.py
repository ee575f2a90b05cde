"""What the admin hands leadsync besides settings: the mapping file, other text files, and instants
given on the command line (`--now`, `--since`, `--until`).

Every problem is an `InputProblem` whose message names the file (and line) or the option, ready to
print. The CLI, the run context and the offline views all load through here; `mappings` stays pure
(no file I/O, no clock).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from mappings import DEFAULT_MAPPING_RESOURCE, Mapping, load_mapping_text

DEFAULT_MAPPING_LABEL = "mappings/default.toml"


class InputProblem(ValueError):
    """A file or option value could not be read or parsed; the message is ready to print."""


def read_text(path: Path) -> str:
    """The file's text (UTF-8, BOM allowed). Raises InputProblem naming the file when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is not content
    except FileNotFoundError:
        raise InputProblem(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputProblem(f"{path}: is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise InputProblem(f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                           "save the file as UTF-8") from None
    except OSError as exc:
        raise InputProblem(f"{path}: cannot read: {exc.strerror}") from None


def load_mapping_file(path: Path | None) -> Mapping:
    """Load `path`, or the bundled default mapping when None. Raises MappingError / InputProblem."""
    if path is None:
        text = resources.files("mappings").joinpath(DEFAULT_MAPPING_RESOURCE).read_text(encoding="utf-8")
        return load_mapping_text(text, DEFAULT_MAPPING_LABEL)
    return load_mapping_text(read_text(path), str(path))


def parse_instant(text: str, option: str) -> datetime:
    """An ISO date (midnight) or date-time given for `option`; a value without a zone is UTC.
    Raises InputProblem naming the option."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputProblem(
            f'{option}: "{text}" is not an ISO date or date-time (e.g. 2026-05-01 or 2026-05-01T09:00:00Z)'
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def parse_now(text: str | None) -> datetime:
    """`--now`: the instant given, or the current time when None."""
    return datetime.now(UTC) if text is None else parse_instant(text, "--now")
