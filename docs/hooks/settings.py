"""MkDocs hook: the settings reference, generated from helpers/detectors/config.py (its SCHEMA, TOP_LEVEL,
NOTEBOOK, PARAMETER and CHOICES: every key with its default and what it accepts), the notebook
parameters of the solution template (helpers/execution/notebook_template/, their parameters cells) and each
solution's own parameters (config.yaml's notebook.parameters), in place of the line
``<!-- generated: settings -->`` of settings.md. A setting added to the schema appears with no edit."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import cell, code, fill_marker, helpers_module  # noqa: E402

PAGE = "settings.md"
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)\s*=\s*(.*?)\s*(?:#\s*(.*))?$")


def _table(rows: list[tuple], header: tuple) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _schema_tables() -> list[str]:
    config = helpers_module("config")

    lines: list[str] = []
    choices = {".".join(path): values for path, values in config.CHOICES.items()}

    def accepted(name: str, text: str) -> str:
        return cell(text) + (f" ({', '.join(f'`{v}`' for v in choices[name])})"
                             if name in choices and not all(str(v) in text for v in choices[name]) else "")

    lines += ["## Top-level keys {#top-level}", "",
              f"`config.yaml` holds the sections {', '.join(f'[`{s}`](#{s})' for s in config.SCHEMA)} and these keys:", ""]
    lines += _table([(f"`{key}`", code(default) if not isinstance(default, dict) else "see below", accepted(key, text))
                     for key, (default, _, text) in config.TOP_LEVEL.items()], ("key", "default", "accepted"))
    lines.append("")
    for section, keys in config.SCHEMA.items():
        lines += [f"## {section} {{#{section}}}", ""]
        lines += _table([(f"`{section}.{name}`", code(default), accepted(f"{section}.{name}", text))
                         for name, (default, _, text) in keys.items()], ("setting", "default", "accepted"))
        lines.append("")
    lines += ["## model {#model}", "",
              "Free: its keys are the keyword arguments of the solution's `build_model(input_shape, **model)` in "
              "`model.py`, checked against that function's signature when the solution loads.", "",
              "## notebook {#notebook}", "",
              "What the solution's notebooks show beyond the shared cells (they are rendered from one template by "
              "`python -m helpers notebooks`).", ""]
    lines += _table([(f"`notebook.{key}`", code(default), cell(text)) for key, (default, _, text) in config.NOTEBOOK.items()],
                    ("key", "default", "accepted"))
    lines += ["", "Each entry of `notebook.parameters` is an UPPER_CASE name mapped to:", ""]
    lines += _table([(f"`{key}`", "required", cell(text)) for key, (_, _, text) in config.PARAMETER.items()],
                    ("key", "default", "accepted"))
    lines.append("")
    return lines


def _template_parameters() -> list[str]:
    """The template notebooks' parameters: name, the notebooks that declare it, default, comment."""
    notebooks = helpers_module("notebooks")

    declared: dict[str, dict] = {}
    for role, path in notebooks.TEMPLATES.items():
        for item in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if "parameters" not in item["metadata"].get("tags", []):
                continue
            for line in "".join(item["source"]).splitlines():
                match = ASSIGNMENT.match(line)
                if match:
                    name, default, comment = match.groups()
                    entry = declared.setdefault(name, {"roles": [], "default": default, "comment": comment or ""})
                    entry["roles"].append(role)
    rows = [(f"`{name}`", ", ".join(entry["roles"]), f"`{entry['default']}`", cell(entry["comment"]))
            for name, entry in declared.items()]
    return _table(rows, ("parameter", "notebooks", "default", "meaning"))


def _solution_parameters() -> list[str]:
    config, paths = helpers_module("config"), helpers_module("paths")
    solution_folders = helpers_module("solution").solution_folders

    rows = []
    for folder in solution_folders(paths.NOTEBOOKS):
        loaded = config.load(folder / "config.yaml")
        for name, spec in loaded["notebook"]["parameters"].items():
            rows.append((f"[{folder.name}](solutions/{folder.name}.md)", f"`{name}`", f"`{spec['setting']}`",
                         cell(spec["comment"])))
    if not rows:
        return ["No solution declares parameters of its own."]
    return _table(rows, ("solution", "parameter", "setting", "meaning"))


def reference() -> str:
    lines = _schema_tables()
    lines += ["## Notebook parameters {#notebook-parameters}", "",
              "Every solution's notebooks declare these in their `parameters` cell (papermill's `-p NAME VALUE`, "
              "or an edit of the cell); `None` keeps what `config.yaml` says.", ""]
    lines += _template_parameters()
    lines += ["", "### Parameters of one solution {#solution-parameters}", "",
              "Declared in a solution's `notebook.parameters`; each overrides the setting it names.", ""]
    lines += _solution_parameters()
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    return fill_marker(markdown, "settings", reference(), page)
