"""Print how well a text-only scorer answers each synthetic task (it should stay near chance).

    python benchmarks/blind_check.py --train 2000 --test 1000 --image-size 64

The scorer sees the question and the options, never the image; see
`mmsy_dataset.sources.synthetic.blind` for what it learns from.
"""

from __future__ import annotations

import argparse

from mmsy_dataset.sources.synthetic import SyntheticSource
from mmsy_dataset.sources.synthetic.blind import blind_accuracy
from mmsy_dataset.tasks import TASKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=2000, help="training-partition items per task")
    parser.add_argument("--test", type=int, default=1000, help="benchmark-partition items per task")
    parser.add_argument("--image-size", type=int, default=64, help="rendering size (does not affect text)")
    parser.add_argument("--seed", type=int, default=0, help="source seed")
    args = parser.parse_args()
    source = SyntheticSource(image_size=args.image_size, seed=args.seed)
    print("| task | blind accuracy | chance | margin |")
    print("|---|---|---|---|")
    for task in TASKS:
        r = blind_accuracy(source, task, n_train=args.train, n_test=args.test, seed=args.seed)
        print(f"| {task.value} | {r.accuracy:.3f} | {r.chance:.2f} | {r.accuracy - r.chance:+.3f} |")


if __name__ == "__main__":
    main()
