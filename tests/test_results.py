import json
import math
import os

import pandas as pd
import pytest

from helpers.errors import ToolkitError
from helpers.fileio import atomic_write_text
from helpers.results import (read_result_csv, read_scores, write_metrics_json, write_result_csv,
                             write_scores)


def tables():
    return {
        "fan": pd.DataFrame({"id": ["00", "02"], "AUC": [0.6, 0.8], "pAUC": [0.5, 0.7]}),
        "valve": pd.DataFrame({"id": ["00"], "AUC": [float("nan")], "pAUC": [float("nan")]}),
    }


def test_result_csv_has_the_original_layout(tmp_path):
    path = write_result_csv(tmp_path / "result.csv", tables())
    lines = path.read_text().split("\n")
    assert lines[:7] == ["fan", "id,AUC,pAUC", "00,0.6,0.5", "02,0.8,0.7", "Average,0.7,0.6", "", "valve"]
    frame = read_result_csv(path)
    assert frame["machine_type"].tolist() == ["fan", "fan", "fan", "valve", "valve"]
    assert frame.iloc[2]["AUC"] == pytest.approx(0.7)
    assert math.isnan(frame.iloc[3]["AUC"])


def test_score_files_have_no_header(tmp_path):
    path = write_scores(tmp_path, "fan", "02", ["normal_id_02_00000000.wav", "anomaly_id_02_00000001.wav"], [0.5, 7.25])
    assert path.name == "anomaly_score_fan_id_02.csv"
    assert path.read_text() == "normal_id_02_00000000.wav,0.5\nanomaly_id_02_00000001.wav,7.25\n"
    assert read_scores(path)["score"].tolist() == [0.5, 7.25]


def test_metrics_json_has_means(tmp_path):
    payload = json.loads(write_metrics_json(tmp_path / "m.json", tables(), {"solution": "x"}).read_text())
    assert payload["solution"] == "x"
    assert payload["machine_types"]["fan"]["AUC_mean"] == pytest.approx(0.7)
    assert payload["machine_types"]["fan"]["ids"][1] == {"id": "02", "AUC": 0.8, "pAUC": 0.7}


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "result.csv"
    target.write_text("old")

    with pytest.raises(TypeError):
        atomic_write_text(target, 12345)  # not text: fails after the temp file exists
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["result.csv"]


def test_unwritable_result_folder_names_the_folder(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the result folder should be")
    with pytest.raises(ToolkitError) as err:
        write_result_csv(blocker / "pytorch" / "result.csv", tables())
    assert str(err.value).startswith(f"cannot write to folder {blocker / 'pytorch'}: ")
    assert blocker.read_text() == "a file where the result folder should be"
