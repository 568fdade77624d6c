"""The package's layout: subpackages along the data flow, each saying what it owns, imports pointing one way."""
import ast
import importlib
import pkgutil

import helpers
from helpers import paths

# lowest first: a module imports only from its own layer or a lower one
LAYERS = ("", "data", "figures", "detectors", "experiments", "execution")


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in LAYERS else ""


def _imported(path) -> list[tuple[int, str]]:
    """(line, module) of every helpers module a file imports, by statement or by name in a string."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "helpers":
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("helpers."):
            found.append((node.lineno, node.value))
    return found


def test_every_subpackage_says_what_it_owns_and_is_a_layer():
    packages = [m.name for m in pkgutil.iter_modules(helpers.__path__) if m.ispkg]
    assert sorted(packages) == sorted(LAYERS[1:])
    for name in packages:
        assert len((importlib.import_module(f"helpers.{name}").__doc__ or "").strip()) > 40, name


def test_imports_point_down_the_layers():
    upward = []
    for path in sorted((paths.PROJECT_ROOT / "helpers").rglob("*.py")):
        if path.name == "__main__.py":
            continue
        relative = path.relative_to(paths.PROJECT_ROOT / "helpers").parts
        here = relative[0] if len(relative) > 1 else ""
        for line, module in _imported(path):
            if LAYERS.index(_layer(module)) > LAYERS.index(here):
                upward.append(f"helpers/{'/'.join(relative)}:{line} imports {module}")
    assert upward == []
