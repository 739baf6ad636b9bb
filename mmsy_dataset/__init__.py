"""MM-SY: a benchmark for sycophancy in vision-language models.

The public names live here; heavy modules (torch, transformers) are imported lazily by the
parts that need them, never at import time of this package.
"""

from mmsy_dataset.predictions import Prediction, ScoringMode, Turn
from mmsy_dataset.schemas import (
    CONFIG_SPLITS,
    RECORD_TYPES,
    BaseItem,
    CorrectionWithAnswerRecord,
    CorrectionWithoutAnswerRecord,
    DPORecord,
    MultiRoundRecord,
    ProbingRecord,
    Provenance,
    SFTRecord,
    SycophancyRecord,
)
from mmsy_dataset.tasks import BENCHMARK_CONFIGS, CONFIGS, LETTERS, TASKS, TONES, Mode, Partition, Task, Tone

__version__ = "0.1.0"

__all__ = [
    "BENCHMARK_CONFIGS",
    "CONFIGS",
    "CONFIG_SPLITS",
    "LETTERS",
    "RECORD_TYPES",
    "TASKS",
    "TONES",
    "BaseItem",
    "CorrectionWithAnswerRecord",
    "CorrectionWithoutAnswerRecord",
    "DPORecord",
    "Mode",
    "MultiRoundRecord",
    "Partition",
    "Prediction",
    "ProbingRecord",
    "Provenance",
    "SFTRecord",
    "ScoringMode",
    "SycophancyRecord",
    "Task",
    "Tone",
    "Turn",
    "__version__",
]
