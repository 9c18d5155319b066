"""One analytics writer per instance in this process: the watcher's imports, the daily runs and,
under `clientela serve`, the API worker of an instance take turns.

Work on an instance's analytics store goes through `exclusive`: alone, it runs under the
instance's lock; while `clientela serve` runs, the instance's API worker owns the store and the
work is handed to it (`hand_over`), to run between two of its micro-batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
Owner = Callable[[Callable[[], Any]], Any]
"""Runs a piece of work where the store's owner runs, and returns its result."""

_guard = threading.Lock()
_locks: dict[Path, threading.RLock] = {}
_owners: dict[Path, Owner] = {}


def instance_lock(root: Path) -> threading.RLock:
    # Re-entrant: a daily run holds it for its bookkeeping and again for its analytics work.
    with _guard:
        return _locks.setdefault(root.resolve(), threading.RLock())


def hand_over(root: Path, owner: Owner) -> None:
    """From now on, the instance's analytics work runs through `owner`."""
    with _guard:
        _owners[root.resolve()] = owner


def take_back(root: Path) -> None:
    with _guard:
        _owners.pop(root.resolve(), None)


def exclusive(root: Path, work: Callable[[], T]) -> T:
    """`work()` with the instance's analytics store to itself."""
    with _guard:
        owner = _owners.get(root.resolve())
    if owner is not None:
        result: T = owner(work)
        return result
    with instance_lock(root):
        return work()
