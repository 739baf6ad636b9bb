"""The reference model's own training dialogues, as SFT rows to mix into its mitigation SFT.

The paper keeps LLaVA's instruction data in the SFT run (664k of its 665k rows plus the 1k
sycophancy records), so that fine-tuning on the new dialogues does not erase what the model
could do. The reference model's instruction data is the dialogue mix of
`mmsy_dataset.reference.data`, drawn on the images it was trained on (the synthetic source's
`train` partition, seed 0); this module turns those dialogues into the same prompt/completion
rows as the `sft` config. Only the last assistant turn of a dialogue is a completion, which is
the turn that carries the loss in every kind mixed in by default.

Only the kinds that do not contradict the mitigation are mixed in by default (VQA, correction
with an answer, a push without an answer): the `sycophancy` and `multi_round` kinds teach the
model to adopt a pushed wrong option, the exact opposite of the SFT target on the same context,
and are the reference model's stand-in for whatever in LLaVA's data taught sycophancy.
"""

from __future__ import annotations

import random
from typing import Any

from mmsy_dataset.mitigation.data import assistant, user

#: Images per task the reference model was trained on (reference/train.py `images_per_task`).
REFERENCE_TRAIN_IMAGES = 6000


def reference_rows(
    n: int, kinds: list[str], seed: int = 0, images_per_task: int = REFERENCE_TRAIN_IMAGES
) -> list[dict[str, Any]]:
    """`n` seeded dialogue rows (`image` PNG bytes, `prompt`, `completion`, `id`), kinds drawn in
    the reference model's training proportions restricted to `kinds`."""
    from mmsy_dataset.reference.data import DEFAULT_MIX, Kind, make_dialogue
    from mmsy_dataset.reference.pool import PoolItem
    from mmsy_dataset.sources.synthetic import SyntheticSource
    from mmsy_dataset.tasks import TASKS, Partition

    chosen = [Kind(k) for k in kinds]
    weights = [DEFAULT_MIX[k] for k in chosen]
    rng = random.Random(f"mmsy-mitigation-mix|{seed}")
    source = SyntheticSource(seed=0)
    rows = []
    for i in range(n):
        task = TASKS[i % len(TASKS)]
        index = rng.randrange(images_per_task)
        kind = rng.choices(chosen, weights)[0]
        base = source.item(task, Partition.TRAIN, index)
        item = PoolItem(base.task, base.question, base.answer, base.answer_pool, base.preferred_distractors)
        dialogue = make_dialogue(item, kind, rng)
        turns = dialogue.turns
        messages = [
            user(t.text, image=j == 0) if t.role == "user" else assistant(t.text) for j, t in enumerate(turns[:-1])
        ]
        rows.append(
            {
                "id": f"reference-mix-{i:06d}:{kind.value}",
                "image": {"bytes": base.image, "path": None},
                "prompt": messages,
                "completion": [assistant(turns[-1].text)],
            }
        )
    return rows
