"""How many CPU threads torch uses, chosen deliberately.

torch's default is one thread per core of the machine, whatever this process may use. On a
shared machine (a container limited to 2 CPUs of 64, a CI runner, a busy workstation) its
OpenMP threads then wait on each other for cores they never get: a tiny forward pass measured
765 ms with 2 threads on a busy 2-core machine against 8.7 ms with 1. Evaluation and training
therefore set the count themselves (`--threads`), by default to the cores this process may
actually run on: its CPU affinity, capped by its cgroup CPU quota. The command line also asks
OpenMP to let idle threads sleep instead of spinning (`OMP_WAIT_POLICY=PASSIVE`, unless already
set): on a busy 2-core machine that took 2 threads from 39-55 ms a forward to 12-20 ms
(`benchmarks/threads.py`, docs/engine.md).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def cgroup_cpus(path: Path = CGROUP_CPU_MAX) -> int | None:
    """CPUs allowed by a cgroup v2 quota (`cpu.max`: "quota period"), None without a quota."""
    try:
        quota, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def available_cores() -> int:
    """Cores this process may run on: its affinity mask, capped by the cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpus()
    return max(1, min(cores, quota) if quota else cores)


def set_torch_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count to `threads` (None: `available_cores()`); returns it."""
    import torch

    count = available_cores() if threads is None else threads
    if count < 1:
        raise ValueError(f"threads: expected >= 1, got {count}")
    torch.set_num_threads(count)
    return count


def prefer_passive_wait() -> bool:
    """Set `OMP_WAIT_POLICY=PASSIVE` unless the user set a policy; OpenMP reads it when torch
    loads, so this must run first. Returns whether it takes effect (torch not yet imported)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return "torch" not in sys.modules


def thread_facts(threads: int) -> dict[str, object]:
    """What run.json records about CPU threads."""
    return {"threads": threads, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
