"""One analytics writer per instance in this process: the watcher's imports and the daily runs
of an instance take turns."""

from __future__ import annotations

import threading
from pathlib import Path

_guard = threading.Lock()
_locks: dict[Path, threading.Lock] = {}


def instance_lock(root: Path) -> threading.Lock:
    with _guard:
        return _locks.setdefault(root.resolve(), threading.Lock())
