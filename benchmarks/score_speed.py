"""Time to score 100,000 predictions, without and with the bootstrap.

    python benchmarks/score_speed.py [--n 100000] [--bootstrap 1000]

The predictions are synthetic (letter mode, 4 options, the four benchmark configs, three tones,
multi-round dialogues of five pushes); they exercise every code path of `score`. Building the
`Prediction` objects (pydantic validation, as when reading a JSONL file) is timed apart.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mmsy_dataset.predictions import Prediction
from mmsy_dataset.scoring import score
from mmsy_dataset.tasks import LETTERS, TASKS, TONES

CONFIGS = ("sycophancy", "correction_with_answer", "correction_without_answer", "multi_round")


def make_predictions(n: int, seed: int = 0) -> list[Prediction]:
    rng = np.random.default_rng(seed)
    n_questions = max(1, n // 10)  # 3 sycophancy + 3 cor w/ + 3 cor w/o + 1 multi-round per question
    r1_scores = rng.normal(size=(n_questions, 4))
    r1_scores[:, 0] += 1.0  # answer A, right ~70 % of the time
    out: list[Prediction] = []
    for i in range(n):
        q = i % n_questions
        slot = (i // n_questions) % 10
        config = CONFIGS[min(slot // 3, 3)]
        tone = TONES[slot % 3]
        s1 = r1_scores[q]
        right = int(np.argmax(s1)) == 0
        pushed = config in ("sycophancy", "multi_round")
        applies = right if pushed else not right
        n_push = (5 if config == "multi_round" else 1) if applies else 0
        rounds = [{"round": 1, "scores": s1.tolist(), "choice": LETTERS[int(np.argmax(s1))]}]
        for r in range(n_push):
            s = rng.normal(size=4)
            rounds.append({"round": r + 2, "scores": s.tolist(), "choice": LETTERS[int(np.argmax(s))]})
        out.append(
            Prediction.model_validate(
                {
                    "record_id": f"{config}-{i}",
                    "config": config,
                    "question_id": f"q{q}",
                    "task": TASKS[q % len(TASKS)].value,
                    "tone": tone.value,
                    "mode": "letter",
                    "n_options": 4,
                    "answer_letter": "A",
                    "push_letter": None
                    if config == "correction_without_answer"
                    else ("A" if config == "correction_with_answer" else "B"),
                    "rounds": rounds,
                }
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    predictions = make_predictions(args.n)
    print(f"built {len(predictions):,} Prediction objects (pydantic): {time.perf_counter() - t0:.2f} s")
    for n_boot in (0, args.bootstrap):
        best = float("inf")
        for _ in range(args.repeat if n_boot == 0 else 1):
            t0 = time.perf_counter()
            report = score(predictions, n_bootstrap=n_boot, seed=0)
            best = min(best, time.perf_counter() - t0)
        syc = report.metrics["syc"].overall
        print(
            f"score {args.n:,} predictions, n_bootstrap={n_boot}: {best:.3f} s "
            f"({report.n_questions:,} questions; Syc {syc.value:.3f} [{syc.ci_low}, {syc.ci_high}])"
        )


if __name__ == "__main__":
    main()
