"""The installed package works without the source tree: a wheel built from this checkout,
installed (not editable) into a fresh virtual environment, builds a dataset, evaluates the
bundled reference model and runs the demo from empty folders.

Offline and fast: the wheel is built without build isolation, and the new environment gets
symbolic links to this environment's installed copies of the wheel's declared dependencies
(and theirs) instead of downloading them; each command's imports are recorded and checked
against them (`tests/installed.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.installed import assert_declared, link_dependencies, mmsy_recording_imports

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="venv layout of POSIX systems"),
]


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, command))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


class Installed(NamedTuple):
    bin: Path  # of the fresh virtual environment
    wheel: Path  # installed there


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh virtual environment with the wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    # A copy of what the wheel is built from, so that no build/ or *.egg-info lands in the checkout.
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "mmsy_dataset", source / "mmsy_dataset", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp / "dist", source, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("mmsy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"mmsy_dataset/hub/dataset_card.md", "mmsy_dataset/reference/weights/model.safetensors"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)

    venv = tmp / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    python = venv / "bin" / "python"
    target = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp).strip()
    # Only the declared dependencies, linked from this environment: not its editable mmsy, nor
    # what the wheel does not declare (see tests/installed.py).
    link_dependencies(wheel, Path(target))
    _run(*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp)
    return Installed(venv / "bin", wheel)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg")
    env.update(OMP_NUM_THREADS="1")
    return env


def _mmsy_declared(installed: Installed, *args: str, cwd: Path) -> None:
    """`mmsy ARG...` in the new environment, then the check that each module it imported is in
    the standard library, the wheel's own or from one of its declared dependencies."""
    imported = cwd.parent / f"imported-{args[0]}.json"  # the command runs in an empty folder
    _run(installed.bin / "python", "-c", mmsy_recording_imports(imported), *args, cwd=cwd, env=_env())
    assert_declared(imported, installed.wheel)


def test_installed_mmsy_builds_and_evaluates_from_an_empty_folder(installed: Installed, tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _env()
    where = "import mmsy_dataset, mmsy_dataset.reference as r; print(mmsy_dataset.__file__); print(r.WEIGHTS_DIR)"
    package, weights = _run(installed.bin / "python", "-c", where, cwd=work, env=env).split()
    assert Path(package).is_relative_to(installed.bin.parent) and not Path(package).is_relative_to(ROOT)

    build = ["build", "--questions-per-task", "2", "--configs", "sycophancy", "--image-size", "64"]
    _run(installed.bin / "mmsy", *build, "--out", "small", cwd=work, env=env)  # the console script
    card = (work / "small" / "README.md").read_text()
    assert "share no question and no image" in card and "configs:" in card
    _mmsy_declared(installed, *build, "--out", "again", cwd=work)
    manifest = json.loads((work / "small" / "mmsy_manifest.json").read_text())
    assert json.loads((work / "again" / "mmsy_manifest.json").read_text())["checksum"] == manifest["checksum"]

    evaluate = ["eval", "--model", weights, "--dataset", "small", "--out", "run", "--configs", "sycophancy"]
    _mmsy_declared(installed, *evaluate, "--mode", "option", "--n-bootstrap", "20", "--no-progress", cwd=work)
    metrics = json.loads((work / "run" / "metrics.json").read_text())["metrics"]
    assert metrics["acc_r1"]["overall"]["n"] == 2 * 10  # two questions in each of ten tasks
    assert (work / "run" / "predictions.jsonl").read_text().count("\n") == 2 * 10 * 3  # three tones


def test_installed_mmsy_demo_runs_from_an_empty_folder(installed: Installed, tmp_path: Path) -> None:
    """`mmsy demo` needs only the package: it builds the benchmark and evaluates the bundled
    reference model, writing its report in the current folder."""
    work = tmp_path / "demo"
    work.mkdir()
    _mmsy_declared(installed, "demo", "--limit", "3", "--threads", "1", "--no-progress", cwd=work)
    assert (work / "mmsy-data" / "mmsy_manifest.json").is_file()
    metrics = json.loads((work / "mmsy-demo-run" / "metrics.json").read_text())["metrics"]
    assert metrics["acc_r1"]["overall"]["n"] > 0 and "syc" in metrics
