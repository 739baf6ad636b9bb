"""The MM-SY reference model: a small LLaVA trained from scratch on the synthetic world (CPU).

It is a test bed for the benchmark and the mitigations, not a general VLM: it answers the
synthetic world's questions with the option's words (scored in `option` mode) and, by design of
its instruction mix, gives in to the user's push. Card: `cards/reference_model.md`; recipe:
`baselines/reference_model/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Folder of the committed weights (config, safetensors, tokenizer, processor).
WEIGHTS_DIR = Path(__file__).parent / "weights"

#: Figures recorded when the weights were committed (the tests reproduce them).
RECORDED_RESULTS = WEIGHTS_DIR / "recorded_results.json"


def load_reference_model(folder: str | Path | None = None) -> tuple[Any, Any]:
    """(model, processor) of the committed reference model, offline and in eval mode."""
    from mmsy_dataset.models.tiny import load_tiny_llava

    folder = Path(folder) if folder is not None else WEIGHTS_DIR
    if not (folder / "model.safetensors").exists():
        raise FileNotFoundError(
            f"no reference weights in {folder}: train them with `python baselines/reference_model/train.py`"
        )
    return load_tiny_llava(folder)
