"""Speed of `mmsy analyze probe` and `mmsy analyze attention` on the reference model.

    python benchmarks/analysis_speed.py --dataset /path/to/mmsy-data --threads 2

Runs both analyses on every probing context (3,000 train + 800 test at the default build
sizes) of the committed reference model in option mode, as the CLI does: round 1, round 2
with the hidden states (probe) or the attention rows (attention) captured, then the per-layer
probes (1,000 bootstrap resamples) or the per-layer means. Prints wall seconds and the
process's CPU seconds: on a machine shared with other jobs, CPU seconds / threads is what the
run would take with the cores to itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning: on cores shared with other jobs, spinning
# threads multiplied the CPU time of a 2-thread run about six-fold (measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmsy_dataset.adapters.registry import load_adapter
from mmsy_dataset.analysis.attention import attention_stats
from mmsy_dataset.analysis.capture import use_eager_attention
from mmsy_dataset.analysis.contexts import collect, load_probing
from mmsy_dataset.analysis.probe import fit_probes
from mmsy_dataset.predictions import ScoringMode

REFERENCE = Path(__file__).resolve().parents[1] / "mmsy_dataset" / "reference" / "weights"


def _timed(label: str, n: int, fn):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label}: {n:,} contexts in {wall:.1f} s wall, {cpu:.1f} s CPU ({n / wall:.0f} contexts/s)", flush=True)
    return out, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="MM-SY folder with the probing config")
    parser.add_argument("--model", default=str(REFERENCE))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None, help="at most N contexts per split")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    mode = ScoringMode.OPTION
    train = load_probing(args.dataset, "train", args.limit)
    test = load_probing(args.dataset, "test", args.limit)
    n = len(train) + len(test)
    adapter = load_adapter(args.model)

    def probe():  # type: ignore[no-untyped-def]
        a = collect(adapter, train, mode, hidden=True, attention=False, batch_size=args.batch_size)
        b = collect(adapter, test, mode, hidden=True, attention=False, batch_size=args.batch_size)
        return fit_probes(a, b, label="base", model=args.model, n_bootstrap=1000)

    result, wall_p, cpu_p = _timed("probe (collect + fit + bootstrap)", n, probe)
    use_eager_attention(adapter)

    def attention():  # type: ignore[no-untyped-def]
        c = collect(adapter, train + test, mode, hidden=False, attention=True, batch_size=args.batch_size)
        return attention_stats(c, label="base", model=args.model, split="all", n_bootstrap=1000)

    stats, wall_a, cpu_a = _timed("attention ratio (collect + means + bootstrap)", n, attention)
    print(f"threads {args.threads}; probe AUC per layer: {[layer.auc for layer in result.layers]}")
    print(f"attention ratio per layer: {[round(m.value or 0, 3) for m in stats.ratio]}")
    for name, wall, cpu in (("probe", wall_p, cpu_p), ("attention", wall_a, cpu_a)):
        print(f"{name}: {wall:.1f} s wall, {cpu / args.threads:.1f} s CPU / {args.threads} threads (<= 120 s wanted)")


if __name__ == "__main__":
    main()
