"""What the benchmarks measure the same way."""

from __future__ import annotations

from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB. `getrusage`'s maximum is kept across `exec`,
    so a phase started by a parent that once held 8 GB would report the parent's 8 GB; the
    kernel's VmHWM belongs to this process's own memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: the benchmarks need Linux")
