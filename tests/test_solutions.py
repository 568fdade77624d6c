"""Each torch solution trains through the shared loop: the loss falls, scores are deterministic."""
import numpy as np
import pandas as pd
import pytest

from helpers import paths
from helpers.data import layout
from helpers.detectors import objectives, scoring, solution
from helpers.experiments import pipeline
from helpers.experiments.inspection import view_clip

FALLING_EPOCHS = 6


@pytest.mark.parametrize("name", ["pytorch", "vae", "cnn_ae", "original", "idnn", "id_classifier"])
def test_loss_falls_on_tiny_data(name, tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / name, {"training.epochs": FALLING_EPOCHS})
    row = pipeline.train_detector(sol, tiny_data, ["fan"], tmp_path, live=False, progress=False)
    history = pd.read_csv(tmp_path / "history_fan.csv")
    assert len(history) == FALLING_EPOCHS and row["epochs"] == FALLING_EPOCHS
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    assert (tmp_path / "detector_fan.npz").is_file()


def test_saved_model_is_reused_unless_settings_change(tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    first = pipeline.train_detector(sol, tiny_data, ["fan"], tmp_path, live=False, progress=False)
    again = pipeline.train_detector(sol, tiny_data, ["fan"], tmp_path, live=False, progress=False)
    assert not first["reused"] and again["reused"]
    changed = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 2})
    assert not pipeline.train_detector(changed, tiny_data, ["fan"], tmp_path, live=False, progress=False)["reused"]


def test_scores_are_deterministic_and_match_item_means(tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "vae", {"training.epochs": 1}, run_name="vae")
    pipeline.train_detector(sol, tiny_data, ["fan"], sol.result_dir(tmp_path), live=False, progress=False)
    first = pipeline.score_machine_type(sol, tiny_data, "fan", tmp_path, progress=False)
    second = pipeline.score_machine_type(sol, tiny_data, "fan", tmp_path, progress=False)
    assert np.array_equal(first["score"], second["score"])
    view = view_clip(sol, pipeline.load_detector(sol, "fan", tmp_path), first["path"][0])
    assert view.score == pytest.approx(first["score"][0], rel=1e-5)
    assert view.score == pytest.approx(view.item_scores.mean(), rel=1e-12)
    assert view.log_mel.shape == view.reconstruction.shape == view.error.shape


def test_clip_scores_average_items_and_mark_empty_clips():
    scores = scoring.clip_scores(np.array([1.0, 3.0, 5.0]), np.array([0, 0, 2]), 3)
    assert scores[0] == 2.0 and np.isnan(scores[1]) and scores[2] == 5.0


def test_validation_split_holds_out_the_last_clips():
    mels = [np.zeros((4, 10), np.float32) + i for i in range(10)]
    assert pipeline.split_validation(mels, 0.1) == (list(range(9)), [9])
    assert pipeline.split_validation(mels[:1], 0.1) == ([0], [])


def test_validation_split_by_group_holds_out_the_last_clips_of_each():
    mels = [np.zeros((4, 10), np.float32)] * 12
    train, held = pipeline.split_validation(mels, 0.25, groups=[0] * 8 + [1] * 4)
    assert held == [6, 7, 11] and train == [0, 1, 2, 3, 4, 5, 8, 9, 10]


def test_validation_split_by_group_holds_out_one_clip_of_each_small_group():
    """3 clips per ID (the tiny preset) round to none at 10 %; every ID still gets a validation clip."""
    mels = [np.zeros((4, 10), np.float32)] * 7
    train, held = pipeline.split_validation(mels, 0.1, groups=[0, 0, 0, 1, 1, 1, 2])
    assert held == [2, 5] and train == [0, 1, 3, 4, 6]
    assert pipeline.split_validation(mels, 0.0, groups=[0, 0, 0, 1, 1, 1, 2]) == (list(range(7)), [])
    assert pipeline.split_validation(mels[:3], 0.1) == ([0, 1, 2], [])


def test_log_softmax_keeps_the_tiny_negative_log_probability_of_a_confident_row():
    from scipy.special import log_softmax

    logits = np.array([[0.0, -40.0, -40.0], [0.0, -45.0, -50.0], [1.0, 2.0, 3.0], [5.0, 5.0, 0.0]])
    nll = -objectives.log_softmax(logits)
    assert nll[0, 0] == pytest.approx(2 * np.exp(-40.0), rel=1e-12)
    assert 0 < nll[1, 0] < nll[0, 0]  # both below float64's resolution next to 1, still ordered
    assert nll[2:] == pytest.approx(-log_softmax(logits[2:], axis=1), rel=1e-12)


@pytest.mark.parametrize("name", ["pytorch", "cnn_ae"])
def test_a_saved_and_loaded_network_scores_exactly_as_the_trained_one(name, tiny_data, tmp_path):
    from helpers.detectors import torch_backend, torch_training

    sol = solution.load(paths.NOTEBOOKS / name, {"training.epochs": 2})
    clips, mels = pipeline.load_clip_features(sol, layout.list_clips(tiny_data, "fan", "train"), False, "")
    net, _ = torch_training.train(sol, pipeline.make_items(sol, mels, True), None, tmp_path / "logs", "fan")
    test_items = pipeline.make_items(sol, pipeline.load_clip_features(
        sol, layout.list_clips(tiny_data, "fan", "test"), False, "")[1], training=False)
    trained = scoring.item_outputs(torch_backend, net, test_items, sol.objective, 256).scores
    loaded = torch_backend.restore(sol, torch_backend.weights(net), None)
    assert np.array_equal(scoring.item_outputs(torch_backend, loaded, test_items, sol.objective, 256).scores, trained)
    assert len(np.unique(trained)) > 1


def test_patch_crops_are_drawn_anew_every_epoch_and_training_sees_them(tiny_data, tmp_path, monkeypatch):
    """The conv AE trains on new random crops each epoch: epoch k's batches come from the k-th draw."""
    from helpers.detectors import torch_training
    from helpers.detectors.inputs import Patches

    draws, seen = {}, []
    original_resample, original_batch = Patches.resample, Patches.batch

    def resample(self):
        original_resample(self)
        draws.setdefault(id(self), []).append(self.starts.copy())

    def recording_batch(self, items):
        seen.append((id(self), len(draws[id(self)]) - 1, self.starts[np.asarray(items)]))
        return original_batch(self, items)

    monkeypatch.setattr(Patches, "resample", resample)
    monkeypatch.setattr(Patches, "batch", recording_batch)
    epochs = 3
    sol = solution.load(paths.NOTEBOOKS / "cnn_ae", {"training.epochs": epochs})
    _, mels = pipeline.load_clip_features(sol, layout.list_clips(tiny_data, "fan", "train"), False, "")
    items = pipeline.make_items(sol, mels, training=True)
    torch_training.train(sol, items, None, tmp_path / "logs", "fan")
    assert len(draws[id(items)]) == epochs
    assert all(not np.array_equal(a, b) for a, b in zip(draws[id(items)], draws[id(items)][1:]))
    used = [(draw, starts) for owner, draw, starts in seen if owner == id(items)]
    assert {draw for draw, _ in used} == set(range(epochs))
    for draw, starts in used:
        assert set(starts) <= set(draws[id(items)][draw])
    assert sum(len(s) for _, s in used) == epochs * len(items)


def test_loading_a_model_that_was_never_trained_says_what_to_run(tmp_path):
    from helpers.errors import ConfigError

    sol = solution.load(paths.NOTEBOOKS / "pytorch")
    with pytest.raises(ConfigError) as err:
        pipeline.load_detector(sol, "fan", tmp_path)
    assert str(err.value) == f"no trained detector at {tmp_path / 'pytorch' / 'detector_fan.npz'}; run 00-train-with-visual first"


def test_loading_and_scoring_a_torch_model_imports_neither_lightning_nor_scikit_learn():
    """The test and visualisation notebooks load and score; Lightning (seconds to import) is for training,
    scikit-learn and SciPy's statistics (about 1.8 s) for computing AUCs, thresholds and fitted back ends."""
    import subprocess
    import sys

    code = ("import sys, helpers.experiments.pipeline, helpers.detectors.torch_backend, helpers.experiments.inspection, helpers.experiments.widgets, helpers.experiments.results; "
            "print(*(name in sys.modules for name in ('lightning', 'sklearn', 'scipy.stats')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=paths.PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "False"]
