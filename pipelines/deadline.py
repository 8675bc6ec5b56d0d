"""A per-document time limit for CPU-bound work (extraction in a pool worker's main thread).

Plain library: a watchdog thread signals the working thread once its deadline passes, and the
handler raises ``Deadline`` inside the guarded block.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Deadline", "deadline"]


class Deadline(BaseException):
    """Raised from SIGALRM; a BaseException so that no `except Exception` in a library eats it."""


class _Watchdog:
    """One thread per process that sends SIGALRM to the extracting thread once its deadline passes.

    The signal goes to that thread itself: a process-wide alarm (``setitimer``) may be delivered to
    another thread, and CPython then runs the handler only when something else wakes the main
    thread. Past the deadline it is sent again every ``_REALARM`` seconds: a handler that happens
    to run inside a weakref callback or ``__del__`` has its exception swallowed as "unraisable",
    and the next one interrupts the work.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: tuple[float, int] | None = None
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, target: int) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():  # first use, or after a fork
                self._thread = threading.Thread(
                    target=self._run, name="extraction-deadline", daemon=True
                )
                self._thread.start()
            self._due = (time.monotonic() + seconds, target)
            self._cond.notify()

    def disarm(self) -> None:
        # Signals are only sent with the lock held: once this returns, none is on its way.
        with self._cond:
            self._due = None
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                if self._due is None:
                    self._cond.wait()
                    continue
                due, target = self._due
                if (left := due - time.monotonic()) > 0:
                    self._cond.wait(left)
                    continue
                signal.pthread_kill(target, signal.SIGALRM)
                self._cond.wait(_REALARM)


_REALARM = 0.05
_WATCHDOG = _Watchdog()


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread of a process only; no-op elsewhere).

    The handler raises only while the block runs, so an alarm that lands during clean-up cannot
    escape it. A previous Python handler is put back; a default one is not, since a late alarm
    would then end the process: SIGALRM stays handled (and ignored) from the first use on.
    """
    if (
        not seconds
        or not hasattr(signal, "pthread_kill")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    armed = [True]

    def _on_alarm(signum, frame):
        if armed[0]:
            raise Deadline

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        try:
            _WATCHDOG.arm(seconds, threading.get_ident())
            yield
        finally:
            armed[0] = False
    finally:
        _WATCHDOG.disarm()
        if callable(previous):
            signal.signal(signal.SIGALRM, previous)
