"""MkDocs hook: the API reference, one page per module of the ``helpers`` package, rendered from the
docstrings by mkdocstrings. The modules are found by walking the package's folders (pkgutil, nothing
imported), so a module added, removed or moved into a subpackage changes the reference with no edit:
``helpers/x.py`` is ``reference/x.md``, a subpackage ``helpers/sub/`` is ``reference/sub/index.md``
(its ``__init__``) with its modules under it."""
from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import add_page, cell, expand_nav, module_docstring, summary  # noqa: E402

PACKAGE = "helpers"
INDEX = "reference/index.md"
LEFT_OUT = {"__main__"}  # `python -m helpers`: it only calls helpers.execution.cli.main (the command-line page)


def package_folder() -> Path:
    import helpers

    return Path(helpers.__file__).parent


def modules(folder: Path | None = None, prefix: str = PACKAGE) -> list[tuple[str, Path, bool]]:
    """(dotted name, source file, is a package) of every module under `folder`, depth first, by name."""
    folder = folder or package_folder()
    found = []
    for info in sorted(pkgutil.iter_modules([str(folder)]), key=lambda m: m.name):
        if info.name in LEFT_OUT:
            continue
        name = f"{prefix}.{info.name}"
        if info.ispkg:
            found.append((name, folder / info.name / "__init__.py", True))
            found += modules(folder / info.name, name)
        else:
            found.append((name, folder / f"{info.name}.py", False))
    return found


def page_uri(name: str, is_package: bool) -> str:
    parts = name.split(".")[1:]
    return "reference/" + "/".join(parts) + ("/index.md" if is_package else ".md")


def _nav(found: list[tuple[str, Path, bool]], prefix: str = PACKAGE) -> list:
    """Navigation items of the modules directly under `prefix` (a subpackage: a section)."""
    items = []
    depth = prefix.count(".") + 1
    for name, _, is_package in found:
        if name.count(".") != depth or not name.startswith(prefix + "."):
            continue
        short = name.rsplit(".", 1)[-1]
        if is_package:
            items.append({short: [page_uri(name, True), *_nav(found, name)]})
        else:
            items.append({short: page_uri(name, False)})
    return items


def _index(found: list[tuple[str, Path, bool]]) -> str:
    rows = []
    for name, source, is_package in found:
        link = page_uri(name, is_package).removeprefix("reference/")
        rows.append(f"| [`{name}`]({link}) | {cell(summary(module_docstring(source)))} |")
    return "\n".join([
        "# API reference", "",
        "Every module of the `helpers` package, from its docstrings: what it holds, each public function, class "
        "and constant with its signature. The notebooks import these modules; none imports a notebook. "
        "`python -m helpers` runs `helpers.execution.cli` ([the command line](../command-line.md)).", "",
        "| module | what it is |", "|---|---|", *rows, ""])


def on_files(files, config):
    found = modules()
    for name, _, is_package in found:
        add_page(config, files, page_uri(name, is_package), f"::: {name}\n")
    add_page(config, files, INDEX, _index(found))
    expand_nav(config, INDEX, _nav(found))
    return files
