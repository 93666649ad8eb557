"""The imports that must never exist, read from the source (ast), not from a running
program: inner layers never import outer ones, roles meet only on the wire, and only the
device side touches Qt."""

from __future__ import annotations

import ast
import sys
import tomllib
from functools import cache
from pathlib import Path

import nowserving
from tests import extras

SRC = Path(nowserving.__file__).parent
ROLES = ("server", "kiosk", "counter", "display", "web", "headoffice")
DEVICE_APPS = ("kiosk", "counter", "display")
HARDWARE_AND_GUI = ("PySide6", "escpos", "gpiozero", "PIL", "qrcode")


@cache
def modules() -> dict[str, set[str]]:
    """Each module of the package (dotted, relative to nowserving) -> what it imports."""
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__") or "__init__"
        imports = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imports.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imports.add(node.module)
        found[name] = imports
    return found


def ours(imported: str) -> str | None:
    """The nowserving subpackage or module an import names, or None if it is not ours."""
    if imported == "nowserving":
        return "__init__"
    if imported.startswith("nowserving."):
        return imported.split(".")[1]
    return None


def layer(module: str) -> str:
    return module.split(".")[0]


def violations(rule) -> list[str]:
    return [
        f"{module} imports {imported}"
        for module, imports in sorted(modules().items())
        for imported in sorted(imports)
        if rule(layer(module), imported)
    ]


def test_the_domain_imports_only_the_standard_library_and_itself():
    def bad(where: str, imported: str) -> bool:
        if where not in ("domain", "errors"):
            return False
        top = ours(imported)
        if top is None:
            return imported.split(".")[0] not in sys.stdlib_module_names
        return top not in ("domain", "errors")

    assert violations(bad) == []


def test_the_protocol_is_pure_data():
    def bad(where: str, imported: str) -> bool:
        if where != "protocol":
            return False
        top = ours(imported)
        if top is None:
            return imported.split(".")[0] not in sys.stdlib_module_names
        return top not in ("protocol", "domain", "errors", "__init__")

    assert violations(bad) == []


def test_adapters_never_import_a_role_or_the_client():
    def bad(where: str, imported: str) -> bool:
        return where == "adapters" and ours(imported) in (*ROLES, "client", "devtools")

    assert violations(bad) == []


def test_roles_meet_only_on_the_wire():
    def bad(where: str, imported: str) -> bool:
        top = ours(imported)
        if where == "server":
            return top in (*DEVICE_APPS, "client", "devtools")
        if where in DEVICE_APPS:
            return top in ROLES and top != where or top == "devtools"
        if where == "client":
            return top in (*ROLES, "devtools")
        if where in ("web", "headoffice"):
            return top in ROLES and top != where or top == "devtools"
        return False

    assert violations(bad) == []


def test_only_the_device_side_touches_qt_and_hardware():
    def bad(where: str, imported: str) -> bool:
        top = imported.split(".")[0]
        if top == "PySide6":
            return where not in (*DEVICE_APPS, "client", "devtools")
        if top == "qrcode":  # pure Python: the web role draws QR codes as SVG too
            return where not in (*DEVICE_APPS, "adapters", "devtools", "web")
        if top in HARDWARE_AND_GUI:  # printers and pins live behind adapters
            return where not in (*DEVICE_APPS, "adapters", "devtools")
        return False

    assert violations(bad) == []


def libraries(module: str, found: dict[str, set[str]] | None = None) -> set[str]:
    """The libraries outside the standard library that importing `module` (dotted, relative
    to nowserving) may load: its own imports, at the top or in a function, and those of every
    module of ours that it imports, its packages' `__init__` included."""
    tree = modules()
    found = {} if found is None else found
    if module in found:
        return found[module]
    found[module] = needed = set()
    parts = module.split(".")
    ours_too = {".".join(parts[:n]) for n in range(1, len(parts))} & tree.keys()
    for imported in tree.get(module, ()):
        if imported == "nowserving" or imported.startswith("nowserving."):
            dotted = imported.removeprefix("nowserving").lstrip(".") or "__init__"
            ours_too |= {m for m in (dotted,) if m in tree}
        elif imported.split(".")[0] not in sys.stdlib_module_names:
            needed.add(imported.split(".")[0])
    for other in ours_too:
        needed |= libraries(other, found)
    return needed


def test_a_role_imports_only_the_adapters_its_extra_installs():
    """GIVEN what each adapter loads (the printer: escpos, Pillow, qrcode; GPIO: gpiozero)
    THEN a role's modules import, at the top or in a function, only adapters whose libraries
    nowserving[<role>] installs: a display never reaches the ticket's layout, a server never
    a pin (tests/test_extras.py imports each role with the rest blocked)."""
    tree = modules()
    adapters = [m for m in tree if layer(m) == "adapters"]
    assert "adapters.printer.layout" in adapters and "adapters.gpio" in adapters
    assert {"PIL", "qrcode"} <= libraries("adapters.printer.layout")
    found = []
    for module, imports in sorted(tree.items()):
        role = layer(module)
        if role not in ROLES:
            continue
        for imported in sorted(imports):
            adapter = imported.removeprefix("nowserving.")
            if adapter not in adapters:
                continue
            missing = libraries(adapter) - extras.allowed(role)
            if missing:
                found.append(f"{module} imports {adapter}, which needs {sorted(missing)}")
    assert found == []


def test_the_rules_see_every_module():
    """GIVEN the rules above WHEN they read the tree THEN they see the layers they name
    (a rule over an empty set would pass for nothing)."""
    layers = {layer(m) for m in modules()}
    assert {"domain", "protocol", "adapters", "server", "client", "devtools"} <= layers


def test_a_plain_install_has_no_qt_or_hardware_libraries():
    """`pip install .` (no extras) installs only what the server needs."""
    project = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"]).lower()
    assert not [name for name in HARDWARE_AND_GUI + ("pyside6",) if name.lower() in base]


def test_nothing_but_the_cli_uses_the_self_test():
    """The self-test (an installer's tool) drives the roles' code; no role depends on it."""

    def bad(where: str, imported: str) -> bool:
        return ours(imported) == "selftest" and where not in ("selftest", "cli", "devtools")

    assert violations(bad) == []
