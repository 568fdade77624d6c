"""Every notebook runs under papermill on the tiny synthetic data, with a timeout per cell.

Solutions are discovered from notebooks/*/config.yaml, so a copied solution folder is tested
without editing this file.
"""
import math
from pathlib import Path

import pandas as pd
import pytest

from helpers import paths, runner
from helpers.results import read_result_csv, read_scores
from helpers.solution import solution_folders

CELL_TIMEOUT = 300
TYPES = "ToyCar"  # the 11 s type; 10 s clips are covered by the unit tests
VAE_WEIGHTINGS = [(1.0, 1.0), (1.0, 0.01), (1.0, 0.0), (0.01, 1.0), (0.0, 1.0)]


@pytest.fixture(scope="module")
def result_root(tmp_path_factory):
    return tmp_path_factory.mktemp("result")


def check_result_files(run_dir: Path, types: list[str]):
    table = read_result_csv(run_dir / "result.csv")
    assert sorted(table["machine_type"].unique()) == sorted(types)
    for value in table[["AUC", "pAUC"]].to_numpy().ravel():
        assert math.isfinite(value) and 0.0 <= value <= 1.0
    for machine_type in types:
        ids = table[(table["machine_type"] == machine_type) & (table["id"] != "Average")]["id"]
        for machine_id in ids:
            scores = read_scores(run_dir / f"anomaly_score_{machine_type}_id_{machine_id}.csv")
            assert len(scores) >= 2
            assert scores["file_name"].str.match(rf"(normal|anomaly)_id_{machine_id}_\d{{8}}\.wav").all()
            assert scores["score"].map(math.isfinite).all()


def test_data_overview_notebook(tiny_data, tmp_path):
    output = runner.execute_notebook(paths.NOTEBOOKS / "00-data-eda.ipynb", tmp_path / "eda.ipynb",
                                     {"DATA_DIR": str(tiny_data), "CLIPS_PER_LABEL": 2, "AUDIO_PLAYERS": 1},
                                     timeout=CELL_TIMEOUT)
    text = output.read_text()
    assert text.count("image/png") >= 3 and "data:audio/x-wav" in text


@pytest.mark.parametrize("folder", solution_folders(), ids=lambda f: f.name)
def test_solution_notebooks(folder, tiny_data, result_root):
    run_dir = runner.run_solution(folder, tiny_data, result_root, TYPES, epochs=2, retrain=True, timeout=CELL_TIMEOUT)
    check_result_files(run_dir, TYPES.split(","))
    metrics = runner.recorded_metrics(run_dir / "notebooks" / "01-test.ipynb")
    assert metrics["run_name"] == folder.name
    assert {row["machine_type"] for row in metrics["rows"]} == set(TYPES.split(","))
    for name in ("history_ToyCar.csv", "loss_ToyCar.png", "train_summary.csv", "scores.csv", "metrics.json"):
        assert (run_dir / name).is_file(), name
    assert "image/png" in (run_dir / "notebooks" / "02-visualize-predictions.ipynb").read_text()


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
    output = runner.run_comparison(result_root, paths.NOTEBOOKS, timeout=CELL_TIMEOUT)
    assert "image/png" in output.read_text()


def test_unknown_parameter_is_refused(tmp_path):
    from helpers.errors import ConfigError

    with pytest.raises(ConfigError, match="EPOCS"):
        runner.execute_notebook(paths.NOTEBOOKS / "pytorch" / "00-train-with-visual.ipynb", tmp_path / "x.ipynb",
                                {"EPOCS": 3})
    assert not (tmp_path / "x.ipynb").exists()
