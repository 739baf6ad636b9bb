"""The helpers of the installed-wheel tests (`tests/installed.py`): the dependency check can
fail (fed a requirement set that misses a module's distribution, it names the module and the
distribution), and the linked folder lends only the declared dependencies. Quick: no virtual
environment, only this environment's installed metadata."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from tests.installed import (
    assert_declared,
    link_dependencies,
    record_imports,
    requirement_closure,
    undeclared_imports,
)


def _wheel(tmp_path: Path, *requires: str) -> Path:
    """A wheel of one package, `fake`, with the METADATA the check reads."""
    wheel = tmp_path / "fake-0.1-py3-none-any.whl"
    lines = ["Metadata-Version: 2.4", "Name: fake", "Version: 0.1", *(f"Requires-Dist: {r}" for r in requires)]
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("fake/__init__.py", "")
        archive.writestr("fake-0.1.dist-info/METADATA", "\n".join(lines) + "\n")
    return wheel


def test_closure_follows_requirements_markers_and_extras() -> None:
    closure = requirement_closure(["rich>=1", 'Not-Installed-Anywhere; python_version < "3"', 'pytest; extra == "dev"'])
    assert {"rich", "markdown-it-py", "mdurl", "pygments"} <= closure  # rich's and markdown-it-py's own
    assert "not-installed-anywhere" not in closure and "pytest" not in closure
    assert "ipywidgets" not in closure and "ipywidgets" in requirement_closure(["rich[jupyter]"])


def test_a_module_from_an_undeclared_distribution_is_reported(tmp_path: Path) -> None:
    declared = requirement_closure(["rich"])
    owners = {"rich": ["rich"], "pygments": ["Pygments"], "yaml": ["PyYAML"], "google": ["protobuf", "rich"]}
    modules = ["json", "_sysconfigdata__linux_x86_64-linux-gnu", "rich", "pygments", "yaml", "google", "stray"]
    assert undeclared_imports(modules, declared, owners) == {"stray": [], "yaml": ["PyYAML"]}

    imported = tmp_path / "imported.json"
    imported.write_text(json.dumps(["fake", "json", "rich", "yaml"]))
    with pytest.raises(AssertionError, match=r"declare them in pyproject.toml:\n  yaml \(from PyYAML\)$"):
        assert_declared(imported, _wheel(tmp_path, "rich", 'pyyaml; extra == "dev"'))
    assert_declared(imported, _wheel(tmp_path, "rich", "pyyaml"))
    imported.write_text(json.dumps(["fake", "rich", "evaluate_modules", "_remote_module_non_scriptable"]))
    assert_declared(imported, _wheel(tmp_path, "rich"))  # the wheel's own, and modules made at run time


def test_imports_are_recorded_by_where_they_were_loaded_from(tmp_path: Path) -> None:
    """An alias counts as the module it is (pandas files `pandas._libs._cyutility` as
    `_cyutility` too); a module made at run time, without a spec, is no import."""
    out = tmp_path / "imported.json"
    script = "import sys, types, email.parser\nsys.modules['alias'] = sys.modules['email.parser']\n"
    script += "sys.modules['made'] = types.ModuleType('made')\n" + record_imports(out)
    subprocess.run([sys.executable, "-I", "-c", script], check=True, timeout=60)
    modules = json.loads(out.read_text())
    assert "email" in modules and "alias" not in modules and "made" not in modules


def test_linked_folder_lends_the_declared_dependencies_only(tmp_path: Path) -> None:
    folder = tmp_path / "site-packages"
    link_dependencies(_wheel(tmp_path, "rich"), folder)
    script = (
        f"import sys; sys.path.append({str(folder)!r})\n"
        "import importlib.metadata as m, importlib.util as u, rich, markdown_it, pygments\n"
        "print(m.version('rich'), u.find_spec('yaml'), [d.metadata['Name'] for d in m.distributions()])\n"
    )
    # -I -S: the standard library and the folder only, as in the new environment.
    done = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    version, spec, names = done.stdout.split(" ", 2)
    assert version == metadata.version("rich") and spec == "None"
    assert "PyYAML" not in names and "accelerate" not in names and "'rich'" in names
