"""CPU seconds used by other processes on this machine, read from /proc (the benches run
on the server's and the database's machine)."""

from __future__ import annotations

import os


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds (user and system, all threads) used so far by these processes; a
    process gone since is left out."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")
