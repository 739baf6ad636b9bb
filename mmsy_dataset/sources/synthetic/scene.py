"""Resolution-free description of a synthetic scene, and the layout helpers the tasks share.

Positions and sizes are fractions of the image side, so one scene description renders at any
image size and its JSON (the item's `meta`) says what is where without depending on pixels.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Glyph:
    """An OpenMoji glyph centred at (x, y); `size` is the longest side of its ink, `tint` a colour word."""

    name: str
    code: int
    x: float
    y: float
    size: float
    tint: str = ""
    role: str = ""


@dataclass(frozen=True)
class Shape:
    """A plain shape filled with a pattern (attribute questions about patterns)."""

    shape: str
    pattern: str
    color: RGB
    x: float
    y: float
    size: float
    role: str = ""


@dataclass(frozen=True)
class Box:
    """A rectangle: a `frame` outline drawn over glyphs, or a `field` (sports court) drawn under them."""

    kind: str
    x0: float
    y0: float
    x1: float
    y1: float
    color: RGB


@dataclass(frozen=True)
class Background:
    """Two-tone backdrop (wall or sky over ground) with faint blobs so that it is never uniform."""

    top: RGB
    bottom: RGB
    horizon: float
    blobs: tuple[tuple[float, float, float, RGB], ...] = ()


@dataclass
class Scene:
    background: Background
    glyphs: list[Glyph] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)

    def meta(self, **extra: object) -> str:
        """The scene as sorted-key JSON, for audits; `extra` records the question's relation."""
        scene = {  # vars() rather than dataclasses.asdict: asdict's deep copy dominated the cost
            "background": vars(self.background),
            "glyphs": [vars(g) for g in self.glyphs],
            "shapes": [vars(s) for s in self.shapes],
            "boxes": [vars(b) for b in self.boxes],
        }
        return json.dumps({"scene": scene, **extra}, sort_keys=True, separators=(",", ":"))

    def min_glyph_fraction(self) -> float:
        sizes = [g.size for g in self.glyphs] + [s.size for s in self.shapes]
        return min(sizes) if sizes else 1.0


# Pale backgrounds: colour questions use saturated tints, so nothing here can be mistaken for one.
_PALE: tuple[RGB, ...] = (
    (245, 245, 240),
    (232, 240, 248),
    (248, 238, 228),
    (236, 246, 234),
    (244, 236, 246),
    (250, 248, 226),
    (228, 232, 236),
    (240, 240, 250),
)


def _shade(color: RGB, delta: int) -> RGB:
    r, g, b = (max(0, min(255, c + delta)) for c in color)
    return (r, g, b)


def blobs(rng: random.Random, base: RGB, n: int) -> tuple[tuple[float, float, float, RGB], ...]:
    """Faint ellipses that break up a flat background without competing with the objects."""
    return tuple(
        (rng.random(), rng.random(), rng.uniform(0.05, 0.18), _shade(base, rng.choice((-14, -9, 9)))) for _ in range(n)
    )


def plain_background(rng: random.Random) -> Background:
    """A random pale backdrop, sometimes split at a horizon, independent of the question."""
    top = rng.choice(_PALE)
    bottom = rng.choice(_PALE) if rng.random() < 0.5 else top
    return Background(top, bottom, rng.uniform(0.45, 0.75), blobs(rng, top, rng.randint(2, 5)))


def grid_cells(rows: int, cols: int, margin: float = 0.04) -> list[tuple[float, float, float]]:
    """Centres of a rows x cols grid inside the margins, row-major, with the cell side (fractions)."""
    cell_w = (1 - 2 * margin) / cols
    cell_h = (1 - 2 * margin) / rows
    return [
        (margin + (c + 0.5) * cell_w, margin + (r + 0.5) * cell_h, min(cell_w, cell_h))
        for r in range(rows)
        for c in range(cols)
    ]


def jitter(rng: random.Random, x: float, y: float, cell: float, size: float) -> tuple[float, float]:
    """Move a glyph inside its cell without letting it leave the cell (so glyphs never overlap)."""
    slack = max(0.0, (cell - size) / 2) * 0.8
    return x + rng.uniform(-slack, slack), y + rng.uniform(-slack, slack)
