"""Tests that run the built wheel in a fresh virtual environment: its dependencies, and the
check that it imports nothing else.

Nothing can be downloaded (no package index here or in CI), so the new environment's
site-packages gets symbolic links (`link_dependencies`) to this environment's installed copies
of the distributions in the transitive closure of the wheel's declared runtime requirements (its
`Requires-Dist` without extras, then each dependency's own `Requires-Dist` with the extras it
was asked for). The environment then holds what a clean install would, and not the rest of this
one (the `train` extra's accelerate, which transformers imports whenever it is installed; the
test tools). The run records which top-level modules it imported (`record_imports`), and
`assert_declared` fails on any that is not in the standard library, the wheel's own, or from a
distribution in that closure.
"""

from __future__ import annotations

import email
import json
import sys
import zipfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def record_imports(out: Path) -> str:
    """Python source that writes to `out` (JSON) the sorted top-level names of the modules
    imported so far. A module counts under the name it was loaded as (its spec), not the one it
    is filed under: pandas also files its `pandas._libs._cyutility` as `_cyutility`. Modules
    without a spec were made at run time by code already imported (Cython's `cython_runtime`,
    `__main__` of `python -c`), not loaded from any distribution."""
    return f"""
import json as _json, sys as _sys
_specs = [getattr(_module, "__spec__", None) for _module in list(_sys.modules.values())]
with open({str(out)!r}, "w") as _out:
    _json.dump(sorted({{_spec.name.split(".")[0] for _spec in _specs if _spec is not None}}), _out)
"""


def mmsy_recording_imports(out: Path) -> str:
    """Python source for `python -c SOURCE ARG...`: runs `mmsy ARG...` as the console script
    does, then records its imports to `out` (`record_imports`), also when the command fails."""
    record = "".join(f"    {line}\n" for line in record_imports(out).strip().splitlines())
    run = "import sys\nfrom mmsy_dataset.cli.main import main\ntry:\n    status = main(sys.argv[1:])\nfinally:\n"
    return f"{run}{record}sys.exit(status)\n"


def read_wheel(wheel: Path) -> tuple[set[str], list[str]]:
    """The top-level modules a built wheel installs and the `Requires-Dist` lines of the METADATA
    it ships (what an install resolves, rather than pyproject.toml as written)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (meta,) = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        message = email.message_from_bytes(archive.read(meta))
    tops = {n.split("/")[0] for n in names}
    modules = {t.split(".")[0] for t in tops if not t.endswith((".dist-info", ".data"))}
    return modules, message.get_all("Requires-Dist") or []


def _applies(requirement: Requirement, extra: str) -> bool:
    """Whether `requirement` holds for this interpreter when its owner is installed with `extra`
    ("" for the owner alone)."""
    return requirement.marker is None or requirement.marker.evaluate({"extra": extra})


def requirement_closure(requirements: Iterable[str]) -> set[str]:
    """Canonical names of the distributions `requirements` pull in for this interpreter: each
    requirement whose marker holds with no extra asked for, then, recursively, the requirements
    of each such distribution as installed here, with the extras it was asked for. A requirement
    that is not installed here ends its branch (nothing of it can be imported either)."""
    pending = [requirement for requirement in map(Requirement, requirements) if _applies(requirement, "")]
    closure: set[str] = set()
    expanded: set[tuple[str, str]] = set()  # (distribution, extra) whose requirements were read
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        closure.add(name)
        for extra in ("", *sorted(requirement.extras)):
            if (name, extra) in expanded:
                continue
            expanded.add((name, extra))
            try:
                lines = metadata.distribution(name).requires or []
            except metadata.PackageNotFoundError:
                break
            pending.extend(dependency for dependency in map(Requirement, lines) if _applies(dependency, extra))
    return closure


def link_dependencies(wheel: Path, site_packages: Path) -> None:
    """Link into `site_packages` (a new environment's) each top-level file and folder (packages,
    their `.dist-info`) of every distribution installed here in the closure of the wheel's
    declared runtime requirements: those dependencies, offline, as installed ones (libraries
    such as dill treat modules under a `site-packages` folder as installed, not as user code).
    Modules that distributions keep directly in site-packages share its `__pycache__`, which is
    not linked (Python recompiles them)."""
    _, requirements = read_wheel(wheel)
    site_packages.mkdir(parents=True, exist_ok=True)
    for name in sorted(requirement_closure(requirements)):
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed here: a run that needs it fails to import it
        if distribution.files is None:
            raise RuntimeError(f"{name}: no RECORD of its installed files to link")
        tops = {file.parts[0] for file in distribution.files} - {"..", "__pycache__"}
        for top in sorted(tops):
            if not (site_packages / top).is_symlink():
                (site_packages / top).symlink_to(Path(str(distribution.locate_file(top))))


#: Top-level modules a dependency writes at run time into a folder it puts on `sys.path`:
#: not installed by any distribution, nor importable before that code ran.
MADE_AT_RUN_TIME = frozenset(
    {
        "_remote_module_non_scriptable",  # torch.distributed.nn.jit's instantiated template
        "evaluate_modules",  # evaluate's cache of loaded metric scripts (HF_MODULES_CACHE)
    }
)


def _in_stdlib(module: str) -> bool:
    # `_sysconfigdata_<abi>_<platform>` (the interpreter's build settings) is named after the
    # platform, so `sys.stdlib_module_names` does not list it.
    return module in sys.stdlib_module_names or module.startswith("_sysconfigdata_")


def undeclared_imports(
    modules: Iterable[str],
    declared: set[str],
    distributions: Mapping[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """Each top-level module in `modules` that is neither in the standard library nor from a
    distribution in `declared` (canonical names), with the distributions it comes from (none:
    no distribution installed here has it). A module several distributions share (a namespace
    package) passes when one of them is declared. `distributions` (top-level module ->
    distribution names) defaults to this environment's `packages_distributions()`."""
    owners = metadata.packages_distributions() if distributions is None else distributions
    found: dict[str, list[str]] = {}
    for module in sorted(set(modules)):
        names = sorted(set(owners.get(module, [])))
        if not _in_stdlib(module) and not any(canonicalize_name(n) in declared for n in names):
            found[module] = names
    return found


def assert_declared(imported: Path, wheel: Path) -> None:
    """Fail, naming each module and the distribution it came from, when the run that wrote
    `imported` (`record_imports`) imported a module that is not in the standard library, not
    the wheel's own, not `MADE_AT_RUN_TIME`, and not provided by its declared runtime
    dependencies."""
    packaged, requirements = read_wheel(wheel)
    declared = requirement_closure(requirements)
    modules = set(json.loads(imported.read_text())) - packaged - MADE_AT_RUN_TIME
    found = undeclared_imports(modules, declared)
    lines = [f"  {module} (from {', '.join(names) or 'no installed distribution'})" for module, names in found.items()]
    assert not found, (
        f"{wheel.name} imported modules that no distribution in its declared runtime dependencies "
        f"(with theirs, {len(declared)} distributions) provides; declare them in pyproject.toml:\n" + "\n".join(lines)
    )
