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

#: Public names whose modules pull in heavy dependencies (datasets, torch): imported on first use.
_LAZY = {
    "BuildConfig": "mmsy_dataset.build",
    "build_dataset": "mmsy_dataset.build",
    "read_records": "mmsy_dataset.hub",
    "read_manifest": "mmsy_dataset.hub",
    "verify_folder": "mmsy_dataset.hub",
    "score": "mmsy_dataset.scoring",
    "compare": "mmsy_dataset.scoring",
    "EvalConfig": "mmsy_dataset.engine.config",
    "run_eval": "mmsy_dataset.engine.run",
    "get_source": "mmsy_dataset.sources",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmsy_dataset' has no attribute {name!r}")

__all__ = [  # noqa: RUF022  (grouped: constants, records, lazy entry points)
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
    "BuildConfig",
    "EvalConfig",
    "build_dataset",
    "compare",
    "get_source",
    "read_manifest",
    "read_records",
    "run_eval",
    "score",
    "verify_folder",
]
