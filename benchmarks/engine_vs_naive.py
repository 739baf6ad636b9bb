"""Engine vs. a naive per-dialogue loop, in one process, same tiny LLaVA, same records.

    python benchmarks/engine_vs_naive.py --questions 8 --mode letter

Prints dialogues per second for both, the speed-up, the largest difference between their
scores (the engine must agree with the naive loop within 1e-4), and tokens run through the
model against the minimum (every distinct token prefix once: what a perfect prefix cache would
compute). The defaults are the recorded measurement's (docs/benchmarks.md): 1 torch thread,
best of 5.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmsy_dataset.api.scorer import TokenStats
from mmsy_dataset.engine.naive import naive_run
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.predictions import ScoringMode
from tests.engine.helpers import QUESTIONS, make_records, minimum_tokens, tiny_adapter


def max_score_difference(dialogues: list[Any], naive: list[Any], mode: ScoringMode) -> float:
    """Largest absolute difference between the two runs' scores, over every round of every record."""
    by_id = {p.record_id: p for p in naive}
    worst = 0.0
    for dialogue in dialogues:
        mine = dialogue.prediction(mode)
        theirs = by_id[mine.record_id]
        assert [t.round for t in mine.rounds] == [t.round for t in theirs.rounds], mine.record_id
        for a, b in zip(mine.rounds, theirs.rounds, strict=True):
            pairs = zip(a.scores or [], b.scores or [], strict=True)
            worst = max(worst, *(0.0 if x == y else abs(x - y) for x, y in pairs))  # -inf == -inf
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--rounds", type=int, default=5, help="pushes per multi-round record")
    parser.add_argument("--mode", choices=("letter", "option"), default="letter")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="best of N timings (shared CPUs are noisy)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    mode = ScoringMode(args.mode)
    adapter = tiny_adapter()
    records = make_records(n_questions=args.questions, rounds=args.rounds)
    naive_run(adapter, records[:2], mode)  # warm-up: first-call costs out of both timings
    Engine(adapter, mode).run(records[:2])

    t_engine = t_naive = float("inf")
    for _ in range(args.repeat):
        engine = Engine(adapter, mode, batch_size=args.batch_size)
        start = time.perf_counter()
        dialogues = engine.run(records)
        t_engine = min(t_engine, time.perf_counter() - start)
        stats = TokenStats()
        start = time.perf_counter()
        naive = naive_run(adapter, records, mode, stats=stats)
        t_naive = min(t_naive, time.perf_counter() - start)

    n = len(records)
    minimum = minimum_tokens(adapter, dialogues, mode)
    print(f"records: {n} dialogues on {args.questions} questions, mode {mode.value}, "
          f"batch {args.batch_size}, {torch.get_num_threads()} threads")
    print(f"engine: {n / t_engine:8.1f} dialogues/s  ({t_engine:.2f} s, {engine.stats.forwards} forwards)")
    print(f"naive : {n / t_naive:8.1f} dialogues/s  ({t_naive:.2f} s, {stats.forwards} forwards)")
    print(f"speed-up: {t_naive / t_engine:.1f}x")
    worst = max_score_difference(dialogues, naive, mode)
    print(f"scores: largest |engine - naive| {worst:.2e} ({'within' if worst <= 1e-4 else 'OVER'} 1e-4)")
    print(f"tokens: minimum {minimum}; engine {engine.stats.tokens_real} real "
          f"({engine.stats.tokens_real / minimum:.2f}x), {engine.stats.tokens_padded} with padding; "
          f"naive {stats.real} ({stats.real / minimum:.2f}x)")
    print(f"KV cache: at most {engine.stats.kv_peak_tokens} tokens held at once (prefix trees of a chunk)")


if __name__ == "__main__":
    main()
