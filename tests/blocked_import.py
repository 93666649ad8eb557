"""Import modules as on a device that lacks some libraries; run as a script in a fresh
interpreter: `python tests/blocked_import.py --block PIL,qrcode --walk nowserving.counter
nowserving.counter.main`.

A blocked library raises ModuleNotFoundError, as if it were not installed. Each named module
is imported; within the `--walk` package, so is whatever its modules import inside a
function (the counter's `--ui` panel), and so on: what a role imports later, when a button
or an option asks for it, must be there too. Exits 0 when everything imported, else 1 with
the traceback.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys


class Blocker:
    """A meta path finder that refuses the blocked top-level names."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


def lazy_imports(module: str) -> list[tuple[str, tuple[str, ...]]]:
    """What `module` imports inside its functions, as (module, names from it); not what it
    imports at its top level, nor where it catches the ImportError itself."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return []
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    found: list[tuple[str, tuple[str, ...]]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            return  # an optional import, handled where it is made
        if in_function and isinstance(node, ast.Import):
            found.extend((alias.name, ()) for alias in node.names)
        elif in_function and isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append((node.module, tuple(alias.name for alias in node.names)))
        inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(
        isinstance(name, ast.Name) and name.id in ("ImportError", "ModuleNotFoundError")
        for name in names
    )


def import_from(module: str, names: tuple[str, ...]) -> list[str]:
    """`from module import names` (a name may be a submodule); returns the modules loaded."""
    loaded = importlib.import_module(module)
    modules = [module]
    for name in names:
        if not hasattr(loaded, name):
            importlib.import_module(f"{module}.{name}")
            modules.append(f"{module}.{name}")
    return modules


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--block", default="", help="top-level names, comma-separated")
    parser.add_argument("--walk", default="", help="follow the lazy imports in this package")
    parser.add_argument("modules", nargs="+")
    args = parser.parse_args(argv)
    blocked = set(filter(None, args.block.split(",")))
    already = sorted(name for name in blocked if name in sys.modules)
    if already:
        print(f"imported before the blocker was in place: {already}", file=sys.stderr)
        return 1
    sys.meta_path.insert(0, Blocker(blocked))
    todo = [(module, ()) for module in args.modules]
    done: set[str] = set()
    while todo:
        for module in import_from(*todo.pop(0)):  # a failure ends the run with its traceback
            walk = args.walk and (module == args.walk or module.startswith(args.walk + "."))
            if module not in done and walk:
                todo += lazy_imports(module)
            done.add(module)
    print(f"imported {', '.join(sorted(done))} without {', '.join(sorted(blocked))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
