"""Every solution's notebooks are rendered from one template (helpers.notebooks) and its config.yaml.

The notebook runs here are short (one epoch, one machine type); tests/test_notebooks.py runs every
solution's rendered notebooks in full.
"""
import json
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

from helpers import cli, notebooks, paths, pipeline, runner, solution
from helpers.errors import ConfigError
from helpers.solution import solution_folders

CELL_TIMEOUT = 300


def copy_solution(tmp_path, name="pytorch", as_name="my_idea") -> Path:
    folder = tmp_path / "notebooks" / as_name
    shutil.copytree(paths.NOTEBOOKS / name, folder)
    return folder


def cells(text: str) -> list[dict]:
    return json.loads(text)["cells"]


def by_name(rendered: dict) -> dict:
    return {path.name: text for path, text in rendered.items()}


def set_notebook_section(folder: Path, section: str) -> None:
    """Replace the notebook section (the last one of every committed config.yaml) by `section`."""
    text = (folder / "config.yaml").read_text()
    (folder / "config.yaml").write_text(text[:text.index("\nnotebook:")] + "\n" + section)


def test_every_solution_folder_is_what_the_template_renders():
    """A folder whose notebooks drifted from the template (or were saved with outputs) fails here,
    named, with the command that regenerates it."""
    stale = notebooks.differences(solution_folders())
    assert not stale, notebooks.stale_message(stale)


def test_rendering_is_deterministic_and_clean():
    """No outputs, no execution counts, ids from role and position, the parameters tag; twice the same bytes."""
    for folder in solution_folders():
        first = notebooks.render(folder)
        assert first == notebooks.render(folder)
        assert sorted(p.name for p in first) == sorted(notebooks.FILE_NAMES.values())
        for path, text in first.items():
            notebook = nbformat.reads(text, as_version=4)
            nbformat.validate(notebook)
            role = notebook.metadata["dcase"]["role"]
            assert notebooks.FILE_NAMES[role] == path.name
            assert [c.id for c in notebook.cells] == [f"{role}-{i:02d}" for i in range(len(notebook.cells))]
            code = [c for c in notebook.cells if c.cell_type == "code"]
            assert all(c.outputs == [] and c.execution_count is None for c in code)
            tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
            assert tagged == [2] and code[0].source.startswith(("import", "from"))
            assert "{{" not in text


def test_a_copied_folder_renders_as_the_original_except_where_its_config_differs(tmp_path):
    original = by_name(notebooks.render(paths.NOTEBOOKS / "pytorch"))
    folder = copy_solution(tmp_path)
    assert by_name(notebooks.render(folder)) == original
    assert notebooks.differences([folder]) == []  # copied as it is, the folder is up to date

    set_notebook_section(folder, "notebook:\n  title: my idea\n  about: A wider bottleneck.\n  parameters:\n"
                                 "    BOTTLENECK: {setting: model.bottleneck, comment: 'width of the code (int ≥ 1)'}\n")
    changed = by_name(notebooks.render(folder))
    line = "BOTTLENECK = None      # width of the code (int ≥ 1); None: config.yaml (model.bottleneck)"
    for name, text in changed.items():
        before, after = cells(original[name]), cells(text)
        assert len(before) == len(after)
        differing = [i for i, (b, a) in enumerate(zip(before, after)) if b != a]
        assert differing == [0, 2, 3], name  # the introduction, the parameters, the overrides
        intro = "".join(after[0]["source"])
        assert intro.startswith("# my idea: ") and "\n\nA wider bottleneck.\n\n" in intro
        assert "".join(after[2]["source"]) == "".join(before[2]["source"]) + "\n" + line
        assert '    "model.bottleneck": BOTTLENECK,\n' in "".join(after[3]["source"])
        assert "".join(after[3]["source"]).replace('    "model.bottleneck": BOTTLENECK,\n', "") == \
            "".join(before[3]["source"])
    assert len(notebooks.differences([folder])) == 3


def test_without_a_notebook_section_the_description_is_the_introduction(tmp_path):
    folder = copy_solution(tmp_path)
    set_notebook_section(folder, "")
    rendered = by_name(notebooks.render(folder))
    description = solution.load(folder).config["description"]
    for name, text in rendered.items():
        intro = "".join(cells(text)[0]["source"])
        assert intro.split("\n\n")[:2] == [intro.split("\n")[0], description]
        assert not intro.startswith("# pytorch") and "\n\n\n" not in intro
    assert "".join(cells(rendered["00-train-with-visual.ipynb"])[0]["source"]).startswith("# Training\n\n")


@pytest.mark.parametrize("parameter, message", [
    ("EPOCHS: {setting: model.hidden, comment: c}", "every notebook has the parameter EPOCHS already"),
    ("MY_EPOCHS: {setting: training.epochs, comment: c}", "the setting training.epochs is a parameter of the template"),
])
def test_a_declared_parameter_may_not_shadow_the_templates(tmp_path, parameter, message):
    folder = copy_solution(tmp_path)
    set_notebook_section(folder, f"notebook:\n  parameters:\n    {parameter}\n")
    with pytest.raises(ConfigError, match=rf"my_idea/config.yaml \[notebook.parameters.\w+\]: {message}"):
        notebooks.render(folder)


def test_every_notebook_of_the_vae_declares_its_weights():
    for path in notebooks.by_role(paths.NOTEBOOKS / "vae").values():
        declared = papermill.inspect_notebook(str(path))
        assert {"RECONSTRUCTION_WEIGHT", "KL_WEIGHT", "SCORING_BACKEND"} <= set(declared), path.name


def test_a_parameter_declared_in_config_yaml_reaches_the_model(tiny_data, tmp_path):
    """Declared in a copied folder's config.yaml, rendered by the command, set through papermill,
    it builds the network."""
    folder = copy_solution(tmp_path)
    set_notebook_section(folder, "notebook:\n  parameters:\n"
                                 "    BOTTLENECK: {setting: model.bottleneck, comment: 'width of the code (int ≥ 1)'}\n")
    assert notebooks.write([folder]) == [folder / name for name in notebooks.FILE_NAMES.values()]
    runner.execute_notebook(folder / "00-train-with-visual.ipynb", tmp_path / "train.ipynb",
                            {"DATA_DIR": str(tiny_data), "RESULT_ROOT": str(tmp_path / "result"),
                             "MACHINE_TYPES": "fan", "EPOCHS": 1, "BOTTLENECK": 3}, timeout=CELL_TIMEOUT)
    narrow = solution.load(folder, {"model.bottleneck": 3, "training.epochs": 1})
    model = pipeline.load_model(narrow, "fan", tmp_path / "result")
    assert model.fingerprint == narrow.fingerprint() != solution.load(folder, {"training.epochs": 1}).fingerprint()
    assert 3 in {layer.out_features for layer in model.net.modules() if hasattr(layer, "out_features")}


def test_the_notebooks_command_checks_and_writes(tmp_path, monkeypatch, capsys):
    pytorch, vae = copy_solution(tmp_path, "pytorch", "pytorch"), copy_solution(tmp_path, "vae", "vae")
    monkeypatch.setattr(paths, "NOTEBOOKS", tmp_path / "notebooks")
    assert cli.main(["notebooks", "--check"]) == 0
    assert "the notebooks of 2 solution folder(s) are as the template renders them" in capsys.readouterr().out

    edited = nbformat.read(vae / "01-test.ipynb", as_version=4)
    edited.cells[5].source += "\ntable"
    nbformat.write(edited, vae / "01-test.ipynb")
    (pytorch / "02-visualize-predictions.ipynb").unlink()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.ipynb")}
    assert cli.main(["notebooks", "--check"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [f"error: 2 notebook(s) differ from what helpers/notebook_template/ renders for their folder's "
                     f"config.yaml:",
                     f"  {pytorch / '02-visualize-predictions.ipynb'} (missing)",
                     f"  {vae / '01-test.ipynb'} (cell 6: source)",
                     "regenerate them with `python -m helpers notebooks` (edit the template or config.yaml instead)"]
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.ipynb")} == before  # --check writes nothing
    assert cli.main(["notebooks", "--check", "--solution", "pytorch"]) == 2
    assert "vae" not in capsys.readouterr().err

    assert cli.main(["notebooks"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == [f"wrote {pytorch / '02-visualize-predictions.ipynb'}", f"wrote {vae / '01-test.ipynb'}"]
    assert printed[2].startswith("2 notebook(s) rewritten")
    for name in notebooks.FILE_NAMES.values():
        for folder in (pytorch, vae):
            assert (folder / name).read_bytes() == (paths.PROJECT_ROOT / "notebooks" / folder.name / name).read_bytes()
    assert cli.main(["notebooks"]) == 0
    assert capsys.readouterr().out.startswith("0 notebook(s) rewritten")
