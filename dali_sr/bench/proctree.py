"""CPU time and memory of this process and its descendants (DataLoader workers), read from /proc.

A process's CPU time covers all its threads (DALI's and the decode pool's included). The
tree's CPU time is this process's (`time.process_time`, exact) plus utime + stime of every
live descendant from `/proc/<pid>/stat` (clock ticks, 10 ms).
"""
from __future__ import annotations

import os
import time
from typing import Optional, Sequence

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> Optional[list[str]]:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, ...); None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def tree(root: Optional[int] = None) -> list[int]:
    """`root` (default: this process) and all its live descendants."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        fields = _stat(int(name)) if name.isdigit() else None
        if fields:
            children.setdefault(int(fields[1]), []).append(int(name))
    out = [root or os.getpid()]
    for pid in out:  # grows while walking: breadth-first
        out.extend(children.get(pid, ()))
    return out


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds used so far by the live processes of `pids`."""
    ticks, own = 0, 0.0
    for pid in pids:
        if pid == os.getpid():
            own = time.process_time()
        elif fields := _stat(pid):
            ticks += int(fields[11]) + int(fields[12])
    return own + ticks / _TICKS


def memory_mib(pid: int, field: str = "VmRSS") -> float:
    """A memory line of /proc/<pid>/status in MiB: `VmRSS` (now) or `VmHWM` (peak); 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def settle(pids: Sequence[int], step: float = 0.1, busy: float = 0.02, limit: float = 10.0) -> None:
    """Wait (up to `limit` s) until `pids` use under `busy` CPU-s per `step` s: prefetch queues are full."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        before = cpu_seconds(pids)
        time.sleep(step)
        if cpu_seconds(pids) - before < busy:
            return
