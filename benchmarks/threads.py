"""Time of one tiny forward pass against torch's thread count, on this machine as it is now.

    python benchmarks/threads.py --threads 1 2 --repeat 200

Each setting runs in a fresh process (OpenMP reads its settings once): the tiny LLaVA of the
tests, one prefill of a round-1 prompt with its image, median and 90th percentile over
`--repeat` calls after a warm-up. On a shared machine, compare with another job running.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(threads: int | None, repeat: int) -> dict[str, float | int]:
    """Median and p90 milliseconds of one prefill, in this process."""
    import torch

    sys.path.insert(0, str(ROOT))
    from mmsy_dataset.engine.kv import prefill
    from mmsy_dataset.threads import set_torch_threads
    from tests.adapters.families import CONV
    from tests.engine.helpers import png, tiny_adapter

    used = set_torch_threads(threads)
    adapter = tiny_adapter()
    ids = adapter.encode(CONV).input_ids
    pixels = adapter.image_inputs([png((200, 30, 30))])
    times = []
    with torch.no_grad():
        for i in range(repeat + 10):
            start = time.perf_counter()
            prefill(adapter, [ids], pixels)
            if i >= 10:
                times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return {"threads": used, "median_ms": statistics.median(times), "p90_ms": times[int(0.9 * len(times))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="counts to compare (0: the default)")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child or None, args.repeat)))
        return
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    print(f"load average {os.getloadavg()[0]:.1f}, {len(os.sched_getaffinity(0))} cores in the affinity mask")
    for threads in args.threads:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(threads), "--repeat", str(args.repeat)],
            env=env, check=True, capture_output=True, text=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"threads {row['threads']}: median {row['median_ms']:.1f} ms, p90 {row['p90_ms']:.1f} ms")


if __name__ == "__main__":
    main()
