"""The exit codes of every `leadsync` command (README "Exit codes"; schedulers and Dagster read them).

0  ok (also: a dry run, a report, a person found)
1  the run stopped or some records failed (budget, signal, lost lock, refused records): running again
   is the remedy
2  bad configuration or input (settings, mapping, credentials, --now, a state store that cannot be used,
   a run id or person that is not there...): a person must fix something
3  another run holds the lock
130 a second Ctrl-C stopped a run at once (the first one asks for a clean stop after the batch: exit 1)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RECORD_FAILURES = 1
EXIT_NOT_FOUND = 2  # `runs show ID`, `mappings explain EMAIL`: bad input, like any other
EXIT_BAD_CONFIG = 2
EXIT_LOCKED = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
