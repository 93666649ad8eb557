"""The domain imports nothing but the standard library, itself and nowserving.errors."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nowserving.domain

DOMAIN = Path(nowserving.domain.__file__).parent
ERRORS = DOMAIN.parent / "errors.py"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def test_domain_and_errors_import_only_the_standard_library():
    files = [*DOMAIN.glob("*.py"), ERRORS]
    assert len(files) > 3
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            if name.startswith("nowserving."):
                assert name.startswith("nowserving.domain") or name == "nowserving.errors", (
                    f"{path.name} imports {name}"
                )
            else:
                assert top in sys.stdlib_module_names, f"{path.name} imports {name}"
