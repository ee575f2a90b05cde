"""SIGINT/SIGTERM during one run (`sync`, `backfill`, `failures retry`): a clean stop, then at once.

The first signal (Ctrl-C, or the SIGTERM systemd and Kubernetes send) sets a stop event; the runner
checks it between batches and between read chunks, so the batch in flight is finished and checkpointed
and the run is recorded `interrupted`. A second SIGINT raises KeyboardInterrupt at once: the write
intents recorded before each batch make that safe (the next run reconciles what may have landed). A
second SIGTERM changes nothing (a supervisor that wants the process gone sends SIGKILL after its grace
period), and so does a third Ctrl-C while the process is on its way out.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any


class StopOnSignal:
    """Context manager: installs the handlers (main thread only); on exit restores the previous ones
    (`restore`; a command that exits right after keeps them, so a late Ctrl-C cannot cut its last words).

    `event` is the stop event to hand to the run; `received` names the first signal (e.g. "SIGTERM")."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, event: threading.Event | None = None, *, restore: bool = True) -> None:
        self.event = event or threading.Event()
        self.received: str | None = None
        self.restore = restore
        self._previous: dict[int, Any] = {}

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if (self.received is not None or self.event.is_set()) and signum == signal.SIGINT:
            if not self.restore:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            raise KeyboardInterrupt
        if self.received is None:
            self.received = signal.Signals(signum).name
        # Not `self.event.set()` here: it takes the event's lock (a plain Lock), which this thread may be
        # holding (the first lines of Event.wait) when the signal lands: the handler would wait on its own
        # thread for ever (a `leadsync schedule` sleeping on after SIGTERM, once in CI). A helper thread
        # sets it, at once or as soon as this thread lets go of the lock.
        setter = threading.Thread(target=self.event.set, name="leadsync-stop", daemon=True)
        setter.start()
        setter.join(0.5)

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self.handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            if self.restore:
                signal.signal(sig, previous)
        self._previous.clear()
