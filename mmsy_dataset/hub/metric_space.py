"""The `evaluate` metric Space of MM-SY: the folder `mmsy publish metric` uploads.

An `evaluate` Space holds the module `<name>.py` (found by `evaluate.load("ORG/<name>")`), an
`app.py` that serves the widget, the metric card as README.md (its front matter configures the
Space) and `requirements.txt`. The module and the card come from `metrics/mmsy_syc/` of the
source checkout, the one copy that the tests run; the module may import only what installing
this package provides (it wraps `mmsy_dataset.scoring`), and requirements.txt pins the package
version that was used to write it, so the Space scores exactly like the CLI that published it.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from mmsy_dataset.errors import MmsyError

SOURCE = Path(__file__).resolve().parents[2] / "metrics" / "mmsy_syc"
MODULE = "mmsy_syc.py"
#: Top-level imports a `pip install mmsy` provides (the package and its declared dependencies used).
ALLOWED_IMPORTS = frozenset({"mmsy_dataset", "datasets", "evaluate"})


class MetricSpaceError(MmsyError):
    """The metric Space cannot be written."""


def package_requirement() -> str:
    """`mmsy==<version>` of the installed package."""
    try:
        return f"mmsy=={metadata.version('mmsy')}"
    except metadata.PackageNotFoundError:
        raise MetricSpaceError(
            "the mmsy package is not installed (pip install -e .), so its version cannot be pinned; "
            "pass --requirement"
        ) from None


def foreign_imports(source: str) -> list[str]:
    """Top-level modules the code imports that are neither the standard library nor allowed."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return sorted(m for m in found if m not in ALLOWED_IMPORTS and m not in sys.stdlib_module_names)


def _requirements(source: Path, requirement: str) -> str:
    keep = [
        line
        for line in (source / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not re.match(r"^\s*#", line) and not re.match(r"^\s*mmsy\b", line)
    ]
    return "\n".join([*keep, "# The MM-SY package this module wraps, at the version that published it.", requirement])


def write_metric_space(
    out: str | Path, repo_id: str, *, requirement: str | None = None, source: str | Path | None = None
) -> list[Path]:
    """Write the Space folder for `repo_id` (`ORG/NAME`: the module is `NAME.py`); returns its files."""
    src = Path(source) if source is not None else SOURCE
    if not (src / MODULE).is_file():
        raise MetricSpaceError(f"{src / MODULE}: not found; write the metric Space from a source checkout of mmsy")
    name = repo_id.split("/")[1]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise MetricSpaceError(
            f"--repo {repo_id!r}: the name must be a Python identifier (e.g. mmsy_syc): "
            "evaluate imports the module <name>.py"
        )
    module = (src / MODULE).read_text(encoding="utf-8")
    foreign = foreign_imports(module)
    if foreign:
        raise MetricSpaceError(f"{src / MODULE}: imports {foreign}, which installing mmsy does not provide")
    card = (src / "README.md").read_text(encoding="utf-8")
    if not card.startswith("---\n") or "\n---\n" not in card[4:]:
        raise MetricSpaceError(f"{src / 'README.md'}: no front matter; the Space needs the metric card's YAML header")
    card = card.replace('evaluate.load("metrics/mmsy_syc")', f'evaluate.load("{repo_id}")')
    app = (
        "import evaluate\n"
        "from evaluate.utils import launch_gradio_widget\n\n"
        f'module = evaluate.load("{repo_id}")\n'
        "launch_gradio_widget(module)\n"
    )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        f"{name}.py": module.replace('evaluate.load("metrics/mmsy_syc")', f'evaluate.load("{repo_id}")'),
        "app.py": app,
        "README.md": card,
        "requirements.txt": _requirements(src, requirement or package_requirement()) + "\n",
    }
    for rel, text in files.items():
        (folder / rel).write_text(text, encoding="utf-8")
    return [folder / rel for rel in files]
