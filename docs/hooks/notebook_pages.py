"""MkDocs hook: the project's notebooks as pages, with their outputs when a run has executed them.

For each notebook a run executes (the data overview, every solution folder's notebooks in the order
a run executes them, the comparison) the page shows the executed copy that ``make demo`` or
``python -m helpers run`` left under the result folder (``result/``, or ``DCASE_DOCS_RESULT_DIR``)
if there is one, else the committed notebook without outputs, saying how to get them. Nothing is
executed here: the pages are converted from the notebooks' JSON (markdown cells as they are, code
cells as Python blocks, text, HTML tables and figures as outputs, figures written beside the page).
"""
from __future__ import annotations

import base64
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import add_page, cell, expand_nav, helpers_module  # noqa: E402

INDEX = "notebooks/index.md"
RESULT_VARIABLE = "DCASE_DOCS_RESULT_DIR"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIDGET = "application/vnd.jupyter.widget-view+json"  # live widgets (progress bars): nothing to show without a kernel
IMAGES = {"image/png": "png", "image/jpeg": "jpg"}
MAX_STREAM_LINES = 200
DATA_URL = re.compile(r'src="data:((?:audio|image|video)/[\w.+-]+);base64,([A-Za-z0-9+/=\s]+)"')
MEDIA = {"audio/x-wav": "wav", "audio/wav": "wav", "audio/mpeg": "mp3", "image/jpeg": "jpg", "image/svg+xml": "svg"}


@dataclass
class Notebook:
    """One notebook page: its title in the navigation, its page, the committed notebook and the
    executed copy a run leaves (which may not exist)."""

    title: str
    uri: str
    source: Path
    executed: Path

    @property
    def path(self) -> Path:
        return self.executed if self.executed.is_file() else self.source


def result_root() -> Path:
    paths = helpers_module("paths")

    return Path(os.environ.get(RESULT_VARIABLE) or paths.RESULT)


def shown(path: Path) -> str:
    """A path as the reader knows it: relative to the project, else as it is."""
    paths = helpers_module("paths")

    try:
        return str(path.resolve().relative_to(paths.PROJECT_ROOT))
    except ValueError:
        return str(path)


def solution_notebooks(folder: Path, result: Path) -> list[Notebook]:
    """A solution folder's notebooks in the order a run executes them (by role), then any others."""
    notebooks = helpers_module("notebooks")

    found = notebooks.by_role(folder)
    ordered = [found[role] for role in notebooks.ROLES if role in found]
    ordered += sorted(p for p in folder.glob("*.ipynb") if p not in ordered)
    return [Notebook(_title(path), f"notebooks/{folder.name}/{path.stem}.md", path,
                     result / folder.name / "notebooks" / path.name) for path in ordered]


def all_notebooks() -> tuple[list[Notebook], dict[str, list[Notebook]], list[Notebook]]:
    """(notebooks before the solutions, each solution's, notebooks after), as a demo runs them."""
    paths = helpers_module("paths")
    solution_folders = helpers_module("solution").solution_folders

    result = result_root()
    overview = paths.NOTEBOOKS / "00-data-eda.ipynb"
    comparison = paths.NOTEBOOKS / "compare-solutions.ipynb"
    before = [Notebook("Data overview", "notebooks/data-overview.md", overview, result / overview.name)]
    after = [Notebook("Comparison", "notebooks/compare-solutions.md", comparison, result / comparison.name)]
    solutions = {folder.name: solution_notebooks(folder, result) for folder in solution_folders(paths.NOTEBOOKS)}
    return before, solutions, after


def _title(path: Path) -> str:
    """A solution notebook's title without the solution's name ('pytorch: Test' -> 'Test')."""
    heading = _heading(json.loads(path.read_text(encoding="utf-8")))
    return heading.split(": ", 1)[-1] if heading else path.stem


def _heading(notebook: dict) -> str:
    for item in notebook["cells"]:
        if item["cell_type"] == "markdown":
            for line in _text(item["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


def _fence(text: str, language: str = "text", title: str = "") -> list[str]:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    header = f'{ticks}{language}' + (f' title="{title}"' if title else "")
    return [header, text.rstrip("\n"), ticks, ""]


def _stream(text: str) -> str:
    text = ANSI.sub("", text)
    # a carriage return redraws its line (progress bars): keep what the line ended as
    lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    if len(lines) > MAX_STREAM_LINES:
        cut = len(lines) - MAX_STREAM_LINES
        lines = lines[:MAX_STREAM_LINES // 2] + [f"... ({cut} lines left out) ..."] + lines[-MAX_STREAM_LINES // 2:]
    return "\n".join(lines)


def _embedded(html: str, stem: str, files: dict[str, bytes]) -> str:
    """`html` with each embedded sound or picture (a base64 data URL, as IPython.display.Audio writes
    them) written to a file beside the page and linked: the page loads quickly, the media when played."""
    def save(match: re.Match) -> str:
        kind, data = match.group(1), match.group(2)
        extension = MEDIA.get(kind, kind.rsplit("/", 1)[-1].removeprefix("x-"))
        name = f"{stem}-{len(files) + 1}.{extension}"
        files[name] = base64.b64decode(re.sub(r"\s+", "", data))
        return f'src="{name}"'

    return DATA_URL.sub(save, html)


def _output(output: dict, image_stem: str, images: dict[str, bytes]) -> list[str]:
    kind = output.get("output_type")
    if kind == "stream":
        return _fence(_stream(_text(output.get("text"))), "text", "stderr" if output.get("name") == "stderr" else "")
    if kind == "error":
        return _fence(_stream("\n".join(output.get("traceback") or [f"{output.get('ename')}: {output.get('evalue')}"])))
    data = output.get("data", {})
    if WIDGET in data:
        return []
    for mime, extension in IMAGES.items():
        if mime in data:
            name = f"{image_stem}-{len(images) + 1}.{extension}"
            images[name] = base64.b64decode(_text(data[mime]))
            return [f"![a figure the cell drew]({name})", ""]
    if "image/svg+xml" in data:
        return [f'<div class="nb-figure">{_text(data["image/svg+xml"])}</div>', ""]
    if "text/html" in data:
        html = _embedded(_text(data["text/html"]).strip(), image_stem, images)
        return [f'<div class="nb-html" markdown="0">\n{html}\n</div>', ""]
    if "text/markdown" in data:
        return [_text(data["text/markdown"]), ""]
    if "text/plain" in data:
        return _fence(_stream(_text(data["text/plain"])))
    return []


def _about(notebook: Notebook, data: dict) -> list[str]:
    """The note under the page's heading: where the outputs come from, or how to get them."""
    source = shown(notebook.source)
    if not notebook.executed.is_file():
        return ['!!! note "Not executed"',
                f"    This is `{source}` as committed, without outputs. `make demo` (or `python -m helpers run`) "
                f"executes it into `{shown(notebook.executed)}`; the next `make docs` shows its outputs here.", ""]
    run = data.get("metadata", {}).get("papermill", {})
    when = run.get("end_time") or datetime.fromtimestamp(notebook.executed.stat().st_mtime).isoformat()
    parameters = ", ".join(f"`{k} = {v!r}`" for k, v in (run.get("parameters") or {}).items())
    duration = f" in {run['duration']:.0f} s" if isinstance(run.get("duration"), (int, float)) else ""
    lines = ['!!! info "Executed"',
             f"    `{source}` as executed on {when[:16].replace('T', ' ')} (UTC){duration}; the executed copy is "
             f"`{shown(notebook.executed)}`."]
    if parameters:
        lines[-1] += f" Parameters: {parameters}."
    return lines + [""]


def render(notebook: Notebook) -> tuple[str, dict[str, bytes]]:
    """The page's markdown and its images (name beside the page -> bytes)."""
    data = json.loads(notebook.path.read_text(encoding="utf-8"))
    stem = notebook.uri[:-3].rsplit("/", 1)[-1]
    images: dict[str, bytes] = {}
    lines: list[str] = []
    noted = False
    for number, item in enumerate(data["cells"]):
        source = _text(item.get("source"))
        if item["cell_type"] == "markdown":
            lines += [source, ""]
            if not noted and source.lstrip().startswith("# "):
                lines += _about(notebook, data)
                noted = True
        elif item["cell_type"] == "code":
            tags = item.get("metadata", {}).get("tags", [])
            title = ("parameters injected by papermill" if "injected-parameters" in tags
                     else "parameters" if "parameters" in tags else "")
            lines += _fence(source, "python", title)
            shown_outputs = [line for output in item.get("outputs", [])
                             for line in _output(output, f"{stem}_files/cell{number}", images)]
            if shown_outputs:  # set apart from the code (docs/stylesheets/extra.css)
                lines += ['<div class="nb-output" markdown>', "", *shown_outputs, "</div>", ""]
    if not noted:
        lines = [f"# {notebook.title}", "", *_about(notebook, data), *lines]
    return "\n".join(lines), images


def _index(before: list[Notebook], solutions: dict[str, list[Notebook]], after: list[Notebook]) -> str:
    rows = []
    for notebook in [*before, *(n for group in solutions.values() for n in group), *after]:
        link = f"[{cell(notebook.title)}]({notebook.uri.removeprefix('notebooks/')})"
        if notebook.executed.is_file():
            state = f"executed ({datetime.fromtimestamp(notebook.executed.stat().st_mtime):%Y-%m-%d})"
        else:
            state = "not executed"
        rows.append(f"| `{shown(notebook.source)}` | {link} | {state} |")
    executed = sum("| executed" in row for row in rows)
    return "\n".join([
        "# Notebooks", "",
        "The notebooks a demo runs, in its order: the data overview, each solution's training, test and "
        "visualisation notebooks, and the comparison of the runs. Each page shows the notebook's code and, when a "
        f"run has executed it, its outputs: the executed copies under `{shown(result_root())}/` "
        f"({executed} of {len(rows)} here). `make demo` executes every one on the small synthetic dataset; "
        "the next `make docs` shows what it drew. Building the documentation never runs a notebook.", "",
        "| notebook | page | outputs |", "|---|---|---|", *rows, ""])


def on_files(files, config):
    before, solutions, after = all_notebooks()
    children = []
    for notebook in before:
        children.append({notebook.title: notebook.uri})
    for name, group in solutions.items():
        children.append({name: [{n.title: n.uri} for n in group]})
    for notebook in after:
        children.append({notebook.title: notebook.uri})
    for notebook in [*before, *(n for group in solutions.values() for n in group), *after]:
        page, images = render(notebook)
        add_page(config, files, notebook.uri, page)
        folder = notebook.uri.rsplit("/", 1)[0]
        for name, content in images.items():
            add_page(config, files, f"{folder}/{name}", content)
    add_page(config, files, INDEX, _index(before, solutions, after))
    expand_nav(config, INDEX, children)
    return files
