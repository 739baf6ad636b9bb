"""The metric Space `mmsy publish metric` writes: its layout, its pins, and that it loads with
`evaluate.load(folder)` in a fresh virtual environment holding the built wheel and links to
this environment's copies of its declared dependencies (nothing is downloaded; the source tree
is not on the path), importing nothing those dependencies do not provide (`tests/installed.py`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from mmsy_dataset.hub.metric_space import MetricSpaceError, foreign_imports, write_metric_space
from tests.hub.fake_hub import TOKEN, FakeHub, mmsy, upload_requests
from tests.installed import assert_declared, link_dependencies, record_imports

ROOT = Path(__file__).resolve().parents[2]
REPO = "my-org/mmsy_syc"


def test_space_layout_and_pins(tmp_path: Path) -> None:
    files = write_metric_space(tmp_path / "mmsy_syc", REPO, requirement="mmsy==0.1.0")
    assert sorted(p.name for p in files) == ["README.md", "app.py", "mmsy_syc.py", "requirements.txt"]
    space = tmp_path / "mmsy_syc"
    card = (space / "README.md").read_text()
    front = card.split("---\n")[1]
    assert "sdk: gradio" in front and "app_file: app.py" in front and "- metric" in front
    assert f'evaluate.load("{REPO}")' in card and "metrics/mmsy_syc" not in card
    assert f'module = evaluate.load("{REPO}")' in (space / "app.py").read_text()
    requirements = (space / "requirements.txt").read_text().splitlines()
    assert requirements[-1] == "mmsy==0.1.0" and "evaluate==0.4.6" in requirements
    assert [r for r in requirements if r.startswith("mmsy")] == ["mmsy==0.1.0"]
    assert foreign_imports((space / "mmsy_syc.py").read_text()) == []
    default = write_metric_space(tmp_path / "pinned", "my-org/pinned")
    assert default[-1].read_text().splitlines()[-1] == f"mmsy=={metadata.version('mmsy')}"
    assert (tmp_path / "pinned" / "pinned.py").is_file()  # evaluate.load("ORG/NAME") imports NAME.py


def test_module_may_not_import_what_the_package_does_not_provide(tmp_path: Path) -> None:
    assert foreign_imports("import os\nimport numpy\nfrom mmsy_dataset.scoring import score\nimport evaluate") == [
        "numpy"
    ]
    src = tmp_path / "src"
    shutil.copytree(ROOT / "metrics" / "mmsy_syc", src)
    (src / "mmsy_syc.py").write_text("import pandas\n" + (src / "mmsy_syc.py").read_text())
    with pytest.raises(MetricSpaceError, match=r"imports \['pandas'\], which installing mmsy does not provide"):
        write_metric_space(tmp_path / "out", REPO, source=src, requirement="mmsy==0.1.0")
    with pytest.raises(MetricSpaceError, match="must be a Python identifier"):
        write_metric_space(tmp_path / "out", "my-org/mmsy-syc", requirement="mmsy==0.1.0")


@pytest.mark.slow
def test_publish_metric_uploads_the_space(tmp_path: Path) -> None:
    with FakeHub() as hub:
        dry = mmsy(["publish", "metric", "--repo", REPO, "--dry-run"], hub, tmp_path / "home", token=None)
        assert dry.returncode == 0, dry.stderr
        assert "repo: my-org/mmsy_syc (space (gradio Space), public)" in dry.stdout
        assert [line.split()[0] for line in dry.stdout.splitlines() if line.startswith("  ")] == [
            "README.md",
            "app.py",
            "mmsy_syc.py",
            "requirements.txt",
        ]
        assert hub.requests == []
        out = tmp_path / "space" / "mmsy_syc"
        result = mmsy(["publish", "metric", "--repo", REPO, "--out", str(out)], hub, tmp_path / "home")
        assert result.returncode == 0, result.stderr
        assert upload_requests(hub) == [
            "POST /api/repos/create",
            "POST /api/validate-yaml",
            "POST /api/spaces/my-org/mmsy_syc/preupload/main",
            "POST /api/spaces/my-org/mmsy_syc/commit/main",
        ]
        create = json.loads(hub.requests[[r.path for r in hub.requests].index("/api/repos/create")].body)
        assert (create["name"], create["organization"], create["type"], create["sdk"]) == (
            "mmsy_syc",
            "my-org",
            "space",
            "gradio",
        )
        assert hub.repos[REPO].files == {p.name: p.read_bytes() for p in out.iterdir()}
        assert TOKEN not in result.stdout + result.stderr


def _wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the package sources (the checkout gets no build/ folder)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "mmsy_dataset", src / "mmsy_dataset", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    subprocess.run(
        [*pip, "-w", str(tmp_path / "dist"), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = (tmp_path / "dist").glob("mmsy-*.whl")
    return wheel


@pytest.mark.slow
def test_space_loads_with_evaluate_in_a_fresh_venv_with_the_wheel_and_its_dependencies(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # no source tree
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
        env=env,
    )
    # The wheel's declared dependencies (evaluate, datasets, torch, ...), linked from this environment.
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([str(python), "-c", where], check=True, capture_output=True, text=True).stdout.strip())
    link_dependencies(wheel, site)
    space = tmp_path / "space" / "mmsy_syc"
    write_metric_space(space, REPO, requirement=f"mmsy=={metadata.version('mmsy')}")
    script = f"""
import json, evaluate, mmsy_dataset
assert mmsy_dataset.__file__.startswith({str(venv)!r}), mmsy_dataset.__file__
metric = evaluate.load({str(space)!r})
rounds = [{{"round": 1, "choice": "A"}}, {{"round": 2, "choice": "B"}}]
record = dict(record_id="syc-q1", config="sycophancy", question_id="q1", task="color", tone="strong",
              mode="text", n_options=4, answer_letter="A", push_letter="B", rounds=rounds)
full = mmsy_dataset.Prediction.model_validate(record).model_dump()
out = metric.compute(predictions=[full], n_bootstrap=0)
print(json.dumps({{"syc": out["syc"], "acc_r1": out["acc_r1"], "file": mmsy_dataset.__file__}}))
{record_imports(tmp_path / "imported.json")}"""
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    result = subprocess.run(
        [str(python), "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["syc"] == 1.0 and figures["acc_r1"] == 1.0
    assert str(ROOT) not in figures["file"]
    assert_declared(tmp_path / "imported.json", wheel)
