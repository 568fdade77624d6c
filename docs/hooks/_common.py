"""What the docs hooks share: finding a module of the helpers package, adding generated pages to the
build and to the navigation, filling a page's marker, table cells, and reading a Python file's
docstring without importing it."""
from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

from mkdocs.structure.files import File, Files


def helpers_module(name: str):
    """The module of the helpers package called `name` wherever it sits: ``helpers.<name>``, or
    ``helpers.<subpackage>.<name>`` once it has moved into a subpackage."""
    try:
        return importlib.import_module(f"helpers.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"helpers.{name}":
            raise
    import helpers

    for info in pkgutil.walk_packages(helpers.__path__, "helpers."):
        if info.name.rsplit(".", 1)[-1] == name:
            return importlib.import_module(info.name)
    raise ModuleNotFoundError(f"the helpers package has no module named {name!r}", name=f"helpers.{name}")


def add_page(config, files: Files, uri: str, content: str | bytes) -> None:
    """Add a generated page (or image) at `uri` under docs/, replacing a file of that name."""
    old = files.get_file_from_path(uri)
    if old is not None:
        files.remove(old)
    files.append(File.generated(config, uri, content=content))


def expand_nav(config, index_uri: str, children: list) -> None:
    """Replace the navigation entry whose page is `index_uri` by a section: that page, then `children`
    (mkdocs nav items: {"title": "page.md"} or {"title": [...]})."""
    def walk(items: list) -> bool:
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            (title, value), = item.items()
            if value == index_uri:
                items[i] = {title: [index_uri, *children]}
                return True
            if isinstance(value, list) and walk(value):
                return True
        return False

    if not walk(config["nav"]):
        raise ValueError(f"mkdocs.yml: no navigation entry names {index_uri}; the docs hooks expand it")


def fill_marker(markdown: str, marker: str, generated: str, page) -> str:
    """The page's markdown with the line ``<!-- generated: marker -->`` replaced by `generated`."""
    line = f"<!-- generated: {marker} -->"
    if line not in markdown:
        raise ValueError(f"{page.file.src_uri}: the line {line!r} says where the generated text goes; it is missing")
    return markdown.replace(line, generated)


CODE_SPAN = re.compile(r"(``.+?``|`[^`]+`)")


def prose(text) -> str:
    """Text with each ``<`` outside code spans written ``&lt;``: a placeholder such as ``<type>`` shows
    as written instead of being taken for an HTML tag."""
    parts = CODE_SPAN.split(str(text))
    return "".join(part if i % 2 else part.replace("<", "&lt;") for i, part in enumerate(parts))


def cell(text) -> str:
    """Prose for one Markdown table cell."""
    return prose(text).replace("|", "\\|").replace("\n", " ")


def code(value) -> str:
    """A value as inline code for a table cell (repr for strings, YAML-like for the rest)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "None"
    elif isinstance(value, str):
        text = repr(value) if value else "''"
    else:
        text = str(value)
    return "`" + text.replace("|", "\\|").replace("\n", " ") + "`"


def module_docstring(path: Path) -> str:
    """The module docstring of a Python file, read without importing it ('' without one)."""
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


ROLE = re.compile(r":(?:py:)?\w+:`~?([^`]+)`")


def summary(docstring: str) -> str:
    """A docstring's first paragraph on one line, its reST roles as inline code, for an index table."""
    return ROLE.sub(r"`\1`", docstring.strip().split("\n\n")[0].replace("\n", " "))
