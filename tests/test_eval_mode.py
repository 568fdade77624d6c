"""Eval mode: train on development plus additional training data, score the unlabelled eval clips,
and with the ground-truth list get AUC/pAUC for them."""
import json

import pandas as pd
import pytest

from helpers import paths, recording
from helpers.data import editions, groundtruth, synth
from helpers.detectors import solution
from helpers.execution import runner
from helpers.experiments import pipeline, results
from helpers.errors import ConfigError, DataLayoutError

EVAL_IDS = editions.edition(2020).eval_sections


@pytest.fixture(scope="module")
def eval_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval") / "eval_data"
    synth.generate(root, size="tiny", seed=0, types=["fan", "ToyCar"], eval_layout=True, progress=False)
    return root


def test_ground_truth_list_is_read_in_its_published_format(eval_data):
    truth = groundtruth.read(eval_data / groundtruth.FILE_NAME)
    fan = truth[truth["machine_type"] == "fan"]
    assert len(fan) == 3 * 4  # three eval IDs, 2 normal + 2 anomalous test clips each
    assert set(fan["label"]) == {0, 1}
    assert fan["file_name"].str.match(r"^id_0[135]_\d{8}\.wav$").all()
    assert fan["original_name"].str.match(r"^(normal|anomaly)_id_0[135]_\d{8}\.wav$").all()
    assert ((fan["original_name"].str.startswith("anomaly")) == (fan["label"] == 1)).all()


HAND_WRITTEN = (  # the published layout, as the DCASE 2020 evaluator reads it (label in the third column)
    "\ufeffToyCar\r\n"
    "id_05_00000000.wav,anomaly_id_05_00000263.wav,1\r\n"
    "id_05_00000001.wav,normal_id_05_00000017.wav,0\r\n"
    "fan\r\n"
    "id_01_00000000.wav,normal_id_01_00000042.wav,0\r\n"
    "id_03_00000000.wav,anomaly_id_03_00000007.wav,1\r\n"
    "\r\n"
)


def test_a_hand_written_list_in_the_published_format_is_read_row_by_row(tmp_path):
    """Windows line ends, a byte-order mark and a trailing empty line, as a list saved by a spreadsheet has."""
    path = tmp_path / "eval_data_list.csv"
    path.write_bytes(HAND_WRITTEN.encode("utf-8"))
    truth = groundtruth.read(path)
    assert truth.values.tolist() == [
        ["ToyCar", "id_05_00000000.wav", "anomaly_id_05_00000263.wav", 1, "source", ""],
        ["ToyCar", "id_05_00000001.wav", "normal_id_05_00000017.wav", 0, "source", ""],
        ["fan", "id_01_00000000.wav", "normal_id_01_00000042.wav", 0, "source", ""],
        ["fan", "id_03_00000000.wav", "anomaly_id_03_00000007.wav", 1, "source", ""],
    ]
    scores = pd.DataFrame({"machine_type": "fan", "section": ["01", "03", "05"], "domain": "source", "attributes": "",
                           "file_name": ["id_01_00000000.wav", "id_03_00000000.wav", "id_05_00000000.wav"],
                           "label": pd.array([pd.NA] * 3, dtype="Int64"), "score": [1.0, 2.0, 3.0]})
    labelled = groundtruth.attach_labels(scores, truth, "fan", path)
    assert labelled["label"].tolist() == [0, 1, pd.NA]  # the ToyCar rows do not label fan clips


def test_a_later_editions_list_labels_and_places_the_clips_by_their_original_names(tmp_path):
    """2021+ lists (the baseline's eval_data_list_<year>.csv) have two columns: the eval name and the
    original name, which carries label, domain and attributes; 2022+ eval names hide the domain."""
    path = tmp_path / "eval_data_list_2023.csv"
    path.write_text("bandsaw\nsection_00_0005.wav,section_00_source_test_anomaly_0005_vel_15.wav\n"
                    "section_00_0000.wav,section_00_target_test_normal_0000_vel_12.wav\n")
    assert groundtruth.find(tmp_path, year=2023) == path
    truth = groundtruth.read(path)
    assert truth[["label", "domain", "attributes"]].values.tolist() == [[1, "source", "vel_15"], [0, "target", "vel_12"]]
    scores = pd.DataFrame({"machine_type": "bandsaw", "section": "00", "domain": [None, None, None],
                           "attributes": "", "file_name": ["section_00_0000.wav", "section_00_0005.wav", "section_00_0009.wav"],
                           "label": pd.array([pd.NA] * 3, dtype="Int64"), "score": [1.0, 2.0, 3.0]})
    labelled = groundtruth.attach_labels(scores, truth, "bandsaw", path)
    assert labelled["label"].tolist() == [0, 1, pd.NA]
    assert labelled["domain"].tolist()[:2] == ["target", "source"] and pd.isna(labelled["domain"].iloc[2])


@pytest.mark.parametrize("text, problem", [
    ("id_01_00000000.wav,normal_id_01_00000000.wav,0\n", "line 1: a clip row before any machine-type line"),
    ("fan\nid_01_00000000.wav,normal_id_01_00000000.wav,normal\n", "line 2: 'id_01_00000000.wav,normal_id_01_00000000.wav,normal' is not a clip row"),
    ("fan\nid_01_00000000.wav,0\n", "line 2"),
    ("fan\nsection_00_0001.wav,section_00_0001.wav\n", "line 2: 'section_00_0001.wav,section_00_0001.wav' is not a clip row"),
])
def test_malformed_ground_truth_names_the_line(tmp_path, text, problem):
    path = tmp_path / "list.csv"
    path.write_text(text)
    with pytest.raises(DataLayoutError) as err:
        groundtruth.read(path)
    assert str(path) in str(err.value) and problem in str(err.value)
    assert "eval_file_name,original_file_name,label" in str(err.value)


def test_missing_explicit_ground_truth_is_a_settings_error(tmp_path):
    with pytest.raises(ConfigError, match="ground-truth list .*nope.csv does not exist"):
        groundtruth.find(tmp_path, tmp_path / "nope.csv")
    assert groundtruth.find(tmp_path) is None


def test_eval_mode_trains_on_both_sets_and_scores_the_eval_clips(tiny_data, eval_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1}, run_name="pytorch-eval")
    summary = pipeline.train_all(sol, tiny_data, tmp_path, "fan", live=False, progress=False, additional_data=eval_data)
    assert summary["clips"].iloc[0] == 4 * 3 + 3 * 3  # dev IDs and eval IDs, 3 training clips each

    scores, tables = pipeline.test_all(sol, eval_data, tmp_path, "fan", progress=False)
    result_dir = tmp_path / "pytorch-eval"
    for section in EVAL_IDS["fan"]:
        written = results.read_scores(result_dir / editions.RULES_2020.score_file_name("fan", section))
        assert len(written) == 4 and written["file_name"].str.startswith(f"id_{section}_").all()
    truth = groundtruth.read(eval_data / groundtruth.FILE_NAME)
    truth = truth[truth["machine_type"] == "fan"].set_index("file_name")["label"]
    assert (scores["label"].astype(int) == scores["file_name"].map(truth)).all()
    assert list(tables["fan"]["section"]) == list(EVAL_IDS["fan"])
    table = results.read_result_csv(result_dir / "result.csv")
    assert set(table["section"]) == {*EVAL_IDS["fan"], "Average"} and table["AUC"].between(0, 1).all()
    metrics = json.loads((result_dir / "metrics.json").read_text())
    assert metrics["ground_truth"] == str(eval_data / groundtruth.FILE_NAME)


def test_eval_mode_without_ground_truth_writes_scores_only(tiny_data, eval_data, tmp_path):
    unlabelled = tmp_path / "unlabelled"
    for clip in (eval_data / "fan" / "test").iterdir():
        target = unlabelled / "fan" / "test" / clip.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(clip)
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    pipeline.train_all(sol, tiny_data, tmp_path, "fan", live=False, progress=False)
    scores, tables = pipeline.test_all(sol, unlabelled, tmp_path, "fan", progress=False)
    assert tables == {} and scores["label"].isna().all() and len(scores) == 12
    assert not (tmp_path / "pytorch" / "result.csv").exists()
    assert len(list((tmp_path / "pytorch").glob("anomaly_score_fan_id_*.csv"))) == 3


def test_adding_training_data_retrains_the_saved_model(tiny_data, eval_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    first = pipeline.train_detector(sol, tiny_data, ["fan"], tmp_path, live=False, progress=False)
    second = pipeline.train_detector(sol, tiny_data, ["fan"], tmp_path, live=False, progress=False,
                                     additional_data=eval_data)
    third = pipeline.train_detector(sol, tiny_data, ["fan"], tmp_path, live=False, progress=False,
                                    additional_data=eval_data)
    assert not first["reused"] and not second["reused"] and third["reused"]


def test_runner_eval_mode_runs_the_notebooks_on_the_eval_set(tiny_data, eval_data, tmp_path):
    run = runner.run_solution(paths.NOTEBOOKS / "pytorch", tiny_data, tmp_path, "ToyCar", epochs=1,
                              timeout=300, eval_data=eval_data)
    assert run.name == "pytorch-eval"
    executed = run / "notebooks" / "01-test.ipynb"
    recorded = pd.DataFrame(recording.recorded_metrics(executed)["rows"])
    assert set(recorded["section"]) == {*EVAL_IDS["ToyCar"], "arithmetic mean", "harmonic mean"}
    assert (run / "notebooks" / "02-visualize-predictions.ipynb").is_file()
    summary = pd.read_csv(run / "train_summary.csv")
    assert summary["clips"].iloc[0] == 4 * 3 + 3 * 3


def test_unlabelled_eval_scores_choose_the_lowest_median_and_highest_clips():
    from helpers.experiments.inspection import choose_clips

    scores = pd.DataFrame({"machine_type": "fan", "section": "01", "file_name": [f"id_01_{i:08d}.wav" for i in range(5)],
                           "label": pd.array([pd.NA] * 5, dtype="Int64"), "score": [3.0, 1.0, 5.0, 2.0, 4.0],
                           "path": [f"/data/fan/test/id_01_{i:08d}.wav" for i in range(5)]})
    chosen = choose_clips(scores)
    assert list(chosen["score"]) == [1.0, 3.0, 5.0]
    assert list(chosen["why"]) == ["lowest score, unlabelled", "median score, unlabelled", "highest score, unlabelled"]
