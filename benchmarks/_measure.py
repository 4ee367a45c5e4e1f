"""What every benchmark script measures the same way: peak memory and the machine's load."""

from __future__ import annotations

import os
import resource
import sys

__all__ = ["load_average", "peak_rss_mb"]


def peak_rss_mb() -> float:
    """High-water mark of this process's resident memory, in MB.

    Linux's ``VmHWM`` counts from this program's ``exec``; ``ru_maxrss`` would start at
    the parent's resident size at ``fork`` (the kernel carries it over), mixing peaks.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # not Linux
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 1024)


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as printed next to every timing."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
