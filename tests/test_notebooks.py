"""Every notebook runs under papermill, with a timeout per cell.

Every solution's notebooks run on a folder shaped like real DCASE 2023 development clips as a user
copies them: published names with attributes, section 00, a few training clips a type, no
attributes_00.csv, and a type (fan, two training clips: none held out for validation) whose test
clips hold no anomaly, shown as undefined, never a
crash. Solutions are discovered from notebooks/*/config.yaml, so a copied solution folder is tested
without editing this file. The 2020 layout's notebooks run in tests/test_cli.py, test_runner.py and
test_eval_mode.py; 2021's in test_editions.py.
"""
import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from helpers import paths, recording
from helpers.data import layout
from helpers.detectors import detector, solution
from helpers.execution import runner
from helpers.experiments.results import collect_results, read_result_csv, read_scores
from helpers.detectors.solution import solution_folders
from tests.conftest import write_wav

CELL_TIMEOUT = 300
EPOCHS = 2
VAE_WEIGHTINGS = [(0.5, 2.0)]  # both terms, neither at its default (1 and 0.01, which every vae notebook test runs)
SECONDS = 3.0  # long enough for one input of every solution (64 frames of 512 samples)
UNDEFINED = "fan"  # no anomalous test clip: every AUC of its section is undefined
PUBLISHED_2023 = {
    "ToyCar": {
        "train": [*(f"section_00_source_train_normal_{i:04d}_car_A1_spd_28V_mic_1_noise_1.wav" for i in range(5)),
                  "section_00_target_train_normal_0000_car_B2_spd_31V_mic_1_noise_1.wav"],  # 6: one validation clip
        "test": ["section_00_source_test_normal_0000_car_A1_spd_28V_mic_1_noise_1.wav",
                 "section_00_source_test_normal_0001_car_A1_spd_31V_mic_1_noise_1.wav",  # a combination not trained on
                 "section_00_source_test_anomaly_0000_car_A1_spd_28V_mic_1_noise_1.wav",
                 "section_00_target_test_normal_0000_car_B2_spd_31V_mic_1_noise_1.wav",
                 "section_00_target_test_anomaly_0000_car_B2_spd_31V_mic_1_noise_1.wav"],
    },
    UNDEFINED: {
        "train": ["section_00_source_train_normal_0000_m-n_W.wav", "section_00_target_train_normal_0000_m-n_X.wav"],
        "test": ["section_00_source_test_normal_0000_m-n_W.wav", "section_00_source_test_normal_0001_m-n_W.wav",
                 "section_00_target_test_normal_0000_m-n_X.wav"],
    },
}
TYPES = list(PUBLISHED_2023)


@pytest.fixture(scope="module")
def published_2023(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("published_2023")
    names = [(t, split, name) for t, splits in PUBLISHED_2023.items() for split, ns in splits.items() for name in ns]
    for seed, (machine_type, split, name) in enumerate(names, start=1):
        write_wav(root / machine_type / split / name, seconds=SECONDS, seed=seed)
    assert layout.detect(root).year == 2023
    return root


@pytest.fixture(scope="module")
def result_root(tmp_path_factory):
    return tmp_path_factory.mktemp("result")


def data_test_sections(data: Path, machine_type: str) -> list[str]:
    """The sections of the test clips in the data folder itself (not read back from a result)."""
    return layout.sections(layout.list_clips(data, machine_type, "test"))


def check_result_files(run_dir: Path, data: Path, types: list[str]):
    """Every section of the data has its score file with every test clip, and result.csv its rows: each
    figure in [0, 1] for a type with anomalous test clips, undefined (NaN) for the one without."""
    table = read_result_csv(run_dir / "result.csv")
    rows = table[~table["evaluator"] & (table["machine_type"] != "all")]
    assert list(dict.fromkeys(rows["machine_type"])) == types
    rules = layout.resolve(data).rules
    for machine_type in types:
        own = rows[rows["machine_type"] == machine_type]
        assert list(own["section"]) == data_test_sections(data, machine_type) + list(rules.result_mean_rows.values())
        figures = own[[f for f in rules.figures if f.startswith(("AUC", "pAUC"))]].to_numpy()
        if machine_type == UNDEFINED:
            assert np.isnan(figures).all()
        else:
            assert ((figures >= 0) & (figures <= 1)).all()
        for section in data_test_sections(data, machine_type):
            clips = [c.name for c in layout.list_clips(data, machine_type, "test") if c.section == section]
            scores = read_scores(run_dir / rules.score_file_name(machine_type, section))
            assert sorted(scores["file_name"]) == sorted(clips)
            assert scores["score"].map(math.isfinite).all()
            decided = read_scores(run_dir / rules.decision_file_name(machine_type, section))
            assert decided["file_name"].tolist() == scores["file_name"].tolist() and set(decided["score"]) <= {0, 1}


def check_recorded_metrics(run_dir: Path, run_name: str, data: Path):
    """What the 01 notebook showed and recorded is what result.csv and metrics.json hold."""
    edition = layout.resolve(data)
    recorded = recording.recorded_metrics(run_dir / "notebooks" / "01-test.ipynb")
    assert recorded["run_name"] == run_name
    shown = pd.DataFrame(recorded["rows"])
    written = read_result_csv(run_dir / "result.csv")
    written = written[~written["evaluator"] & (written["machine_type"] != "all")]
    written = written.replace({"section": {v: k for k, v in edition.rules.result_mean_rows.items()}})
    shown = shown[shown["section"].isin(written["section"])]  # the result file writes only the rules' mean rows
    merged = written.merge(shown, on=["machine_type", "section"], suffixes=("_csv", "_shown"), validate="1:1")
    assert len(merged) == len(written)
    for figure in edition.rules.figures:
        assert merged[f"{figure}_shown"].to_numpy() == pytest.approx(merged[f"{figure}_csv"].to_numpy(), abs=1e-12,
                                                                   nan_ok=True)
    payload = json.loads((run_dir / "metrics.json").read_text())
    assert recorded["year"] == payload["year"] == edition.year
    official_row = edition.rules.official_mean
    for machine_type, entry in payload["machine_types"].items():
        rows = pd.DataFrame(recorded["rows"]).query("machine_type == @machine_type").set_index("section")
        assert entry["official_score"] == pytest.approx(rows.loc[official_row, "official score"], abs=1e-12, nan_ok=True)
        assert math.isnan(entry["official_score"]) == (machine_type == UNDEFINED)


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
def test_solution_notebooks(folder, published_2023, result_root):
    run_dir = runner.run_solution(folder, published_2023, result_root, ",".join(TYPES), epochs=EPOCHS, retrain=True,
                                  timeout=CELL_TIMEOUT)
    types = TYPES
    check_result_files(run_dir, published_2023, types)
    check_recorded_metrics(run_dir, folder.name, published_2023)
    sol = solution.load(folder)
    scopes = [detector.scope_name(sol, scope) for scope in detector.scopes(sol, types)]  # types, or all_types
    epochs = EPOCHS if sol.objective.trains else 0  # a frozen network's solution trains nothing
    for scope in scopes:
        history = pd.read_csv(run_dir / f"history_{scope}.csv")
        assert list(history["epoch"]) == (list(range(1, EPOCHS + 1)) if epochs else [0])
        if epochs:
            assert history["loss"].map(math.isfinite).all()
            validated = "val_loss" in history and history["val_loss"].notna().any()  # fan's 2 clips hold none out
            assert validated == (scope != UNDEFINED)
            assert not validated or history["val_loss"].map(math.isfinite).all()
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


def test_comparison_notebook(result_root, published_2023):
    """Every run side by side; the type without anomalies is undefined in every run's column."""
    if not list(result_root.glob("*/result.csv")):
        runner.run_solution(paths.NOTEBOOKS / "pytorch", published_2023, result_root, ",".join(TYPES), epochs=1,
                            timeout=CELL_TIMEOUT)
    runs = sorted(p.parent.name for p in result_root.glob("*/result.csv"))
    output = runner.run_comparison(result_root, paths.NOTEBOOKS, timeout=CELL_TIMEOUT)
    assert '"ename"' not in output.read_text()
    collected = collect_results(result_root)
    types = set(collected["machine_type"]) - {"all"}
    # the official score per machine type, then one figure of the ranked figures per machine type
    assert sum(images(output)) == 1 + len(types)
    cells = nbformat.read(output, as_version=4).cells
    table = next(c for c in cells if "results.official_text(summary)" in c.source).outputs[-1]["data"]["text/plain"]
    assert all(run in table for run in runs)
    undefined = [word for line in table.splitlines() if line.startswith(UNDEFINED) for word in line.split()[1:]]
    assert undefined == ["undefined"] * len(runs)  # on one line, or one per block of columns of a wide table
    official = collected[(collected["machine_type"] == "ToyCar") & (collected["metric"] == "official_score")]
    assert len(official) == len(runs) and all(f"{value:.4f}" in table for value in official["value"])


def test_unknown_parameter_is_refused(tmp_path):
    from helpers.errors import ConfigError

    with pytest.raises(ConfigError, match="EPOCS"):
        runner.execute_notebook(paths.NOTEBOOKS / "pytorch" / "00-train-with-visual.ipynb", tmp_path / "x.ipynb",
                                {"EPOCS": 3})
    assert not (tmp_path / "x.ipynb").exists()
