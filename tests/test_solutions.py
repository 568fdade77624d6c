"""Each torch solution trains through the shared loop: the loss falls, scores are deterministic."""
import numpy as np
import pandas as pd
import pytest

from helpers import paths, pipeline, solution
from helpers.inspection import view_clip

FALLING_EPOCHS = 6


@pytest.mark.parametrize("name", ["pytorch", "vae", "cnn_ae", "original"])
def test_loss_falls_on_tiny_data(name, tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / name, {"training.epochs": FALLING_EPOCHS})
    row = pipeline.train_machine_type(sol, tiny_data, "fan", tmp_path, live=False, progress=False)
    history = pd.read_csv(tmp_path / "history_fan.csv")
    assert len(history) == FALLING_EPOCHS and row["epochs"] == FALLING_EPOCHS
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    assert (tmp_path / f"model_fan{pipeline.backend(sol).MODEL_SUFFIX}").is_file()


def test_saved_model_is_reused_unless_settings_change(tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    first = pipeline.train_machine_type(sol, tiny_data, "fan", tmp_path, live=False, progress=False)
    again = pipeline.train_machine_type(sol, tiny_data, "fan", tmp_path, live=False, progress=False)
    assert not first["reused"] and again["reused"]
    changed = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 2})
    assert not pipeline.train_machine_type(changed, tiny_data, "fan", tmp_path, live=False, progress=False)["reused"]


def test_scores_are_deterministic_and_match_item_means(tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "vae", {"training.epochs": 1}, run_name="vae")
    pipeline.train_machine_type(sol, tiny_data, "fan", sol.result_dir(tmp_path), live=False, progress=False)
    first = pipeline.score_machine_type(sol, tiny_data, "fan", tmp_path, progress=False)
    second = pipeline.score_machine_type(sol, tiny_data, "fan", tmp_path, progress=False)
    assert np.array_equal(first["score"], second["score"])
    view = view_clip(sol, pipeline.load_model(sol, "fan", tmp_path), first["path"][0])
    assert view.score == pytest.approx(first["score"][0], rel=1e-5)
    assert view.log_mel.shape == view.reconstruction.shape == view.error.shape


def test_clip_scores_average_items_and_mark_empty_clips():
    scores = pipeline.clip_scores(np.array([1.0, 3.0, 5.0]), np.array([0, 0, 2]), 3)
    assert scores[0] == 2.0 and np.isnan(scores[1]) and scores[2] == 5.0


def test_validation_split_holds_out_the_last_clips():
    mels = [np.zeros((4, 10), np.float32) + i for i in range(10)]
    train, val = pipeline.split_validation(mels, 0.1)
    assert len(train) == 9 and val[0][0, 0] == 9
    assert pipeline.split_validation(mels[:1], 0.1) == (mels[:1], [])
