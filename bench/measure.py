"""What the benchmarks measure the same way."""

from __future__ import annotations

import sys
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB. `getrusage`'s maximum is kept across `exec`,
    so a phase started by a parent that once held 8 GB would report the parent's 8 GB; the
    kernel's VmHWM belongs to this process's own memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: the benchmarks need Linux")


class _DevelopmentOnly:
    """Finds nothing for the modules only the development environment has."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the bench)",
                                      name=name)


def as_installed() -> None:
    """Run this process as an installed Clientela would: without pandas, which only the
    development environment has (for the pandas comparison). DuckDB imports pandas when it
    can, on a first `register`, and that import (~0.2 s) is not what a user's run pays."""
    sys.meta_path.insert(0, _DevelopmentOnly(frozenset({"pandas"})))
