"""`leadsync backfill` without --since: seed the stage history from before the first run, from the
state store only (no API call), and say what could not be reconstructed. The work is in
`sync.run.backfill`. Exit codes: 0 done (also when nothing could be reconstructed), 2 bad
configuration or no state store yet, 3 another run holds the lock."""

from __future__ import annotations

import json

from rich.console import Console

from sync.exit_codes import EXIT_BAD_CONFIG, EXIT_LOCKED, EXIT_OK
from sync.run.backfill import REASONS, BackfillSummary, backfill
from sync.run.lock import LockHeld, RunLock
from sync.settings import ConfigSource
from sync.views.local_state import LocalStateError, open_local_state
from sync.views.terminal import visible


def history_backfill(config: ConfigSource, *, dry_run: bool, as_json: bool,
                     console: Console | None = None) -> int:
    """Run the backfill and print its summary; returns the exit code."""
    out = console or Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        with open_local_state(config) as local:
            if dry_run:
                summary = backfill(local.store, local.mapping, dry_run=True)
            else:
                lock = RunLock(local.store.engine, wait_seconds=local.settings.state.lock_wait_seconds)
                try:
                    lock.acquire()
                except LockHeld as exc:
                    err.print(f"error: {visible(exc)}", markup=False)
                    return EXIT_LOCKED
                try:
                    summary = backfill(local.store, local.mapping)
                finally:
                    lock.release()
    except LocalStateError as exc:
        err.print(visible(exc), markup=False)
        return EXIT_BAD_CONFIG
    if as_json:
        out.print_json(json.dumps(summary.to_dict(), ensure_ascii=False))
    else:
        out.print(render(summary), markup=False)
    return EXIT_OK


def render(summary: BackfillSummary) -> str:
    """The summary in words (what was reconstructed, then what could not be, per reason)."""
    verb = "would reconstruct" if summary.dry_run else "reconstructed"
    run = "" if summary.run_id is None else f" (run #{summary.run_id})"
    lines = [f"Stage history backfill{run}: {summary.people:,} people with a standing; {verb} "
             f"{summary.stage_entries:,} stage entries and {summary.group_entries:,} recycle-group moves "
             f"for {summary.backfilled:,} people; {summary.cycles_seeded:,} recycle cycles dated from "
             f"their loss; {summary.already_backfilled:,} backfilled before (left alone)."]
    if summary.not_reconstructed:
        lines.append("Could not reconstruct (people):")
        width = max(len(f"{n:,}") for n in summary.not_reconstructed.values())
        lines += [f"  {summary.not_reconstructed[k]:>{width},}  {what}" for k, what in REASONS.items()
                  if summary.not_reconstructed[k]]
    if summary.stages_without_date_property:
        lines.append("Lifecycle stages with no date property in HubSpot (custom stages; not read): "
                     + ", ".join(summary.stages_without_date_property))
    return "\n".join(lines)
