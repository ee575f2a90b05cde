"""A disk that fills up in the middle of the write-back: the run stops with a sentence (exit 2, no
traceback), only the batch in flight is lost, and once there is space the next run ends with the same
final state as a run that was never interrupted.

The disk is real: the scenario's folder (settings and SQLite state) is a small tmpfs, filled to the
last byte when the second batch of Salesforce fields arrives, before it is answered (root only: it
mounts a file system)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.faults import KINDS, Fault, FaultInjector
from sandbox.launcher import Sandbox
from tests.reliability.broken_state import can_mount, fill, small_disk, squeeze
from tests.reliability.conftest import References
from tests.reliability.harness import Harness
from tests.reliability.state_compare import differences

pytestmark = pytest.mark.skipif(not can_mount(), reason="needs root to mount a small tmpfs")


@pytest.fixture
def disk_harness(rel_box: Sandbox, tmp_path: Path) -> Iterator[Harness]:
    with small_disk(tmp_path / "disk", 64 * 1024) as disk:
        yield Harness(rel_box, disk)
    rel_box.reset(people=0)


class DiskFiller(FaultInjector):
    """On every `endpoint` call once `when()` holds (before the emulator answers it), fill the disk: the
    call lands, and recording it in the state store finds no space. Filled again at each call, because
    SQLite may free space of its own (a WAL checkpointed into free pages of the database, then cut back
    to `journal_size_limit`): the disk stays full, as a disk filled by another program does."""

    def __init__(self, endpoint: str, when: Callable[[], bool], folder: Path) -> None:
        super().__init__()
        self.endpoint, self.when, self.folder = endpoint, when, folder
        self.filler: Path | None = None

    def draw(self, endpoint: str, kinds: tuple[str, ...] = KINDS) -> Fault | None:
        if endpoint == self.endpoint and self.when():
            self.filler = fill(self.folder)
        return super().draw(endpoint, kinds)


def test_disk_full_mid_write_back(disk_harness: Harness, references: References) -> None:
    h = disk_harness
    expected = references.get()
    h.load()
    h.configure()
    h.setup()
    filler = DiskFiller("salesforce.collections",
                        lambda: any(c.get("Lead_Stage__c") for c in h.box.salesforce.store.all("Contact")),
                        h.folder)
    h.box.salesforce.faults = filler  # from the second batch of Salesforce fields on, the disk is full

    full = h.sync_cli("full")
    assert filler.filler is not None, "the run never sent a second batch of fields"
    assert "Traceback" not in full.stderr + full.stdout, full.stderr
    assert full.code == 2, (full.code, full.stderr)
    said = squeeze(full.stderr[full.stderr.index("error:"):])  # after the run's log lines
    for words in (str(h.state_path), "the disk holding it is full", "the run can simply be repeated"):
        assert squeeze(words) in said, full.stderr

    h.box.salesforce.faults = FaultInjector()
    filler.filler.unlink()  # space again
    again = h.sync_cli("again")
    assert again.code == 0 and again.status == "ok", again.stderr
    with h.store() as store:
        first = store.get_run(1)
        assert first is not None and first.status in ("failed", "interrupted")  # the next run knows
    actual = h.capture()
    assert actual.duplicates == ()
    problems = differences(expected, actual, limit=50)
    assert not problems, "\n".join(problems)
