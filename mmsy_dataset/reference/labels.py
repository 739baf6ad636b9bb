"""Dense per-patch labels of synthetic training images, for pre-training the vision tower.

A real LLaVA starts from a CLIP encoder pre-trained on 400 M image-text pairs; ours starts from
random weights and two CPU cores. Trained only through the answer of one question per image, it
does not learn to tell glyphs apart: the answer's gradient reaches the image through attention
that does not yet know where to look (`docs/reference_model_findings.md`). The synthetic world
knows what is where, so every image comes with a label for every patch: which glyph or shape
has its centre there, its tint, whether a red frame surrounds it, whether it carries the answer
and how many things of its kind the scene holds. Heads on the projected image features learn
these labels (stage 1 of the recipe, and an auxiliary loss afterwards); the heads are
discarded, the committed model is a plain LLaVA.

Labels are a pure function of (seed, partition, task, index), recomputed from the generator
without rendering (about 0.1 ms an item).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar, cast

from mmsy_dataset.sources.synthetic.glyphs import COLORS, NUMBERS
from mmsy_dataset.sources.synthetic.scene import Scene
from mmsy_dataset.tasks import Partition, Task

NONE = 0  # class 0 of every head: nothing centred in this patch

#: Tint classes: none, then the colour words in the world's order.
TINTS: tuple[str, ...] = ("", *COLORS)

#: Count classes: none, then how many things of this kind the scene holds, in words (capped at
#: the largest number a counting question asks about).
COUNTS: tuple[str, ...] = ("", *NUMBERS)


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


G = TypeVar("G")


@dataclass(frozen=True)
class PatchLabels(Generic[G]):
    """One label per patch and kind: a list per scene (`scene_labels`), an (images, patches)
    tensor per pool (`pool_labels`). Every field's class 0 is "nothing centred here"; iterating
    gives the fields in order."""

    #: Index of the thing centred in the patch in the pool's thing vocabulary.
    thing: G
    #: Its tint (`TINTS`).
    tint: G
    #: 1 when a red frame surrounds it.
    framed: G
    #: `role_class` of its scene role: whether it carries the answer or anchors the question.
    role: G
    #: How many things of its kind the scene holds (`COUNTS`).
    count: G

    def __iter__(self) -> Iterator[G]:
        return iter((self.thing, self.tint, self.framed, self.role, self.count))

    def rows(self, index: Any) -> PatchLabels[Any]:
        """The label tensors of the pool rows `index` (a batch)."""
        return PatchLabels(*(cast(Any, grid)[index] for grid in self))


class PoolLabels(NamedTuple):
    """`pool_labels`: the patch labels of a pool and its thing vocabulary."""

    patches: PatchLabels[Any]
    #: Thing keys by class ("" for none), sorted: the classes of `PatchLabels.thing`.
    vocabulary: tuple[str, ...]
    #: Each thing class's name in the questions' words ("" for none).
    names: tuple[str, ...]


def _scene_things(scene: Scene) -> list[tuple[str, float, float, str, str]]:
    out = [(thing_key("glyph", f"{g.code:X}"), g.x, g.y, g.tint, g.role) for g in scene.glyphs]
    out += [(thing_key("shape", s.shape, s.pattern), s.x, s.y, "", s.role) for s in scene.shapes]
    return out


def _scene_names(scene: Scene) -> dict[str, str]:
    """The words the questions use for each thing: a glyph's name, a shape's "pattern shape"."""
    names = {thing_key("glyph", f"{g.code:X}"): g.name for g in scene.glyphs}
    names.update({thing_key("shape", s.shape, s.pattern): f"{s.pattern} {s.shape}" for s in scene.shapes})
    return names


def _cell(value: float, grid: int) -> int:
    return min(grid - 1, max(0, int(value * grid)))


def scene_labels(scene: Scene, grid: int, vocabulary: dict[str, int]) -> PatchLabels[list[int]]:
    """The labels of one scene on a `grid` x `grid` patch grid, at each thing's centre patch.

    `count` gives every thing the number of things of its kind in the scene: the vision tower,
    which sees all patches at once, learns to count from a label at each of them, so that
    answering "how many" is a look-up of one image token for the language model, like reading
    a tint."""
    n = grid * grid
    labels = PatchLabels([NONE] * n, [NONE] * n, [0] * n, [0] * n, [NONE] * n)
    frames = [b for b in scene.boxes if b.kind == "frame"]
    things = _scene_things(scene)
    kinds = Counter(key for key, *_ in things)
    for key, x, y, colour, part in things:
        cell = _cell(y, grid) * grid + _cell(x, grid)
        labels.thing[cell] = vocabulary[key]
        labels.tint[cell] = TINTS.index(colour) if colour else NONE
        labels.framed[cell] = int(any(b.x0 <= x <= b.x1 and b.y0 <= y <= b.y1 for b in frames))
        labels.role[cell] = role_class(part)
        labels.count[cell] = min(kinds[key], len(COUNTS) - 1)
    return labels


def pool_labels(counts: dict[Task, int], partition: Partition, grid: int, seed: int = 0) -> PoolLabels:
    """Label tensors (n, grid*grid) of items 0..n-1 of each task's stream, in `render_pool`
    order, with the thing vocabulary: the sorted set of keys seen, so it depends only on the
    inputs."""
    import torch

    from mmsy_dataset.sources.synthetic import SyntheticSource

    source = SyntheticSource(image_size=64, seed=seed)  # the scene does not depend on the size
    scenes = [source.draft(task, partition, i).scene for task, n in counts.items() for i in range(n)]
    names: dict[str, str] = {}
    for scene in scenes:
        names.update(_scene_names(scene))
    keys = sorted(names)
    vocabulary = {key: i + 1 for i, key in enumerate(keys)}
    rows = [list(scene_labels(scene, grid, vocabulary)) for scene in scenes]
    patches = PatchLabels(
        *(torch.tensor([r[k] for r in rows], dtype=torch.long).view(len(rows), grid * grid) for k in range(5))
    )
    return PoolLabels(patches, ("", *keys), ("", *(names[k] for k in keys)))


#: The heads `PatchHeads.loss` trains on the image features (role is read off the language model).
LABELLED: tuple[str, ...] = ("thing", "tint", "framed", "count")


class PatchHeads:
    """Read-outs of the projected image features; training-only, never saved with the model.

    The thing, tint and count heads (`TIED`) score a patch by its cosine similarity to the mean
    input embedding of each class's words (`word_ids`; CLIP-style, with a learned temperature;
    class 0, "none", keeps a linear score). The image token of a balloon is then pulled towards
    the embedding of the word "balloon" the question contains, which is the match the language
    model has to make, and towards its tint's and count's words, which the answer copies. The
    frame and role heads are linear.
    """

    TIED = ("thing", "tint", "count")

    def __init__(
        self, width: int, n_things: int, seed: int, embeddings: Any, word_ids: dict[str, list[list[int]]]
    ) -> None:
        import math

        import torch

        if set(word_ids) != set(self.TIED):
            raise ValueError(f"PatchHeads: word ids for {', '.join(self.TIED)}, not {sorted(word_ids)}")
        generator = torch.Generator().manual_seed(seed + 1)
        self.module = torch.nn.ModuleDict(
            {
                "thing": torch.nn.Linear(width, 1),
                "tint": torch.nn.Linear(width, 1),
                "count": torch.nn.Linear(width, 1),
                "framed": torch.nn.Linear(width, 2),
                "role": torch.nn.Linear(width, 3),
            }
        )
        with torch.no_grad():
            for name, param in self.module.named_parameters():
                if name.endswith("weight"):
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.02)
                else:
                    param.zero_()
        self.embeddings = embeddings
        self.scale = torch.nn.Parameter(torch.tensor(math.log(10.0)))
        self.module.register_parameter("scale", self.scale)
        self.words: dict[str, tuple[Any, Any]] = {}
        for head, classes in word_ids.items():
            longest = max(len(ids) for ids in classes)
            ids = torch.zeros(len(classes), longest, dtype=torch.long)
            mask = torch.zeros(len(classes), longest)
            for i, row in enumerate(classes):
                ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
                mask[i, : len(row)] = 1.0
            self.words[head] = (ids, mask)

    def parameters(self) -> Any:
        return self.module.parameters()

    def logits(self, head: str, features: Any) -> Any:
        import torch
        import torch.nn.functional as F

        if head not in self.words:
            return self.module[head](features)
        ids, mask = self.words[head]
        table = (self.embeddings(ids) * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
        similar = F.normalize(features, dim=-1) @ F.normalize(table, dim=-1).T * self.scale.exp()
        return torch.cat([self.module[head](features), similar], dim=-1)

    def loss(self, features: Any, targets: PatchLabels[Any]) -> Any:
        """Mean cross-entropy of the thing, tint, frame and count heads over every patch;
        features (b, patches, width), targets (b, patches) each."""
        import torch.nn.functional as F

        total = features.new_zeros(())
        for head in LABELLED:
            logits = self.logits(head, features).flatten(0, 1).float()
            total = total + F.cross_entropy(logits, getattr(targets, head).flatten())
        return total / len(LABELLED)

    def role_loss(self, hidden: Any, target: Any) -> Any:
        """Cross-entropy of the role head on the language model's states at the image tokens.

        The image follows the question, so these states can know what is asked; the label says
        which patch holds the thing that carries the answer (and a positional question's
        anchor): the step the answer loss alone does not teach, finding the asked object.
        """
        import torch.nn.functional as F

        return F.cross_entropy(self.module["role"](hidden).flatten(0, 1).float(), target.flatten())


def word_ids(tokenizer: Any, names: Sequence[str]) -> list[list[int]]:
    """Token ids of each class's words, skipping class 0 ("none")."""
    return [list(tokenizer(name, add_special_tokens=False)["input_ids"]) for name in names[1:]]
