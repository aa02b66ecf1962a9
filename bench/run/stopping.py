"""Ctrl-C (SIGINT) and SIGTERM stop a run the same way: workers stop, finished jobs are kept,
and the exit code is 128 + the signal's number (130, 143), as a shell reports a process the
signal killed."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from bench.errors import BenchError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BenchError):
    """The user stopped the run; finished jobs are kept."""

    exit_code = 128 + signal.SIGINT

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class StopSignals:
    """Within this block the first SIGINT or SIGTERM raises KeyboardInterrupt; later ones are
    ignored, so the clean stop it starts is not cut short. Only in the main thread."""

    def __init__(self) -> None:
        self.received = signal.SIGINT  # a KeyboardInterrupt raised by other means
        self.previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self.previous = {sig: signal.signal(sig, self._stop) for sig in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.received = signal.Signals(signum)
        for sig in self.previous:
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt

    def interrupted(self, kept: int, total: int) -> Interrupted:
        """The error to end the run with: how many jobs are finished and kept."""
        what = f"stopped by {self.received.name}"
        if self.received == signal.SIGINT:
            what = "interrupted"
        return Interrupted(
            f"{what}: {kept} of {total} jobs are finished and kept; "
            "run the same command again to do the rest",
            self.received,
        )
