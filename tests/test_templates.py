"""Every solution's notebooks are rendered from one template (helpers.execution.notebooks) and its config.yaml;
notebooks declare their roles, and the runner goes by the roles; SCORING_BACKEND reaches every
notebook of a run.

The notebook runs here are short (one epoch, one machine type); tests/test_notebooks.py runs every
solution's rendered notebooks in full.
"""
import json
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

from helpers import paths
from helpers.detectors import solution
from helpers.execution import cli, notebooks, runner
from helpers.experiments import pipeline
from helpers.detectors.detector import Detector, detector_path
from helpers.errors import ConfigError
from helpers.experiments.results import read_scores
from helpers.detectors.solution import solution_folders

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


def test_every_notebook_of_the_vae_declares_its_weights(tmp_path):
    """As the template renders them: each of the three has the parameters config.yaml declares."""
    for path, text in notebooks.render(paths.NOTEBOOKS / "vae").items():
        (tmp_path / path.name).write_text(text)
        declared = papermill.inspect_notebook(str(tmp_path / path.name))
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
    model = pipeline.load_detector(narrow, "fan", tmp_path / "result")
    train_clips = pipeline.train_clips(narrow, "fan", tmp_path / "result")
    other = pipeline.training_fingerprint(solution.load(folder, {"training.epochs": 1}), train_clips)
    assert model.fingerprint == pipeline.training_fingerprint(narrow, train_clips) != other
    assert 3 in {layer.out_features for layer in model.net.modules() if hasattr(layer, "out_features")}


# Roles

def test_a_notebook_declares_its_role_and_without_one_its_file_name_says(tmp_path):
    folder = copy_solution(tmp_path)
    assert {r: p.name for r, p in notebooks.by_role(folder).items()} == notebooks.FILE_NAMES
    test = folder / "01-test.ipynb"
    notebook = json.loads(test.read_text())
    del notebook["metadata"]["dcase"]
    test.write_text(json.dumps(notebook))
    assert notebooks.role_of(test) == "test"  # the template's notebook of that name
    notebook["metadata"]["dcase"] = {"role": "tset"}
    test.write_text(json.dumps(notebook))
    with pytest.raises(ConfigError, match=r"01-test.ipynb: metadata dcase.role 'tset' is not a role \(did you mean 'test'\?\)"):
        notebooks.role_of(test)
    for other in ("00-data-eda.ipynb", "compare-solutions.ipynb"):
        assert notebooks.role_of(paths.NOTEBOOKS / other) is None
        assert runner.default_timeout(paths.NOTEBOOKS / other) == runner.CELL_TIMEOUT


def test_a_copy_made_to_experiment_leaves_the_folder_notebook_in_place(tmp_path):
    folder = copy_solution(tmp_path)
    shutil.copy(folder / "01-test.ipynb", folder / "01-test-Copy1.ipynb")
    assert notebooks.by_role(folder)["test"] == folder / "01-test.ipynb"
    (folder / "01-test.ipynb").rename(folder / "scores.ipynb")
    with pytest.raises(ConfigError, match=r"2 notebooks have the role 'test' \(01-test-Copy1.ipynb, scores.ipynb\)"):
        notebooks.by_role(folder)


def _executed(output) -> Path:
    """An executed copy as a recorder leaves it: a notebook with no output (nothing recorded)."""
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(), output)
    return Path(output)


@pytest.fixture
def recorded_notebooks(monkeypatch):
    """Replace notebook execution by a recorder of (file name, parameters, timeout the cells get)."""
    calls = []

    def execute(source, output, parameters, timeout=None, **options):
        calls.append((Path(source).name, parameters, timeout or runner.default_timeout(source)))
        return _executed(output)

    monkeypatch.setattr(runner, "execute_notebook", execute)
    return calls


def test_a_renamed_training_notebook_still_trains(tmp_path, recorded_notebooks):
    """The role, not the file name: fit.ipynb gets the training cells' time limit, EPOCHS and RETRAIN,
    a test notebook renamed 00-scores.ipynb none of them, and both keep their names when the folder
    is rendered again."""
    folder = copy_solution(tmp_path)
    (folder / "00-train-with-visual.ipynb").rename(folder / "fit.ipynb")
    (folder / "01-test.ipynb").rename(folder / "00-scores.ipynb")
    assert runner.default_timeout(folder / "fit.ipynb") == runner.TRAINING_CELL_TIMEOUT
    assert runner.default_timeout(folder / "00-scores.ipynb") == runner.CELL_TIMEOUT
    runner.run_solution(folder, tmp_path / "data", tmp_path / "result", "fan", epochs=3, retrain=True,
                        scoring_backend="knn")
    names = [name for name, _, _ in recorded_notebooks]
    assert names == ["fit.ipynb", "00-scores.ipynb", "02-visualize-predictions.ipynb"]
    train, scores, visual = (parameters for _, parameters, _ in recorded_notebooks)
    assert train["EPOCHS"] == 3 and train["RETRAIN"] is True
    assert "EPOCHS" not in scores and "RETRAIN" not in visual
    assert all(p["SCORING_BACKEND"] == "knn" and p["RUN_NAME"] == "my_idea" for p in (train, scores, visual))
    assert [t for _, _, t in recorded_notebooks] == [runner.TRAINING_CELL_TIMEOUT] + [runner.CELL_TIMEOUT] * 2
    assert notebooks.write([folder]) == []
    assert sorted(p.name for p in folder.glob("*.ipynb")) == ["00-scores.ipynb", "02-visualize-predictions.ipynb",
                                                             "fit.ipynb"]


def test_a_notebook_without_scoring_backend_is_refused_before_it_runs(tmp_path, recorded_notebooks):
    folder = copy_solution(tmp_path)
    old = nbformat.read(folder / "01-test.ipynb", as_version=4)
    old.cells[2].source = "\n".join(line for line in old.cells[2].source.splitlines()
                                    if not line.startswith("SCORING_BACKEND"))
    nbformat.write(old, folder / "01-test.ipynb")
    with pytest.raises(ConfigError, match=r"01-test.ipynb: unknown parameter\(s\) \['SCORING_BACKEND'\].*"
                                          r"`python -m helpers notebooks` renders them"):
        runner.run_solution(folder, tmp_path / "data", tmp_path / "result", roles=("test",), scoring_backend="gmm")
    assert recorded_notebooks == []


# The scoring back end

def test_the_back_end_fitted_in_training_is_the_one_the_test_scores_with(tiny_data, tmp_path):
    """SCORING_BACKEND knn: the training notebook fits it, the test notebook uses it as fitted; a
    test notebook run alone with another back end (gmm) fits that one first."""
    folder, root = paths.NOTEBOOKS / "pytorch", tmp_path / "result"
    run = runner.run_solution(folder, tiny_data, root, "fan", epochs=1, timeout=CELL_TIMEOUT, roles=("train",),
                              scoring_backend="knn")
    knn = solution.load(folder, {"scoring.backend": "knn"})
    fitted = detector_path(run, "fan")
    saved = Detector.load(knn, fitted)
    assert saved.current() and saved.densities["fan"].kind == "knn"
    stamp = fitted.stat().st_mtime_ns

    runner.run_solution(folder, tiny_data, root, "fan", timeout=CELL_TIMEOUT, roles=("test",), scoring_backend="knn")
    assert fitted.stat().st_mtime_ns == stamp
    expected = pipeline.score_machine_type(knn, tiny_data, "fan", root, progress=False)
    mse = pipeline.score_machine_type(solution.load(folder), tiny_data, "fan", root, progress=False)
    written = read_scores(run / "anomaly_score_fan_id_00.csv").set_index("file_name")["score"]
    wanted = expected[expected["section"] == "00"].set_index("file_name")["score"]
    assert written.sort_index().to_numpy() == pytest.approx(wanted.sort_index().to_numpy(), rel=1e-6)
    assert not mse.set_index("path")["score"].equals(expected.set_index("path")["score"])

    runner.run_solution(folder, tiny_data, root, "fan", timeout=CELL_TIMEOUT, roles=("test",), scoring_backend="gmm")
    saved = Detector.load(solution.load(folder, {"scoring.backend": "gmm"}), fitted)
    assert saved.current() and saved.densities["fan"].kind == "gmm"


# The command line

@pytest.fixture
def recorded_runs(monkeypatch):
    calls = []
    monkeypatch.setattr(runner, "run_solution", lambda folder, *a, **k: calls.append((folder.name, k)) or
                        Path(k.get("run_name") or folder.name))
    monkeypatch.setattr(runner, "run_comparison", lambda *a, **k: None)
    monkeypatch.setattr(cli, "_print_results", lambda *a: None)
    return calls


def test_run_passes_the_scoring_back_end_and_the_run_name(recorded_runs, tmp_path):
    assert cli.main(["run", "--solution", "pytorch", "--scoring-backend", "mahalanobis", "--run-name", "pytorch-maha",
                     "--result-dir", str(tmp_path)]) == 0
    ((name, options),) = recorded_runs
    assert name == "pytorch" and options["scoring_backend"] == "mahalanobis" and options["run_name"] == "pytorch-maha"


@pytest.mark.parametrize("argv, message", [
    (["--solution", "pytorch,vae", "--run-name", "x"], "--run-name names the run of one solution"),
    (["--solution", "vae,pytorch", "--scoring-backend", "nll"],
     "setting 'scoring.backend' must be one of ('mse', 'mahalanobis', 'knn', 'gmm') for training.objective "
     "'reconstruction'"),
])
def test_run_refuses_before_running_anything(recorded_runs, tmp_path, capsys, argv, message):
    assert cli.main(["run", *argv, "--result-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err and recorded_runs == []


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
    assert error == ["error: 2 notebook(s) differ from what helpers/execution/notebook_template/ renders for their folder's "
                     "config.yaml:",
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
