"""A folder shaped like real DCASE 2023 development clips as a user copies them: published names with
attributes, section 00, two training clips a type, no attributes_00.csv, and a type whose test clips
hold no anomaly. Every solution's notebooks run on it from the command line, which exits 0 and shows
the type without anomalies as undefined, never a crash."""
from __future__ import annotations

import json
import math

import pytest

from helpers.data import layout
from helpers.detectors.solution import solution_folders
from helpers.execution import cli
from tests.conftest import write_wav
from tests.test_notebooks import CELL_TIMEOUT

SECONDS = 3.0  # long enough for one input of every solution (64 frames of 512 samples)
CLIPS = {
    "ToyCar": {
        "train": ["section_00_source_train_normal_0000_car_A1_spd_28V_mic_1_noise_1.wav",
                  "section_00_target_train_normal_0000_car_B2_spd_31V_mic_1_noise_1.wav"],
        "test": ["section_00_source_test_normal_0000_car_A1_spd_28V_mic_1_noise_1.wav",
                 "section_00_source_test_normal_0001_car_A1_spd_31V_mic_1_noise_1.wav",
                 "section_00_source_test_anomaly_0000_car_A1_spd_28V_mic_1_noise_1.wav",
                 "section_00_target_test_normal_0000_car_B2_spd_31V_mic_1_noise_1.wav",
                 "section_00_target_test_anomaly_0000_car_B2_spd_31V_mic_1_noise_1.wav"],
    },
    "fan": {  # no anomalous test clip: every AUC of its section is undefined
        "train": ["section_00_source_train_normal_0000_m-n_W.wav", "section_00_target_train_normal_0000_m-n_X.wav"],
        "test": ["section_00_source_test_normal_0000_m-n_W.wav", "section_00_source_test_normal_0001_m-n_W.wav",
                 "section_00_target_test_normal_0000_m-n_X.wav"],
    },
}


@pytest.fixture(scope="module")
def published_2023(tmp_path_factory):
    root = tmp_path_factory.mktemp("published_2023")
    seed = 0
    for machine_type, splits in CLIPS.items():
        for split, names in splits.items():
            for name in names:
                seed += 1
                write_wav(root / machine_type / split / name, seconds=SECONDS, seed=seed)
    return root


def test_every_solution_runs_on_published_2023_names_and_shows_the_undefined_type(published_2023, tmp_path, capsys):
    assert layout.detect(published_2023).year == 2023
    result = tmp_path / "result"
    assert cli.main(["run", "--dev-data", str(published_2023), "--result-dir", str(result), "--epochs", "1",
                     "--jobs", "1", "--timeout", str(CELL_TIMEOUT)]) == 0
    printed = capsys.readouterr().out
    table = printed.split("official score per machine type")[1]
    fan = next(line for line in table.splitlines() if line.startswith("fan"))
    assert fan.split()[1:] == ["undefined"] * len(solution_folders())
    assert "undefined: fan: a test set without normal or without anomalous clips" in printed
    for folder in solution_folders():
        metrics = json.loads((result / folder.name / "metrics.json").read_text())
        assert math.isnan(metrics["machine_types"]["fan"]["official_score"])
        assert 0 <= metrics["machine_types"]["ToyCar"]["official_score"] <= 1
        assert (result / folder.name / "notebooks" / "02-visualize-predictions.ipynb").is_file()
    comparison = (result / "compare-solutions.ipynb").read_text()
    assert "undefined" in comparison and '"ename"' not in comparison
