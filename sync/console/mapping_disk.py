"""The mapping file on disk, as the console's editor reads and writes it: its text (as every command
reads it: UTF-8, a BOM dropped), a digest a form carries to detect a file changed since it was shown,
and an atomic write (a temporary file in the same folder, the file's permissions, `os.replace`)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from sync.inputs import read_text


def read(path: Path) -> str:
    """The file's text; newlines as `\\n`. Raises `sync.inputs.InputProblem` naming the file."""
    return read_text(path)


def digest(text: str) -> str:
    """What a form carries of the text it was built from (sha256, hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Replace the file's content with `text` (UTF-8, `\\n` newlines) in one step: a reader sees the old
    file or the new one, never half of it. The new file keeps the old one's permission bits."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
