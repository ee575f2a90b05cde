"""A run's peak memory does not grow with the number of people (issue 12): the same first sync, no-op
sync and report over a small and a three times larger book, each in its own process under tracemalloc,
peak compared. With `sync.people_per_chunk` small, the working set (one range of people, the write
batches, the clients) is the same at both sizes, except the lists' write buffers (see SLOPE); what
grew with people before (every person resolved at once, every deal's emails in a set) shows as 10 KB
and more per person. The RSS at 100,000 and more people is measured by `benchmarks/bench_e2e.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox
from sandbox.salesforce import rest as sf_rest
from sandbox.settings_toml import dumps_toml

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
CHUNK = 25  # people per range: far below both book sizes
SMALL = 600  # enough for full write batches too (200 Salesforce records per sObject Collections call)
LARGE = 3 * SMALL
# Bytes of peak per extra person, at most. Holding everyone cost 10-17 KB per person here (the code
# before: 5.4 -> 14.5 MB first sync, 6.4 -> 22.0 MB no-op over 300 -> 1,200 people); a streaming run
# grows only until its fixed buffers fill (HubSpot list adds are sent 500 per list, campaign adds 200
# at a time whatever their campaigns; the Salesforce run cache of contact values, read with the deals,
# holds at most 500,000 contacts: their editable fields only, ~100 B each), about 1.5 KB per person here,
# 0 beyond.
SLOPE = 3 * 1024

# In the child: setup untraced, then each command under tracemalloc, the peaks printed as JSON (the
# report's JSON goes to stdout first: the peaks are the last line).
CHILD = """
import json, sys, tracemalloc
from sync.cli.main import app
config, now = sys.argv[1], sys.argv[2]

def run(*args):
    try:
        app(args=[*args, "--config", config], standalone_mode=True)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise SystemExit(f"{args[0]} exited {exc.code}")

run("setup")
peaks = []
for args in (["sync"], ["sync"], ["report", "--json"]):  # the first sync, a no-op sync, the report
    tracemalloc.start()
    run(*args, "--now", now)
    peaks.append(tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()
print(json.dumps(peaks))
"""


def _peaks(box: Sandbox, folder: Path, people: int) -> list[int]:
    box.reset(people=people, seed=3, now=NOW)
    folder.mkdir()
    settings = box.settings_dict(f"sqlite:///{folder / 'state.db'}")
    settings.setdefault("sync", {})["people_per_chunk"] = CHUNK
    config = folder / "settings.toml"
    config.write_text(dumps_toml(settings), encoding="utf-8")
    config.chmod(0o600)
    out = subprocess.run([sys.executable, "-c", CHILD, str(config), NOW.isoformat()], cwd=folder,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    peaks = json.loads(out.stdout.strip().splitlines()[-1])
    return [int(p) for p in peaks]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_peak_memory_of_a_run_does_not_grow_with_people(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Salesforce pages of 200 rows (it may answer fewer rows than asked, never more): both books
    # then fill every page, batch and range, so the fixed working set is reached at both sizes
    monkeypatch.setattr(sf_rest, "PAGE_SIZE", 200)
    with Sandbox.start(people=0, workdir=tmp_path / "box") as box:
        small = _peaks(box, tmp_path / "small", SMALL)
        large = _peaks(box, tmp_path / "large", LARGE)
    print(f"tracemalloc peaks (first sync, no-op, report): {SMALL} people {small}, "
          f"{LARGE} people {large}")
    for few, many in zip(small, large, strict=True):
        per_person = (many - few) / (LARGE - SMALL)
        assert per_person < SLOPE, (small, large, per_person)
