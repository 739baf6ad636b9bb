"""Wall time of the quick test suite (`-m "not slow"`) against its 20-second target, and of the
whole suite beside it, on this machine as it is now.

    python benchmarks/quick_suite.py --repeat 3          # quick suite only
    python benchmarks/quick_suite.py --repeat 3 --full   # and the whole suite, for the ratio

Each run is a fresh `pytest -n WORKERS` process, as a developer would type it; the load average
is printed before and after (another job on a 2-core machine moves these numbers by seconds).
The slowest quick tests of the last run are listed: they are the candidates for `slow`. Besides
the tests themselves, every xdist worker pays a fixed cost (Python, pytest, and importing torch
and transformers while collecting, about 8 s on 2 cores), so the target leaves the tests about
10 s of CPU per worker.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 20.0
DURATION = re.compile(r"^\s*([\d.]+)s (call|setup|teardown)\s+(\S+)")
SUMMARY = re.compile(r"(\d+) passed")


def run_suite(marker: str | None, workers: int) -> tuple[float, int, dict[str, float]]:
    """Wall seconds, tests passed and seconds per test (setup + call + teardown) of one run."""
    cmd = [sys.executable, "-m", "pytest", "-n", str(workers), "-q", "-p", "no:cacheprovider"]
    cmd += ["--durations=0", "--durations-min=0"]
    if marker:
        cmd += ["-m", marker]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"pytest failed (exit {out.returncode}):\n{out.stdout[-3000:]}{out.stderr[-2000:]}")
    per_test: dict[str, float] = {}
    for line in out.stdout.splitlines():
        m = DURATION.match(line)
        if m:
            per_test[m.group(3)] = per_test.get(m.group(3), 0.0) + float(m.group(1))
    passed = SUMMARY.search(out.stdout.splitlines()[-1])
    return wall, int(passed.group(1)) if passed else 0, per_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the quick suite (median reported)")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (default 2)")
    parser.add_argument("--full", action="store_true", help="also time the whole suite once")
    parser.add_argument("--top", type=int, default=15, help="slowest quick tests to list")
    args = parser.parse_args()

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, cores: {os.cpu_count()}")
    walls: list[float] = []
    per_test: dict[str, float] = {}
    passed = 0
    for i in range(args.repeat):
        wall, passed, per_test = run_suite("not slow", args.workers)
        walls.append(wall)
        print(f"quick run {i + 1}: {wall:.1f} s, {passed} tests")
    quick = statistics.median(walls)
    verdict = "meets" if quick < TARGET_SECONDS else "MISSES"
    print(f"quick suite: median {quick:.1f} s over {len(walls)} runs ({min(walls):.1f}-{max(walls):.1f}), "
          f"{passed} tests, test time {sum(per_test.values()):.1f} s; {verdict} the {TARGET_SECONDS:.0f} s target")
    if args.full:
        full, full_passed, _ = run_suite(None, args.workers)
        print(f"whole suite: {full:.1f} s, {full_passed} tests; quick / whole = {quick / full:.2f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("slowest quick tests (last run, setup + call + teardown):")
    for name, seconds in sorted(per_test.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {seconds:5.2f} s  {name}")


if __name__ == "__main__":
    main()
