"""Griffe extension (mkdocs.yml, mkdocstrings' ``extensions``): the docstrings' Sphinx roles, e.g.
``:func:`train_all``` or ``:data:`SCHEMA```, become links to the object's entry in the API reference
when it has one there (a public object of the package), else inline code; a paragraph that ends
in reST's ``::`` before a literal block ends in ``:`` (the indented block shows as code either way);
a ``<`` outside code shows as written (``<run>`` is a placeholder, not an HTML tag).

A name is looked up as written (``helpers.data.layout.detect``), then in the object's own scope, its
class's, its module's and the package's, as a reader of the docstring would."""
from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|data|class|mod|meth|attr|exc|obj|const):`~?([\w.]+)(?:\(\))?`")
LITERAL_BLOCK = re.compile(r"(?<=\S)::$", re.MULTILINE)  # reST's "text::" before an indented block: "text:"
CODE_SPAN = re.compile(r"(``.+?``|`[^`]+`)")


def escape_angles(text: str) -> str:
    """`text` with each ``<`` outside code written ``&lt;``, so that placeholders such as
    ``<result_root>/<run>`` show as written instead of being taken for HTML tags."""
    lines, fenced, literal = [], False, False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
        elif literal and stripped and not line[:1].isspace():
            literal = False
        if fenced or stripped.startswith("```") or (literal and (not stripped or line[:1].isspace())):
            lines.append(line)
            continue
        parts = CODE_SPAN.split(line)
        lines.append("".join(part if i % 2 else part.replace("<", "&lt;") for i, part in enumerate(parts)))
        literal = literal or stripped.endswith("::")
    return "\n".join(lines)


def _find(package: griffe.Object, path: str):
    """The object at the dotted `path` under the package, or None (aliases are not followed)."""
    parts = path.split(".")
    if parts[0] != package.name:
        return None
    obj = package
    for part in parts[1:]:
        members = getattr(obj, "members", {})
        if part not in members:
            return None
        obj = members[part]
    return obj


def _documented(obj) -> bool:
    """Whether the API reference has an entry for `obj` (public all the way down, defined where it is)."""
    return (obj is not None and not obj.is_alias
            and not any(part.startswith("_") for part in obj.path.split(".")[1:]))


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        self._package = pkg
        self._visit(pkg)

    def _visit(self, obj) -> None:
        if obj.is_alias:
            return
        if obj.docstring is not None:
            text = ROLE.sub(lambda m: self._link(obj, m.group(1)), escape_angles(obj.docstring.value))
            obj.docstring.value = LITERAL_BLOCK.sub(":", text)
        for member in obj.members.values():
            self._visit(member)

    def _link(self, obj, name: str) -> str:
        scopes = [obj]
        parent = obj.parent
        while parent is not None:
            scopes.append(parent)
            parent = parent.parent
        candidates = [name] + [f"{scope.path}.{name}" for scope in scopes]
        for candidate in candidates:
            found = _find(self._package, candidate)
            if _documented(found):
                return f"[`{name}`][{found.path}]"
        return f"`{name}`"
