"""Scoring of MM-SY predictions: the one implementation behind the CLI, the `evaluate` metric
and the leaderboard (docs/metrics.md has the definitions)."""

from mmsy_dataset.errors import ScoringError
from mmsy_dataset.scoring.compare import Comparison, McNemar, compare, compare_all
from mmsy_dataset.scoring.figures import Figure, MetricFigures, MultiRound, ScoreReport
from mmsy_dataset.scoring.metrics import HEADLINE, score

__all__ = [
    "HEADLINE",
    "Comparison",
    "Figure",
    "McNemar",
    "MetricFigures",
    "MultiRound",
    "ScoreReport",
    "ScoringError",
    "compare",
    "compare_all",
    "score",
]
