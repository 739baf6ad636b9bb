"""Dense per-patch labels of synthetic training images, for pre-training the vision tower.

A real LLaVA starts from a CLIP encoder pre-trained on 400 M image-text pairs; ours starts from
random weights and two CPU cores. Trained only through the answer of one question per image, it
never learns to tell glyphs apart: the answer's gradient reaches the image through attention
that does not yet know where to look (`baselines/reference_model/diagnostics.md`). The synthetic
world knows what is where, so every image comes with a label for every patch: which glyph or
shape has its centre there, its tint or fill pattern, whether a red frame surrounds it and, in
counting scenes, how many of its kind there are. A linear head on
the projected image features learns these labels (stage 1 of the recipe, and an auxiliary loss
afterwards); the head is discarded, the committed model is a plain LLaVA.

Labels are a pure function of (seed, partition, task, index), recomputed from the generator
without rendering (about 0.1 ms an item).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

from mmsy_dataset.sources.synthetic.glyphs import COLORS, NUMBERS, PATTERNS
from mmsy_dataset.sources.synthetic.scene import Scene
from mmsy_dataset.tasks import Partition, Task

NONE = 0  # class 0 of every head: nothing centred in this patch

#: Tint classes: none, then the colour words in the world's order.
TINTS: tuple[str, ...] = ("", *COLORS)

#: Count classes: none, then how many things of this kind the scene holds, in words (capped at
#: the largest number a counting question asks about).
COUNTS: tuple[str, ...] = ("", *NUMBERS)

#: Pattern classes: none, then the fill patterns of shapes (an attribute question's answer, read
#: off the shape as a tint is read off a glyph).
PATTERN_CLASSES: tuple[str, ...] = ("", *PATTERNS)


def thing_key(kind: str, *parts: object) -> str:
    return ":".join([kind, *map(str, parts)])


#: Scene roles of the things that carry the answer (the framed or named one, the counted ones,
#: the court's equipment, the majority's activity, the setting's objects) and of a positional
#: question's anchor; the generators assign them (`sources/synthetic`).
ANSWER_ROLES = frozenset({"target", "asked", "counted", "answer", "equipment", "group", "setting"})
ANCHOR_ROLES = frozenset({"anchor"})


def role_class(role: str) -> int:
    """0: not asked about, 1: carries the answer, 2: the object a positional question names."""
    return 1 if role in ANSWER_ROLES else 2 if role in ANCHOR_ROLES else 0


def _scene_things(scene: Scene) -> list[tuple[str, float, float, str, str, str]]:
    out = [(thing_key("glyph", f"{g.code:X}"), g.x, g.y, g.tint, "", g.role) for g in scene.glyphs]
    out += [(thing_key("shape", s.shape, s.pattern), s.x, s.y, "", s.pattern, s.role) for s in scene.shapes]
    return out


def _scene_names(scene: Scene) -> dict[str, str]:
    """The words the questions use for each thing: a glyph's name, a shape's "pattern shape"."""
    names = {thing_key("glyph", f"{g.code:X}"): g.name for g in scene.glyphs}
    names.update({thing_key("shape", s.shape, s.pattern): f"{s.pattern} {s.shape}" for s in scene.shapes})
    return names


def _cell(value: float, grid: int) -> int:
    return min(grid - 1, max(0, int(value * grid)))


Labels = tuple[list[int], list[int], list[int], list[int], list[int], list[int]]


def scene_labels(scene: Scene, grid: int, vocabulary: dict[str, int], counted: bool = True) -> Labels:
    """Flat (thing, tint, framed, role, count, pattern) labels of one scene on a `grid` x `grid`
    patch grid.

    With `counted`, `count` gives every thing the number of things of its kind in the scene
    (`COUNTS` classes): the vision tower, which sees all patches at once, learns to count from a
    label at each of them, so that answering "how many" is a look-up of one image token for the
    language model, like reading a tint. Without it, count is "none" (the recipe's
    `count_everywhere: false`): most things are alone of their kind, and a "one" on all of them
    pulls every image token towards the word a clock face's hour shares; the tied read-out of
    the fourth session's weights said "one o'clock" for every clock (diagnostics.md, fifth session).
    `pattern` is a shape's fill pattern, "none" for glyphs."""
    n = grid * grid
    thing, tint, framed, role = [NONE] * n, [NONE] * n, [0] * n, [0] * n
    count, pattern = [NONE] * n, [NONE] * n
    frames = [b for b in scene.boxes if b.kind == "frame"]
    things = _scene_things(scene)
    kinds = Counter(key for key, *_ in things)
    for key, x, y, colour, fill, part in things:
        cell = _cell(y, grid) * grid + _cell(x, grid)
        thing[cell] = vocabulary[key]
        tint[cell] = TINTS.index(colour) if colour else NONE
        framed[cell] = int(any(b.x0 <= x <= b.x1 and b.y0 <= y <= b.y1 for b in frames))
        role[cell] = role_class(part)
        count[cell] = min(kinds[key], len(COUNTS) - 1) if counted else NONE
        pattern[cell] = PATTERN_CLASSES.index(fill) if fill else NONE
    return thing, tint, framed, role, count, pattern


def pool_labels(
    counts: dict[Task, int],
    partition: Partition,
    grid: int,
    seed: int = 0,
    count_in: Collection[Task] | None = None,
) -> tuple[Any, Any, Any, Any, Any, Any, tuple[str, ...], tuple[str, ...]]:
    """Label tensors (n, grid*grid) thing, tint, framed, role, count and pattern for items
    0..n-1 of each task's stream, in `render_pool` order, then the thing vocabulary (keys) and
    each thing's name in words ("" for none). Counts are labelled in the scenes of `count_in`
    (default: every task's).

    The thing vocabulary is the sorted set of keys seen, so it depends only on the inputs.
    """
    import torch

    from mmsy_dataset.sources.synthetic import SyntheticSource

    source = SyntheticSource(image_size=64, seed=seed)  # the scene does not depend on the size
    scenes = [(task, source.draft(task, partition, i).scene) for task, n in counts.items() for i in range(n)]
    names: dict[str, str] = {}
    for _, scene in scenes:
        names.update(_scene_names(scene))
    keys = sorted(names)
    vocabulary = {key: i + 1 for i, key in enumerate(keys)}
    rows = [scene_labels(scene, grid, vocabulary, count_in is None or task in count_in) for task, scene in scenes]
    grids = [torch.tensor([r[k] for r in rows], dtype=torch.long).view(len(rows), grid * grid) for k in range(6)]
    thing, tint, framed, role, count, pattern = grids
    return thing, tint, framed, role, count, pattern, ("", *keys), ("", *(names[k] for k in keys))


#: The heads `PatchHeads.loss` trains on the image features (role is read off the language model).
LABELLED: tuple[str, ...] = ("thing", "tint", "framed", "count", "pattern")


class PatchHeads:
    """Read-outs of the projected image features; training-only, never saved with the model.

    With `embeddings` (the language model's input embeddings) and the token ids of each class's
    words (`word_ids`, keyed by any of `TIED`), those heads score a patch by its cosine similarity
    to the mean input embedding of the class's words (CLIP-style, with a learned temperature;
    class 0, "none", keeps a linear score). The image token of a balloon is then pulled towards
    the embedding of the word "balloon" the question contains, which is the match the language
    model has to make, and towards its tint's, count's and pattern's words, which the answer copies.

    With `twins`, each tied head also gets a plain linear classifier over the same classes: a
    cosine to the words' mean embedding hardly tells apart classes whose words are nearly the
    same ("eleven o'clock" and "five o'clock"). Trained through the tied heads alone, a clock's
    hour and a count were linearly readable from the features on 36 % and 21 % of the
    benchmark's items; the twins did not change that (run G3, diagnostics.md, fifth session),
    so the recipe leaves them off. `patterns` adds a head for a shape's fill pattern.
    """

    TIED = ("thing", "tint", "count", "pattern")

    def __init__(
        self,
        width: int,
        n_things: int,
        seed: int,
        embeddings: Any = None,
        word_ids: dict[str, list[list[int]]] | None = None,
        twins: bool = False,
        patterns: bool = False,
    ) -> None:
        import math

        import torch

        generator = torch.Generator().manual_seed(seed + 1)
        tied = embeddings is not None and word_ids is not None
        words = set(word_ids or ()) if tied else set()
        if words - set(self.TIED):
            raise ValueError(f"PatchHeads: only {', '.join(self.TIED)} can be tied to words, not {sorted(words)}")
        if "pattern" in words and not patterns:
            raise ValueError("PatchHeads: word ids for the pattern head, which only exists with patterns=True")
        self.module = torch.nn.ModuleDict(
            {
                "thing": torch.nn.Linear(width, 1 if "thing" in words else n_things),
                "tint": torch.nn.Linear(width, 1 if "tint" in words else len(TINTS)),
                "count": torch.nn.Linear(width, 1 if "count" in words else len(COUNTS)),
                "framed": torch.nn.Linear(width, 2),
                "role": torch.nn.Linear(width, 3),
            }
        )
        # Optional heads come last, so that the others draw the same initial weights either way.
        if patterns:
            self.module["pattern"] = torch.nn.Linear(width, 1 if "pattern" in words else len(PATTERN_CLASSES))
        sizes = {"thing": n_things, "tint": len(TINTS), "count": len(COUNTS), "pattern": len(PATTERN_CLASSES)}
        for head in sorted(words) if twins else ():
            self.module[f"{head}_twin"] = torch.nn.Linear(width, sizes[head])
        with torch.no_grad():
            for name, param in self.module.named_parameters():
                if name.endswith("weight"):
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.02)
                else:
                    param.zero_()
        self.embeddings = embeddings if tied else None
        self.words: dict[str, tuple[Any, Any]] = {}
        if tied:
            assert word_ids is not None
            self.scale = torch.nn.Parameter(torch.tensor(math.log(10.0)))
            self.module.register_parameter("scale", self.scale)
            for head, classes in word_ids.items():
                width_ids = max(len(ids) for ids in classes)
                ids = torch.zeros(len(classes), width_ids, dtype=torch.long)
                mask = torch.zeros(len(classes), width_ids)
                for i, row in enumerate(classes):
                    ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
                    mask[i, : len(row)] = 1.0
                self.words[head] = (ids, mask)

    def parameters(self) -> Any:
        return self.module.parameters()

    def logits(self, head: str, features: Any) -> Any:
        import torch
        import torch.nn.functional as F

        if self.embeddings is None or head not in self.words:
            return self.module[head](features)
        ids, mask = self.words[head]
        table = (self.embeddings(ids) * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
        similar = F.normalize(features, dim=-1) @ F.normalize(table, dim=-1).T * self.scale.exp()
        return torch.cat([self.module[head](features), similar], dim=-1)

    def loss(self, features: Any, targets: Sequence[Any]) -> Any:
        """Mean cross-entropy of the thing, tint, frame and count heads (and the pattern head and
        twins when present) over every patch (targets: the label grids in `pool_labels` order);
        features (b, patches, width)."""
        import torch.nn.functional as F

        total, terms = features.new_zeros(()), 0
        grids = dict(zip(LABELLED, (targets[i] for i in (0, 1, 2, 4, 5)), strict=True))
        for head, target in grids.items():
            for name in (head, f"{head}_twin"):
                if name in self.module:
                    logits = self.logits(name, features).flatten(0, 1).float()
                    total, terms = total + F.cross_entropy(logits, target.flatten()), terms + 1
        return total / terms

    def role_loss(self, hidden: Any, target: Any) -> Any:
        """Cross-entropy of the role head on the language model's states at the image tokens.

        The image follows the question, so these states can know what is asked; the label says
        which patch holds the thing that carries the answer (and a positional question's
        anchor). This supervises the one step the answer loss alone did not teach in an hour:
        finding the asked object (`baselines/reference_model/diagnostics.md`).
        """
        import torch.nn.functional as F

        return F.cross_entropy(self.module["role"](hidden).flatten(0, 1).float(), target.flatten())


def word_ids(tokenizer: Any, names: Sequence[str]) -> list[list[int]]:
    """Token ids of each class's words, skipping class 0 ("none")."""
    return [list(tokenizer(name, add_special_tokens=False)["input_ids"]) for name in names[1:]]
