"""A solution folder's notebooks, rendered from one template and the folder's config.yaml.

The template (``helpers/execution/notebook_template/``) holds the notebooks every solution shares, one per
role, in the order a run executes them: ``train`` (00-train-with-visual.ipynb), ``test``
(01-test.ipynb) and ``visualize`` (02-visualize-predictions.ipynb). Each declares its role in
its metadata, ``metadata["dcase"]["role"]``, and so does every notebook rendered from it. What
differs between solutions comes from config.yaml's ``notebook`` section (helpers.detectors.config):
``title``, ``about`` (default: ``description``) and ``parameters``. The template's cells hold
placeholders for them:

- ``{{title}}``: the title and ": ", or nothing without a title (inside a heading);
- ``{{about}}``: the about text;
- ``{{parameters}}``: one line ``NAME = None  # comment; None: config.yaml (setting)`` per
  declared parameter (in every parameters cell);
- ``{{overrides}}``: one line ``"setting": NAME,`` per declared parameter (in the overrides
  dict passed to solution.load).

A placeholder alone on a line becomes its lines at that line's indentation (no line when it has
none). A rendered notebook has no outputs and no execution counts, keeps the cells' tags (the
``parameters`` tag, and the ``stage-<name>`` tags — imports, setup, train, scoring, figures,
report — by which benchmarks/end_to_end.py splits an executed notebook's time), and its cells'
ids are ``<role>-<position>``: the same template and config.yaml give the same bytes. The
folder's name is not used, so a copied folder's notebooks are already what the template renders
for it. ``python -m helpers notebooks`` rewrites the notebooks that differ
(``--check`` lists them); edit the template or config.yaml, not the rendered notebooks.

A notebook's role (:func:`role_of`) is its metadata's; a notebook without one has the role of the
template notebook with its file name (00-train-with-visual.ipynb: train, ...), and any other
notebook none (the data overview and the comparison notebooks have none).
"""
from __future__ import annotations

import difflib
import json
import re
import sys
from pathlib import Path

from helpers.detectors import config as config_module
from helpers import paths
from helpers.errors import ConfigError, ToolkitError
from helpers.fileio import atomic_write_text

# jsonschema (under nbformat) imports rfc3987-syntax when it is installed, which builds a Lark
# grammar at import (1.0-1.4 s of every command's start) for its "iri" format checks; notebook
# validation never checks formats, so it is kept out of the processes that handle notebooks
sys.modules.setdefault("rfc3987_syntax", None)
import nbformat  # noqa: E402
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook  # noqa: E402

TEMPLATE = Path(__file__).with_name("notebook_template")
REGENERATE = "python -m helpers notebooks"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
ASSIGNED = re.compile(r"^([A-Z][A-Z0-9_]*)\s*=", re.MULTILINE)  # a parameters cell's names
OVERRIDDEN = re.compile(r'"(\w+\.\w+)":\s*[A-Z][A-Z0-9_]*')  # an overrides dict's settings
COMMENT_COLUMN = 23  # where the comments of the template's parameters start


def _metadata_role(notebook: dict):
    """The role a notebook's JSON declares (metadata dcase.role), or None."""
    return notebook.get("metadata", {}).get("dcase", {}).get("role")


def _template_files() -> dict[str, Path]:
    """role -> template notebook, in the order a run executes them (their file names' order)."""
    files = sorted(TEMPLATE.glob("*.ipynb"))
    return {_metadata_role(json.loads(path.read_text())): path for path in files}


TEMPLATES = _template_files()
ROLES = tuple(TEMPLATES)
FILE_NAMES = {role: path.name for role, path in TEMPLATES.items()}


def role_of(path: str | Path) -> str | None:
    """The role of the notebook at `path`: its metadata's ``dcase.role``, else that of the template
    notebook with the same file name (also for a path that does not exist), else None.

    ConfigError naming the notebook if its metadata names a role that is not one of :data:`ROLES`.
    """
    path = Path(path)
    role = None
    if path.is_file():
        try:
            role = _metadata_role(json.loads(path.read_text()))
        except (json.JSONDecodeError, AttributeError) as err:
            raise ConfigError(f"{path}: not a notebook ({err})") from err
    if role is None:
        return next((r for r, name in FILE_NAMES.items() if name == path.name), None)
    if role not in ROLES:
        close = difflib.get_close_matches(str(role), ROLES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{path}: metadata dcase.role {role!r} is not a role{hint}; accepted: {', '.join(ROLES)}")
    return role


def by_role(folder: str | Path) -> dict[str, Path]:
    """role -> the notebook of `folder` with that role (:func:`role_of`), in :data:`ROLES` order.

    Where several notebooks have one role (a copy made to experiment with), the one named as the
    template's notebook of that role; ConfigError if none of them is.
    """
    folder = Path(folder)
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.ipynb")):
        if not path.name.startswith("."):
            role = role_of(path)
            if role:
                found.setdefault(role, []).append(path)
    chosen = {}
    for role in ROLES:
        candidates = found.get(role, [])
        named = [p for p in candidates if p.name == FILE_NAMES[role]]
        if len(candidates) > 1 and not named:
            raise ConfigError(f"{folder}: {len(candidates)} notebooks have the role {role!r} "
                              f"({', '.join(p.name for p in candidates)}) and none is named {FILE_NAMES[role]}; "
                              f"keep one notebook per role (metadata dcase.role) in a solution folder")
        if candidates:
            chosen[role] = (named or candidates)[0]
    return chosen


def _template_names() -> tuple[set[str], set[str]]:
    """The parameter names the template's parameters cells assign and the settings its overrides set."""
    names, settings = set(), set()
    for path in TEMPLATES.values():
        for cell in nbformat.read(path, as_version=4).cells:
            if "parameters" in cell.metadata.get("tags", []):
                names.update(ASSIGNED.findall(cell.source))
            if cell.cell_type == "code":
                settings.update(OVERRIDDEN.findall(cell.source))
    return names, settings


def _values(notebook: dict, where: str) -> dict[str, list[str]]:
    """Each placeholder's lines for a checked notebook section; ConfigError naming `where` for a
    declared parameter that the template already has, by name or by setting."""
    names, settings = _template_names()
    parameters, overrides = [], []
    for name, spec in notebook["parameters"].items():
        place = f"{where} [notebook.parameters.{name}]"
        if name in names:
            raise ConfigError(f"{place}: every notebook has the parameter {name} already; "
                              f"choose another name (the template's: {', '.join(sorted(names))})")
        if spec["setting"] in settings:
            raise ConfigError(f"{place}: the setting {spec['setting']} is a parameter of the template already; "
                              f"the template's: {', '.join(sorted(settings))}")
        head = f"{name} = None"
        parameters.append(f"{head}{' ' * max(2, COMMENT_COLUMN - len(head))}# {spec['comment']}; "
                          f"None: config.yaml ({spec['setting']})")
        overrides.append(f'"{spec["setting"]}": {name},')
    title = notebook["title"].strip()
    return {"title": [f"{title}: "] if title else [], "about": notebook["about"].strip().splitlines(),
            "parameters": parameters, "overrides": overrides}


def _fill(source: str, values: dict[str, list[str]], where: str) -> str:
    """`source` with its placeholders replaced (module docstring)."""
    def lines(match) -> list[str]:
        if match[1] not in values:
            raise ToolkitError(f"{where}: unknown placeholder {match[0]}; accepted: "
                               f"{', '.join('{{' + name + '}}' for name in values)}")
        return values[match[1]]

    filled = []
    for line in source.split("\n"):
        alone = PLACEHOLDER.fullmatch(line.strip())
        if alone:
            indent = line[:len(line) - len(line.lstrip())]
            filled += [indent + text for text in lines(alone)]
        else:
            filled.append(PLACEHOLDER.sub(lambda match: "\n".join(lines(match)), line))
    return "\n".join(filled)


def render(folder: str | Path) -> dict[Path, str]:
    """Each notebook of the solution in `folder` as the template renders it from its config.yaml:
    {path: text}. The path is the folder's notebook with that role (:func:`by_role`), else the
    template's file name in the folder. ConfigError for a bad config.yaml."""
    folder = Path(folder)
    where = str(folder / "config.yaml")
    settings = config_module.load(folder / "config.yaml")
    notebook = dict(settings["notebook"], about=settings["notebook"]["about"] or settings["description"])
    values = _values(notebook, where)
    existing = by_role(folder)
    rendered = {}
    for role, template in TEMPLATES.items():
        source = nbformat.read(template, as_version=4)
        cells = []
        for position, cell in enumerate(source.cells):
            text = _fill(cell.source, values, f"{template}, cell {position + 1}")
            metadata = {"tags": list(cell.metadata["tags"])} if cell.metadata.get("tags") else {}
            if cell.cell_type == "markdown":
                text = re.sub(r"\n{3,}", "\n\n", text)  # the blank lines around an empty placeholder
                made = new_markdown_cell(text, metadata=metadata)
            else:
                made = new_code_cell(text, metadata=metadata)
            made.id = f"{role}-{position:02d}"
            cells.append(made)
        made = new_notebook(cells=cells, metadata=source.metadata)
        nbformat.validate(made)
        rendered[existing.get(role, folder / FILE_NAMES[role])] = nbformat.writes(made) + "\n"
    return rendered


def shown(path: Path) -> str:
    """`path` relative to the project when inside it, for messages."""
    try:
        return str(path.resolve().relative_to(paths.PROJECT_ROOT))
    except ValueError:
        return str(path)


def _difference(path: Path, text: str) -> str:
    """What first differs between the notebook at `path` and `text`, its rendering, in a few words."""
    if not path.is_file():
        return "missing"
    try:
        have = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "not a notebook"
    want = json.loads(text)
    if have.get("metadata") != want["metadata"]:
        return "notebook metadata"
    cells = have.get("cells", [])
    for position, (got, wanted) in enumerate(zip(cells, want["cells"])):
        for key in ("cell_type", "source", "metadata", "id", "outputs", "execution_count"):
            if got.get(key) != wanted.get(key):
                return f"cell {position + 1}: {key.replace('_', ' ')}"
    if len(cells) != len(want["cells"]):
        return f"{len(cells)} cells, the template renders {len(want['cells'])}"
    return "formatting"


def _stale(folders):
    """(path, rendering) of each notebook of the solution `folders` whose bytes differ from its rendering."""
    for folder in folders:
        for path, text in render(folder).items():
            if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
                yield path, text


def differences(folders) -> list[str]:
    """One line per notebook of the solution `folders` that differs from its rendering: the
    notebook (relative to the project) and what first differs."""
    return [f"{shown(path)} ({_difference(path, text)})" for path, text in _stale(folders)]


def stale_message(found: list[str]) -> str:
    """The message for notebooks that differ from their rendering (:func:`differences`), with the command that fixes them."""
    return (f"{len(found)} notebook(s) differ from what {shown(TEMPLATE)}/ renders for their folder's config.yaml:\n  "
            + "\n  ".join(found) + f"\nregenerate them with `{REGENERATE}` (edit the template or config.yaml instead)")


def write(folders) -> list[Path]:
    """Rewrite each notebook of the solution `folders` that differs from its rendering; the rewritten
    paths. Every folder is rendered before the first file is written: a bad config.yaml writes nothing."""
    return [atomic_write_text(path, text) for path, text in list(_stale(folders))]
