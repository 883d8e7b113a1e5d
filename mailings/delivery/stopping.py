"""Graceful SIGTERM for a delivery task run (mailings/delivery/engine.py): the message in hand is finished first."""

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Stop:
    def __init__(self) -> None:
        self.event = threading.Event()
        # SIGTERM arrived and nobody else handles it: the default action is owed once cleanup is done.
        self.default_owed = False

    def is_set(self) -> bool:
        return self.event.is_set()

    def deliver_default(self) -> None:
        """Terminate as SIGTERM's default action would, after the run was re-enqueued or finished."""
        if self.default_owed:
            self.default_owed = False
            os.kill(os.getpid(), signal.SIGTERM)


@contextmanager
def graceful_sigterm() -> Iterator[Stop]:
    """Finish the message in hand on SIGTERM, then stop (db_worker's own handler still runs).

    With no other handler the default action is not taken here but owed (`stop.deliver_default()`),
    so that the caller re-enqueues or finishes the run first.
    """
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.event.set()
        if callable(previous):
            # db_worker's handler: clears its loop flag; exits at once only on a second signal.
            previous(signum, frame)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield stop
    finally:
        # getsignal() gives None for a handler installed outside Python: fall back to the default.
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        if stop.is_set() and previous == signal.SIG_DFL:
            stop.default_owed = True
