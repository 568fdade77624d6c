"""Every notebook runs under papermill on the tiny synthetic data, with a timeout per cell.

Solutions are discovered from notebooks/*/config.yaml, so a copied solution folder is tested
without editing this file.
"""
import json
import math
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers import paths, recording
from helpers.data import layout
from helpers.detectors import detector, solution
from helpers.execution import runner
from helpers.experiments.results import collect_results, read_result_csv, read_scores
from helpers.detectors.solution import solution_folders

CELL_TIMEOUT = 300
TYPES = "ToyCar"  # the 11 s type; 10 s clips are covered by the unit tests
EPOCHS = 2
VAE_WEIGHTINGS = [(1.0, 0.01), (0.0, 1.0)]  # a weighted sum, and one term alone


@pytest.fixture(scope="module")
def result_root(tmp_path_factory):
    return tmp_path_factory.mktemp("result")


def data_test_ids(data: Path, machine_type: str) -> list[str]:
    """The machine IDs of the test clips in the data folder itself (not read back from a result)."""
    return layout.sections(layout.list_clips(data, machine_type, "test"))


def check_result_files(run_dir: Path, data: Path, types: list[str]):
    """Every ID of the data has its score file with every test clip, and result.csv its row."""
    table = read_result_csv(run_dir / "result.csv")
    assert list(dict.fromkeys(table["machine_type"])) == types
    for value in table[["AUC", "pAUC"]].to_numpy().ravel():
        assert math.isfinite(value) and 0.0 <= value <= 1.0
    for machine_type in types:
        rows = table[table["machine_type"] == machine_type]
        assert list(rows["section"]) == data_test_ids(data, machine_type) + ["Average"]
        assert rows["AUC"].iloc[-1] == pytest.approx(rows["AUC"].iloc[:-1].mean())
        for section in data_test_ids(data, machine_type):
            clips = [c.name for c in layout.list_clips(data, machine_type, "test") if c.section == section]
            scores = read_scores(run_dir / f"anomaly_score_{machine_type}_id_{section}.csv")
            assert sorted(scores["file_name"]) == sorted(clips)
            assert scores["score"].map(math.isfinite).all()
            decided = read_scores(run_dir / f"decision_result_{machine_type}_id_{section}.csv")
            assert decided["file_name"].tolist() == scores["file_name"].tolist() and set(decided["score"]) <= {0, 1}


def check_recorded_metrics(run_dir: Path, run_name: str):
    """What the 01 notebook showed and recorded is what result.csv and metrics.json hold."""
    recorded = recording.recorded_metrics(run_dir / "notebooks" / "01-test.ipynb")
    assert recorded["run_name"] == run_name
    shown = pd.DataFrame(recorded["rows"])
    written = read_result_csv(run_dir / "result.csv").replace({"section": {"Average": "arithmetic mean"}})
    merged = written.merge(shown, on=["machine_type", "section"], suffixes=("_csv", "_shown"), validate="1:1")
    assert len(merged) == len(written)
    for metric in ("AUC", "pAUC", "precision", "recall", "F1 score"):
        assert merged[f"{metric}_shown"].to_numpy() == pytest.approx(merged[f"{metric}_csv"].to_numpy(), abs=1e-12)
    payload = json.loads((run_dir / "metrics.json").read_text())
    assert recorded["year"] == payload["year"] == 2020
    for machine_type, entry in payload["machine_types"].items():
        rows = shown[shown["machine_type"] == machine_type].set_index("section")
        assert entry["official_score"] == pytest.approx(rows.loc["arithmetic mean", "official score"], abs=1e-12)
        for metric, key in (("AUC", "auc"), ("pAUC", "pauc"), ("F1 score", "f1")):
            assert entry["arithmetic_mean"][key] == pytest.approx(rows.loc["arithmetic mean", metric], abs=1e-12)
            assert entry["harmonic_mean"][key] == pytest.approx(rows.loc["harmonic mean", metric], abs=1e-12)
            means = ["arithmetic mean", "harmonic mean"]
            assert [r[key] for r in entry["sections"]] == pytest.approx(list(rows[metric].drop(means)), abs=1e-12)


def images(executed: Path) -> list[int]:
    """The number of PNG images each code cell of an executed notebook shows."""
    cells = nbformat.read(executed, as_version=4).cells
    return [sum("image/png" in o.get("data", {}) for o in c.get("outputs", [])) for c in cells if c.cell_type == "code"]


def test_data_overview_notebook(tiny_data, tmp_path):
    output = runner.execute_notebook(paths.NOTEBOOKS / "00-data-eda.ipynb", tmp_path / "eda.ipynb",
                                     {"DATA_DIR": str(tiny_data), "CLIPS_PER_LABEL": 2, "AUDIO_PLAYERS": 1},
                                     timeout=CELL_TIMEOUT)
    text = output.read_text()
    assert sum(images(output)) >= 3
    assert text.count("data:audio/x-wav") == 6 * 2  # one player per label and machine type
    clips = sum(len(layout.list_clips(tiny_data, t, split)) for t in layout.machine_types(tiny_data) for split in layout.SPLITS)
    assert f"{clips} clips under {tiny_data}" in text


@pytest.mark.parametrize("folder", solution_folders(), ids=lambda f: f.name)
def test_solution_notebooks(folder, tiny_data, result_root):
    run_dir = runner.run_solution(folder, tiny_data, result_root, TYPES, epochs=EPOCHS, retrain=True,
                                  timeout=CELL_TIMEOUT)
    types = TYPES.split(",")
    check_result_files(run_dir, tiny_data, types)
    check_recorded_metrics(run_dir, folder.name)
    sol = solution.load(folder)
    scopes = [detector.scope_name(sol, scope) for scope in detector.scopes(sol, types)]  # types, or all_types
    epochs = EPOCHS if sol.objective.trains else 0  # a frozen network's solution trains nothing
    for scope in scopes:
        history = pd.read_csv(run_dir / f"history_{scope}.csv")
        assert list(history["epoch"]) == (list(range(1, EPOCHS + 1)) if epochs else [0])
        if epochs:
            assert history["loss"].map(math.isfinite).all() and history["val_loss"].map(math.isfinite).all()
        loss_figure = run_dir / f"loss_{scope}.png"
        assert (loss_figure.stat().st_size > 5_000) if epochs else not loss_figure.exists()
    # headless, the loss figure is shown once per network, when its training ends (not once per epoch)
    assert sum(images(run_dir / "notebooks" / "00-train-with-visual.ipynb")) == (len(scopes) if epochs else 0)
    summary = pd.read_csv(run_dir / "train_summary.csv")
    assert list(summary["machine_type"]) == scopes and (summary["epochs"] == epochs).all()
    assert not summary["reused"].any()
    visual = run_dir / "notebooks" / "02-visualize-predictions.ipynb"
    # per machine type one figure of panels and one of scores over time, and a map of the
    # embeddings for a network that has them
    written = json.loads((run_dir / "metrics.json").read_text())
    assert (written["objective"], written["scoring_backend"]) == (sol.objective.name, sol.config["scoring"]["backend"])
    mapped = hasattr(sol.build_model(2), "embed")  # 2 classes, where the objective learns classes
    assert sum(images(visual)) == (3 if mapped else 2) * len(types)
    cells = nbformat.read(visual, as_version=4).cells
    text = visual.read_text()
    for why in ("typical normal", "typical anomaly", "highest-scored normal", "lowest-scored anomaly"):
        assert why in text
    assert "interactive in JupyterLab" in cells[-1].outputs[0]["data"]["text/markdown"]


@pytest.mark.parametrize("reconstruction,kl", VAE_WEIGHTINGS)
def test_vae_weightings_are_parameters(reconstruction, kl, tiny_data, tmp_path):
    """Each weighting is a run of the one training notebook; its settings reach the model."""
    run = f"vae-{reconstruction:g}-{kl:g}"
    runner.execute_notebook(paths.NOTEBOOKS / "vae" / "00-train-with-visual.ipynb", tmp_path / "train.ipynb",
                            {"DATA_DIR": str(tiny_data), "RESULT_ROOT": str(tmp_path), "RUN_NAME": run,
                             "MACHINE_TYPES": "fan", "EPOCHS": 1,
                             "RECONSTRUCTION_WEIGHT": reconstruction, "KL_WEIGHT": kl}, timeout=CELL_TIMEOUT)
    history = pd.read_csv(tmp_path / run / "history_fan.csv")
    expected = reconstruction * history["reconstruction"] + kl * history["kl"]
    assert history["loss"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-4, abs=1e-6)


def test_comparison_notebook(result_root, tiny_data):
    if not list(result_root.glob("*/result.csv")):
        runner.run_solution(paths.NOTEBOOKS / "pytorch", tiny_data, result_root, "fan", epochs=1, timeout=CELL_TIMEOUT)
    runs = sorted(p.parent.name for p in result_root.glob("*/result.csv"))
    output = runner.run_comparison(result_root, paths.NOTEBOOKS, timeout=CELL_TIMEOUT)
    collected = collect_results(result_root)
    types = set(collected["machine_type"]) - {"all"}
    # the official score per machine type, then one figure of the ranked figures per machine type
    assert sum(images(output)) == 1 + len(types)
    cells = nbformat.read(output, as_version=4).cells
    table = next(c for c in cells if "results.official_text(summary)" in c.source).outputs[-1]["data"]["text/plain"]
    assert all(run in table for run in runs)
    official = collected[(collected["machine_type"] == "all") & (collected["metric"] == "official_score")]
    assert all(f"{value:.4f}" in table for value in official["value"])


def test_unknown_parameter_is_refused(tmp_path):
    from helpers.errors import ConfigError

    with pytest.raises(ConfigError, match="EPOCS"):
        runner.execute_notebook(paths.NOTEBOOKS / "pytorch" / "00-train-with-visual.ipynb", tmp_path / "x.ipynb",
                                {"EPOCS": 3})
    assert not (tmp_path / "x.ipynb").exists()
