"""The NSS key log (SSLKEYLOGFILE): one line per handshake, appended and flushed at once.

Several connections (threads, or one event loop) may finish handshakes at
the same time; a lock per file keeps their lines whole.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

__all__ = ["key_log_writer"]

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def key_log_writer(path: str | os.PathLike[str]) -> Callable[[str], None]:
    """A `key_log` callback that appends each line to `path`."""
    full = os.path.abspath(os.fspath(path))
    lock = _lock_for(full)

    def write(line: str) -> None:
        with lock, open(full, "a", encoding="ascii") as f:
            f.write(line + "\n")
            f.flush()

    return write
