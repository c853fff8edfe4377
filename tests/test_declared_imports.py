"""Every third-party module the packages import at run time is declared in
pyproject's ``dependencies`` (not only in the test extras, not only pulled in by
another dependency): a plain ``pip install .`` must run every command.

Static: the imports are read with :mod:`ast` (including those inside functions,
which is where the CLI's commands import their modules), mapped to the
distribution that provides them, and compared with the declared names.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    names = set()
    for requirement in _project()["dependencies"]:
        names.add(_normalise(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]))
    return names


def _own_packages() -> list[str]:
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    return sorted({p.rstrip("*") for p in include})


def _imported_modules(package_dirs: list[Path]) -> dict[str, str]:
    """Top-level module name -> one file importing it (absolute imports only)."""
    found: dict[str, str] = {}
    for directory in package_dirs:
        for path in directory.rglob("*.py"):
            if "tests" in path.relative_to(ROOT).parts:
                continue
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def undeclared_imports() -> dict[str, str]:
    own = _own_packages()
    imported = _imported_modules([ROOT / p for p in own if (ROOT / p).is_dir()])
    providers = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = {}
    for module, where in sorted(imported.items()):
        if module in sys.stdlib_module_names or module in own or module == "__future__":
            continue
        dists = {_normalise(d) for d in providers.get(module, [])}
        if not dists & declared:
            missing[module] = f"{where} (distribution: {', '.join(sorted(dists)) or '?'})"
    return missing


def test_every_runtime_import_is_declared():
    missing = undeclared_imports()
    assert not missing, (
        "imported at run time but not in pyproject's [project] dependencies: "
        + "; ".join(f"{m} from {w}" for m, w in missing.items())
    )


def test_the_check_sees_an_undeclared_import(tmp_path, monkeypatch):
    """The check itself can fail: a module importing a test-only library is caught."""
    package = ROOT / "appliance"
    monkeypatch.setattr(
        sys.modules[__name__],
        "_imported_modules",
        lambda dirs: {"pytest": str(package / "x.py"), "flask": str(package / "y.py")},
    )
    assert list(undeclared_imports()) == ["pytest"]
