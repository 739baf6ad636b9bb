"""The multi-GPU recipe's accelerate config: it loads as FSDP with bf16, and `accelerate launch`
with it runs `mmsy train` end to end. On a CPU-only machine accelerate runs one unsharded
process, so this checks the launch path and the saving code (`trainer.save_model`, which is what
gathers FSDP shards), not the sharding itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FSDP = ROOT / "baselines" / "sft" / "accelerate_fsdp.yaml"


def test_fsdp_config_loads_as_documented() -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(FSDP))
    assert config.distributed_type.value == "FSDP" and config.mixed_precision == "bf16"
    assert config.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # save_model gathers full weights
    recipe = json.loads((ROOT / "baselines" / "sft" / "llava-1.5-7b.json").read_text())
    batch = recipe["per_device_train_batch_size"] * recipe["gradient_accumulation_steps"] * config.num_processes
    assert batch == 128  # paper B.2
    dpo = json.loads((ROOT / "baselines" / "dpo" / "llava-1.5-7b.json").read_text())
    assert dpo["per_device_train_batch_size"] * dpo["gradient_accumulation_steps"] * config.num_processes == 128


@pytest.mark.slow
def test_accelerate_launch_runs_mmsy_train(train_data: Path, tiny_model: Path, tmp_path: Path) -> None:
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert launcher is not None
    config = tmp_path / "sft.json"
    config.write_text(json.dumps({"model": str(tiny_model), "max_steps": 1, "per_device_train_batch_size": 2}))
    out = tmp_path / "out"
    command = [
        launcher,
        "launch",
        "--config_file",
        str(FSDP),
        "--num_processes",
        "1",
        "--cpu",
        "--mixed_precision",
        "no",
        "-m",
        "mmsy_dataset.cli",
        "train",
        "sft",
        "--config",
        str(config),
        "--dataset",
        str(train_data),
        "--out",
        str(out),
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((out / "mmsy_train.json").read_text())
    assert record["status"] == "done" and record["launch"]["processes"] == 1
    assert (out / "model.safetensors").is_file() and not (out / "training_args.bin").exists()


def test_every_recipe_loads() -> None:
    from mmsy_dataset.mitigation.config import load_settings

    recipes = sorted((ROOT / "baselines").glob("*/*.json"))
    recipes = [p for p in recipes if p.parent.name in ("sft", "dpo") and p.name != "results.json"]
    assert len(recipes) == 6
    for path in recipes:
        settings = load_settings(path.parent.name, path)
        if "llava-1.5-7b" in path.name:  # paper B.2
            assert settings.bf16 and settings.lr_scheduler_type == "cosine" and settings.weight_decay == 0
            assert settings.optim.startswith("adamw")
            if settings.lora is None:
                assert settings.learning_rate == {"sft": 2e-5, "dpo": 1e-6}[settings.method]
            if settings.method == "dpo":
                assert settings.beta == 0.1  # type: ignore[attr-defined]


def test_prompt_settings_are_eval_settings() -> None:
    from mmsy_dataset.engine.config import EvalConfig

    for path in sorted((ROOT / "baselines" / "prompt").glob("*.json")):
        if path.name == "results.json":
            continue
        config = EvalConfig(**json.loads(path.read_text()), dataset="data", out=Path("out"))
        assert config.prompt_baseline
