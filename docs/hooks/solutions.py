"""MkDocs hook: one page per solution folder under notebooks/ (every folder with a config.yaml, so a
copied folder gets its page with no edit): its idea (config.yaml's description and about, model.py's
docstring and build_model's signature), its settings (the file, and where they differ from the
defaults of helpers/detectors/config.py), its notebook parameters, what its notebooks draw (linked to the
notebook pages) and, when a run has left them under the result folder, its last official figures and
loss curves. model.py is read, never imported."""
from __future__ import annotations

import ast
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import add_page, cell, code, expand_nav, helpers_module, module_docstring, prose, summary  # noqa: E402
from notebook_pages import result_root, shown, solution_notebooks  # noqa: E402

INDEX = "solutions/index.md"


def _build_model_signature(model_py: Path) -> str:
    """build_model's signature as written in model.py, one argument a line when it is long."""
    tree = ast.parse(model_py.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "build_model":
            arguments = _arguments(node.args)
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            one_line = f"build_model({', '.join(arguments)}){returns}"
            if len(one_line) <= 90:
                return one_line
            return "build_model(\n" + "".join(f"    {a},\n" for a in arguments) + f"){returns}"
    return ""


def _arguments(args: ast.arguments) -> list[str]:
    def one(arg: ast.arg, default=None, prefix: str = "") -> str:
        text = prefix + arg.arg + (f": {ast.unparse(arg.annotation)}" if arg.annotation else "")
        if default is not None:
            text += f" = {ast.unparse(default)}" if arg.annotation else f"={ast.unparse(default)}"
        return text

    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    found = [one(arg, default) for arg, default in zip(positional, defaults)]
    if args.posonlyargs:
        found.insert(len(args.posonlyargs), "/")
    if args.vararg:
        found.append(one(args.vararg, prefix="*"))
    elif args.kwonlyargs:
        found.append("*")
    found += [one(arg, default) for arg, default in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        found.append(one(args.kwarg, prefix="**"))
    return found


def _differences(loaded: dict, defaults: dict) -> list[tuple[str, object, object]]:
    config = helpers_module("config")

    rows = []
    for section, keys in config.SCHEMA.items():
        for name in keys:
            if loaded[section][name] != defaults[section][name]:
                rows.append((f"{section}.{name}", loaded[section][name], defaults[section][name]))
    for key in config.TOP_LEVEL:
        if key not in ("model", "notebook", "description") and loaded[key] != defaults[key]:
            rows.append((key, loaded[key], defaults[key]))
    return rows


def _headings(notebook_path: Path) -> list[str]:
    """The second-level headings of a notebook's markdown cells: what it shows, in order."""
    found = []
    for item in json.loads(notebook_path.read_text(encoding="utf-8"))["cells"]:
        if item["cell_type"] == "markdown":
            found += [line[3:].strip() for line in "".join(item["source"]).splitlines() if line.startswith("## ")]
    return found


def _slug(text: str) -> str:
    from markdown.extensions.toc import slugify

    return slugify(text, "-")


def _last_run(name: str) -> list[str]:
    """The official figures and loss curves a run of the solution left, or how to get them."""
    run = result_root() / name
    metrics_file = run / "metrics.json"
    if not metrics_file.is_file():
        return [f"No run of `{name}` under `{shown(result_root())}/` yet: `make demo` (10 epochs on the small "
                f"synthetic dataset) or `python -m helpers run --solution {name}` trains and tests it, and the next "
                f"`make docs` shows its official figures and loss curves here.", ""]
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    summary_file = run / "train_summary.csv"
    epochs = ""
    if summary_file.is_file():
        with summary_file.open(newline="", encoding="utf-8") as handle:
            counts = sorted({row["epochs"] for row in csv.DictReader(handle) if row.get("epochs")}, key=float)
        if counts:
            epochs = f"trained {' to '.join(counts[::max(1, len(counts) - 1)])} epochs, "
    lines = [f"From `{shown(metrics_file)}` ({metrics.get('edition', '')}, data `{metrics.get('data_dir', '')}`, "
             f"{epochs}scored with `{metrics.get('scoring_backend', '')}`): official score "
             f"**{metrics['official_score']:.4f}** over every machine type.", "",
             "| machine type | official score |", "|---|---|"]
    lines += [f"| {cell(kind)} | {figures['official_score']:.4f} |"
              for kind, figures in metrics.get("machine_types", {}).items()]
    lines.append("")
    return lines


def _loss_curves(name: str) -> tuple[list[str], dict[str, bytes]]:
    curves = sorted((result_root() / name).glob("loss_*.png"))
    if not curves:
        return [], {}
    lines = ["Training and validation loss per epoch, one model per machine type:", ""]
    images = {}
    for path in curves:
        image = f"{name}_files/{path.name}"
        images[f"solutions/{image}"] = path.read_bytes()
        lines += [f"![{path.stem.removeprefix('loss_')}: loss per epoch]({image})", ""]
    return lines, images


def page(folder: Path) -> tuple[str, dict[str, bytes]]:
    config = helpers_module("config")

    name = folder.name
    loaded = config.load(folder / "config.yaml")
    defaults = config.defaults()
    about = loaded["notebook"]["about"] or loaded["description"]
    lines = [f"# {name}", "", f"**{prose(loaded['description'])}**" if loaded["description"] else "", "",
             prose(about), ""]

    lines += ["## The network", ""]
    model_py = folder / "model.py"
    docstring = module_docstring(model_py) if model_py.is_file() else ""
    trains = helpers_module("objectives").objective(loaded["training"]["objective"]).trains
    framework = {"torch": "PyTorch, trained by the shared Lightning loop" if trains else "PyTorch; nothing is trained",
                 "keras": "Keras 3 on TensorFlow"}
    lines += [f"Framework: `{loaded['framework']}` ({framework.get(loaded['framework'], loaded['framework'])}); "
              f"objective: `{loaded['training']['objective']}`; input kind: `{loaded['inputs']['kind']}`; "
              f"score: `{loaded['scoring']['backend']}`.", ""]
    if docstring:
        lines += [f"From `{shown(model_py)}`:", "", *(f"> {prose(line)}" if line else ">" for line in docstring.splitlines()), ""]
    signature = _build_model_signature(model_py) if model_py.is_file() else ""
    if signature:
        lines += _fence_python(signature)
        lines += ["`config.yaml`'s `model` section gives the keyword arguments."
                  + (" They are: " + ", ".join(f"`{k}` = {code(v)}" for k, v in loaded["model"].items()) + "."
                     if loaded["model"] else ""), ""]

    lines += ["## Its settings", ""]
    rows = _differences(loaded, defaults)
    if rows:
        lines += ["Where it differs from the defaults ([every setting](../settings.md)):", "",
                  "| setting | here | default |", "|---|---|---|"]
        lines += [f"| `{key}` | {code(value)} | {code(default)} |" for key, value, default in rows]
        lines.append("")
    else:
        lines += ["Every setting at its default ([every setting](../settings.md)).", ""]
    parameters = loaded["notebook"]["parameters"]
    if parameters:
        lines += ["Notebook parameters of its own (beside the [shared ones](../settings.md#notebook-parameters)):", "",
                  "| parameter | overrides | meaning |", "|---|---|---|"]
        lines += [f"| `{p}` | `{spec['setting']}` | {cell(spec['comment'])} |" for p, spec in parameters.items()]
        lines.append("")
    text = (folder / "config.yaml").read_text(encoding="utf-8")
    lines += ['??? abstract "config.yaml"', "", *("    " + line if line else "" for line in
                                                  _fence_yaml(text, f"notebooks/{name}/config.yaml")), ""]

    lines += ["## Its notebooks and figures", ""]
    result = result_root()
    for notebook in solution_notebooks(folder, result):
        target = f"../{notebook.uri}"
        shows = _headings(notebook.path)
        state = "executed" if notebook.executed.is_file() else "not executed yet"
        lines.append(f"- [{notebook.title}]({target}) (`{notebook.source.name}`, {state})"
                     + (": " + "; ".join(f"[{cell(h)}]({target}#{_slug(h)})" for h in shows) if shows else ""))
    lines.append("")
    lines += ["### Its last run", ""]
    lines += _last_run(name)
    curves, images = _loss_curves(name)
    lines += curves
    return "\n".join(lines), images


def _fence_python(text: str) -> list[str]:
    return ["```python", text, "```", ""]


def _fence_yaml(text: str, title: str) -> list[str]:
    return [f'```yaml title="{title}"', *text.rstrip("\n").splitlines(), "```"]


def _index(folders: list[Path]) -> str:
    config = helpers_module("config")

    rows = []
    for folder in folders:
        loaded = config.load(folder / "config.yaml")
        rows.append(f"| [{folder.name}]({folder.name}.md) | `{loaded['framework']}` | "
                    f"`{loaded['training']['objective']}` | `{loaded['inputs']['kind']}` | "
                    f"{cell(loaded['description'] or summary(module_docstring(folder / 'model.py')))} |")
    return "\n".join([
        "# Solutions", "",
        "A solution is a folder under `notebooks/` with a `config.yaml` (its settings) and a `model.py` (its "
        "network, `build_model`); its three notebooks are rendered from one template. Each page here is made from "
        "the folder itself, so a new folder gets its page with the next `make docs`. How a solution scores, and "
        "how the runs compare: [Using the solutions](../solutions.md); making one: "
        "[Writing your own solution](../your-own-solution.md).", "",
        "| solution | framework | objective | input | what it is |", "|---|---|---|---|---|", *rows, ""])


def on_files(files, config):
    paths = helpers_module("paths")
    solution_folders = helpers_module("solution").solution_folders

    folders = solution_folders(paths.NOTEBOOKS)
    for folder in folders:
        text, images = page(folder)
        add_page(config, files, f"solutions/{folder.name}.md", text)
        for uri, content in images.items():
            add_page(config, files, uri, content)
    add_page(config, files, INDEX, _index(folders))
    expand_nav(config, INDEX, [{folder.name: f"solutions/{folder.name}.md"} for folder in folders])
    return files
