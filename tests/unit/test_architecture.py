"""Imports point one way: layout <- wms, fleet, crane <- simulation, adapters <- coilyard."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("layout", "wms", "fleet", "crane", "simulation", "adapters", "coilyard")
ALLOWED: dict[str, set[str]] = {
    "layout": set(),
    "wms": {"layout"},
    "fleet": {"layout"},
    # Cranes join the fleet through its vehicle port and take relocation targets from the WMS.
    "crane": {"layout", "fleet", "wms"},
    "simulation": {"layout", "wms", "fleet", "crane"},
    "adapters": {"layout", "wms", "fleet", "crane"},
    "coilyard": {"layout", "wms", "fleet", "crane", "simulation", "adapters"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_it_may(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"package {package} has no modules"
    wrong = {
        str(f.relative_to(ROOT)): sorted(imported_packages(f) - ALLOWED[package] - {package}) for f in files
    }
    assert {f: bad for f, bad in wrong.items() if bad} == {}


def test_the_checker_sees_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import fleet.dispatch\nfrom crane import x\nfrom . import wms\nimport numpy\n")
    assert imported_packages(sample) == {"fleet", "crane"}
