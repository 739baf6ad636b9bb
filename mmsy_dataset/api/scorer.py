"""The scorer protocol the engine drives, and the token counts every scorer keeps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mmsy_dataset.api.requests import ScoreRequest, ScoreResult


@dataclass
class TokenStats:
    """Tokens fed to the model: real ones, and real + padding (plain counts, so that scorers
    without torch, such as the HTTP adapter's, keep the same record)."""

    real: int = 0
    padded: int = 0
    forwards: int = 0

    def add(self, real: int, padded: int) -> None:
        """Count one forward of `real` real tokens in a batch of `padded` slots."""
        self.real += real
        self.padded += padded
        self.forwards += 1


class Scorer(Protocol):
    """What the engine drives for one chunk of questions (`BatchedScorer` for local weights)."""

    stats: TokenStats
    fallbacks: int

    def run(self, requests: Sequence[ScoreRequest], mode: str) -> list[ScoreResult]: ...
