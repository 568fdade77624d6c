"""The interpolation DNN (idnn) and the machine-ID classifier (id_classifier) keep the scoring contract."""
import logging
import shutil

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from helpers import paths
from helpers.data import layout
from helpers.detectors import scoring, solution, torch_backend, torch_training
from helpers.experiments import pipeline
from helpers.data.audio import load_audio
from helpers.data.features import log_mel

# tiny data: 3 training clips per ID, 8 random segments each per epoch; batches of 16 give the
# BatchNorm running statistics enough steps in a few epochs
CLASSIFIER_SETTINGS = {"training.batch_size": 16}
ACCURACY_EPOCHS = 10
# eval-mode accuracy on the training segments of tiny fan after ACCURACY_EPOCHS, 4 IDs (chance
# 0.25), measured for seeds 0-4: 1.00, 0.99, 0.99, 0.95, 1.00. Eval mode uses the BatchNorm running
# statistics, which lag the fast-changing weights over the first few dozen steps: hence the
# epochs. The test runs seed 0.
ACCURACY_BOUND = 0.6


def classifier(overrides: dict | None = None, run_name: str | None = None) -> solution.Solution:
    return solution.load(paths.NOTEBOOKS / "id_classifier", {**CLASSIFIER_SETTINGS, **(overrides or {})}, run_name)


def train_items(sol, data, machine_type="fan"):
    """(classes, training-time items, fixed test-time items) of the training clips, labelled by ID."""
    clips, mels = pipeline.load_clip_features(sol, layout.list_clips(data, machine_type, "train"), False, "")
    classes = layout.sections(clips)
    labels = sol.objective.labels(clips, classes)
    return classes, pipeline.make_items(sol, mels, True, labels), pipeline.make_items(sol, mels, False, labels)


@pytest.fixture(scope="module")
def trained_classifier(tiny_data, tmp_path_factory):
    """id_classifier trained for 2 epochs on tiny fan by the pipeline: (solution, result root)."""
    root = tmp_path_factory.mktemp("id_classifier")
    sol = classifier({"training.epochs": 2})
    pipeline.train_detector(sol, tiny_data, ["fan"], sol.result_dir(root), live=False, progress=False)
    return sol, root


def test_idnn_scores_are_the_middle_frames_mean_squared_error(tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "idnn", {"training.epochs": 2})
    assert sol.input_shape() == (128 * 4,) and sol.target_shape() == (128,)
    pipeline.train_detector(sol, tiny_data, ["fan"], sol.result_dir(tmp_path), live=False, progress=False)
    scores = pipeline.score_machine_type(sol, tiny_data, "fan", tmp_path, progress=False)
    net = pipeline.load_detector(sol, "fan", tmp_path).net.eval()
    for row in scores.iloc[[0, 5, 11]].itertuples():
        mel = log_mel(load_audio(row.path), sol.features)  # [n_mels, frames]
        middles = np.arange(2, mel.shape[1] - 2)
        context = np.concatenate([mel[:, middles + offset].T for offset in (-2, -1, 1, 2)], axis=1)
        with torch.no_grad():
            predicted = net(torch.from_numpy(context)).numpy()
        expected = np.mean(np.mean((predicted.astype(np.float64) - mel[:, middles].T) ** 2, axis=1))
        assert row.score == pytest.approx(expected, rel=1e-5)


def test_a_context_model_must_take_the_target_shape(tmp_path):
    from helpers.errors import ConfigError

    folder = tmp_path / "my_idnn"
    shutil.copytree(paths.NOTEBOOKS / "idnn", folder)
    source = (folder / "model.py").read_text().replace("def build_model(input_shape, target_shape,",
                                                       "def build_model(input_shape,")
    (folder / "model.py").write_text(source)
    with pytest.raises(ConfigError, match="inputs.kind 'context'.*`target_shape`"):
        solution.load(folder)


def test_classifier_logits_have_one_column_per_class():
    sol = classifier()
    net = sol.build_model(3).eval()
    x = torch.from_numpy(np.random.default_rng(0).normal(-40, 10, (5, *sol.input_shape())).astype(np.float32))
    with torch.no_grad():
        assert net(x).shape == (5, 3) and net.embed(x).shape == (5, 128)


def test_the_margin_makes_the_training_loss_larger_than_plain_cross_entropy():
    sol = classifier()
    x = torch.from_numpy(np.random.default_rng(1).normal(-40, 10, (8, *sol.input_shape())).astype(np.float32))
    target = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    torch.manual_seed(0)
    net = sol.build_model(4).eval()
    with torch.no_grad():
        loss, parts = net.training_loss(x, target)
        plain = F.cross_entropy(net(x), target)
        assert loss > plain
        assert parts["accuracy"] == pytest.approx(float((net(x).argmax(1) == target).float().mean()))
        net.head.margin = 0.0
        assert net.training_loss(x, target)[0] == pytest.approx(float(plain), rel=1e-6)


def test_the_classifier_tells_the_training_ids_apart(tiny_data, tmp_path):
    sol = classifier({"training.epochs": ACCURACY_EPOCHS, "training.seed": 0})
    classes, items, fixed = train_items(sol, tiny_data)
    net, history = torch_training.train(sol, items, None, tmp_path / "logs", "fan", classes=len(classes))
    assert history["loss"].iloc[-1] < history["loss"].iloc[0] and "accuracy" in history
    logits = scoring.item_outputs(torch_backend, net, fixed, sol.objective, 256, keep_predictions=True).predictions
    accuracy = np.mean(logits.argmax(axis=1) == fixed.labels_of(np.arange(len(fixed))))
    assert accuracy > ACCURACY_BOUND, f"accuracy {accuracy:.2f} over {len(classes)} IDs"


def test_embeddings_alone_take_one_pass_through_embed_and_match_the_full_pass(tiny_data, monkeypatch):
    sol = classifier()
    classes, _, fixed = train_items(sol, tiny_data)
    torch.manual_seed(0)
    net = sol.build_model(len(classes)).eval()
    full = scoring.item_outputs(torch_backend, net, fixed, sol.objective, 64, vectors="embedding")
    calls = []
    monkeypatch.setattr(torch_backend, "predict", lambda *a: calls.append("predict"))
    alone = scoring.item_outputs(torch_backend, net, fixed, sol.objective, 64, vectors="embedding", own_scores=False)
    assert calls == [] and np.isnan(alone.scores).all() and len(alone.scores) == len(fixed)
    assert alone.vectors.shape == (len(fixed), 128) and np.array_equal(alone.vectors, full.vectors)
    assert np.isfinite(full.scores).all()


def test_the_classifier_keeps_its_convolutions_channels_last():
    net = classifier().build_model(4)
    convolutions = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convolutions and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convolutions)


def test_a_saved_and_loaded_classifier_scores_exactly_as_the_trained_one(tiny_data, tmp_path):
    sol = classifier({"training.epochs": 2})
    classes, items, _ = train_items(sol, tiny_data)
    net, _ = torch_training.train(sol, items, None, tmp_path / "logs", "fan", classes=len(classes))
    test_clips, test_mels = pipeline.load_clip_features(sol, layout.list_clips(tiny_data, "fan", "test"), False, "")
    test_items = pipeline.make_items(sol, test_mels, False, sol.objective.labels(test_clips, classes))
    trained = scoring.item_outputs(torch_backend, net, test_items, sol.objective, 256).scores
    loaded = torch_backend.restore(sol, torch_backend.weights(net), len(classes))
    assert np.array_equal(scoring.item_outputs(torch_backend, loaded, test_items, sol.objective, 256).scores, trained)
    assert np.isfinite(trained).all() and len(np.unique(trained)) > 1


def test_clips_of_an_id_the_classifier_does_not_know_get_nan_and_a_warning(tiny_data, tmp_path, caplog):
    data = tmp_path / "dev_data"
    for clip in layout.list_clips(tiny_data, "fan", "train"):
        if clip.section != "06":
            (data / "fan" / "train").mkdir(parents=True, exist_ok=True)
            shutil.copy(clip.path, data / "fan" / "train")
    shutil.copytree(tiny_data / "fan" / "test", data / "fan" / "test")
    sol = classifier({"training.epochs": 1}, run_name="unknown")
    pipeline.train_detector(sol, data, ["fan"], sol.result_dir(tmp_path), live=False, progress=False)
    with caplog.at_level(logging.WARNING, logger="helpers"):
        scores = pipeline.score_machine_type(sol, data, "fan", tmp_path, progress=False)
    unknown = scores["section"] == "06"
    assert unknown.any() and scores.loc[unknown, "score"].isna().all()
    assert np.isfinite(scores.loc[~unknown, "score"]).all()
    assert any("06" in r.getMessage() and "nan" in r.getMessage() for r in caplog.records)


def test_a_machine_type_with_one_id_trains_on_classes_found_in_its_clips(tiny_data, tmp_path):
    """One ID and no attributes: the classes are k-means clusters of the clips' mean spectra, and
    every test clip is scored by its most probable class."""
    data = tmp_path / "dev_data"
    for split in ("train", "test"):
        (data / "fan" / split).mkdir(parents=True)
        for clip in layout.list_clips(tiny_data, "fan", split):
            if clip.section == "00":
                shutil.copy(clip.path, data / "fan" / split)
    sol = classifier({"training.epochs": 1})
    pipeline.train_detector(sol, data, ["fan"], sol.result_dir(tmp_path), live=False, progress=False)
    detector = pipeline.load_detector(sol, "fan", tmp_path)
    clusters = min(sol.config["training"]["pseudo_classes"], len(layout.list_clips(data, "fan", "train")))
    assert detector.classes == [f"00~{k}" for k in range(clusters)] and clusters >= 2
    scores = pipeline.score_machine_type(sol, data, "fan", tmp_path, progress=False)
    assert len(scores) == len(layout.list_clips(data, "fan", "test")) and np.isfinite(scores["score"]).all()


@pytest.mark.parametrize("backend", ["mahalanobis", "knn"])
def test_density_back_ends_run_on_the_classifier_embeddings(backend, trained_classifier, tiny_data):
    trained, root = trained_classifier
    sol = classifier({"training.epochs": 2, "scoring.backend": backend, "scoring.vectors": "embedding"})
    model = pipeline.load_detector(sol, "fan", root)
    assert model.densities["fan"].kind == backend
    scores = pipeline.score_machine_type(sol, tiny_data, "fan", root, progress=False)
    assert len(scores) and np.isfinite(scores["score"]).all()
    own = pipeline.score_machine_type(trained, tiny_data, "fan", root, progress=False)
    assert not np.allclose(scores["score"], own["score"])


@pytest.mark.parametrize("name,classes", [("idnn", None), ("id_classifier", 3)])
def test_the_network_travels_to_a_spawned_process_with_its_build_arguments(name, classes):
    """DDP's spawned processes rebuild the network from its recipe (target_shape, classes included)."""
    import pickle

    sol = solution.load(paths.NOTEBOOKS / name)
    task = torch_training.NetworkTask(sol, 0.001, classes)
    copy = pickle.loads(pickle.dumps(task))
    x = torch.from_numpy(np.random.default_rng(0).normal(-40, 10, (4, *sol.input_shape())).astype(np.float32))
    with torch.no_grad():
        assert torch.equal(copy.net.eval()(x), task.net.eval()(x))
