"""A detector (helpers.detectors.detector): one file holding the network, its scorer and its thresholds, fitted
in one pass over the training clips; one network over several machine types; and the registries
that keep objectives and back ends out of every other module."""
import ast
import logging
import types

import numpy as np
import pytest

from helpers import paths
from helpers.data import layout
from helpers.detectors import densities, detector, objectives, solution, torch_backend
from helpers.experiments import pipeline
from helpers.detectors.detector import Detector, detector_path
from helpers.errors import DataLayoutError, ToolkitError
from tests import toy_classifier


def _pytorch(backend: str = "mse") -> solution.Solution:
    return solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1, "scoring.backend": backend})


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    """pytorch trained for one epoch on tiny fan: the result root."""
    root = tmp_path_factory.mktemp("detector")
    pipeline.train_all(_pytorch(), tiny_data, root, "fan", live=False, progress=False)
    return root


@pytest.mark.parametrize("backend", ["mse", "knn", "gmm"])  # mahalanobis: tests/test_new_solutions.py
def test_a_detector_is_one_file_that_scores_and_decides_the_same_once_loaded(backend, trained, tiny_data):
    sol = _pytorch(backend)
    fitted = pipeline.load_detector(sol, "fan", trained)  # fitted anew for this back end, and saved
    scores = pipeline.score_machine_type(sol, tiny_data, "fan", trained, progress=False)
    loaded = Detector.load(sol, detector_path(sol.result_dir(trained), "fan"))
    assert loaded.current() and loaded.fingerprint == fitted.fingerprint and loaded.classes is None
    assert sorted(loaded.densities) == (["fan"] if backend in densities.BACKENDS else [])
    clips, mels = pipeline.load_clip_features(sol, [layout.parse_clip(p, "fan", "test")
                                                    for p in scores["path"]], False, "")
    again = loaded.score(clips, mels)
    np.testing.assert_array_equal(again, scores["score"].to_numpy())
    np.testing.assert_array_equal(loaded.decide(again, clips), scores["decision"].to_numpy())
    assert set(loaded.thresholds["fan"]) == {"00", "02", "04", "06", "*"}
    assert not [p.name for p in sol.result_dir(trained).iterdir()  # nothing beside it: no lists, models, densities
                if p.name.startswith(("train_clips_", "model_", "density_", "threshold_"))]


def test_the_network_runs_once_over_the_training_clips_and_the_test_over_the_test_clips_alone(
        tiny_data, tmp_path, monkeypatch):
    seen = []
    original = torch_backend.predict

    def counted(net, batch):
        seen.append(len(batch))
        return original(net, batch)

    monkeypatch.setattr(torch_backend, "predict", counted)
    sol = _pytorch()
    pipeline.train_all(sol, tiny_data, tmp_path, "fan", live=False, progress=False)
    clips, mels = pipeline.load_clip_features(sol, layout.list_clips(tiny_data, "fan", "train"), False, "")
    assert sum(seen) == len(pipeline.make_items(sol, mels, training=False))  # the fit: one pass, no reload

    seen.clear()
    pipeline.test_all(sol, tiny_data, tmp_path, "fan", progress=False)
    clips, mels = pipeline.load_clip_features(sol, layout.list_clips(tiny_data, "fan", "test"), False, "")
    assert sum(seen) == len(pipeline.make_items(sol, mels, training=False))  # the test clips' items, nothing more


def test_other_scoring_settings_refit_the_scorer_once_with_a_warning_and_keep_the_network(trained, caplog):
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1, "scoring.backend": "knn",
                                                      "scoring.neighbours": 3})
    path = detector_path(sol.result_dir(trained), "fan")
    weights = Detector.load(sol, path).weights
    with caplog.at_level(logging.WARNING, logger="helpers"):
        first = pipeline.load_detector(sol, "fan", trained)
        second = pipeline.load_detector(sol, "fan", trained)
    said = [r.getMessage() for r in caplog.records if "fitted under other scoring settings" in r.getMessage()]
    assert len(said) == 1 and str(path) in said[0] and "'knn'" in said[0]
    assert first.densities["fan"].settings["neighbours"] == second.densities["fan"].settings["neighbours"] == 3
    assert all(np.array_equal(weights[name], second.weights[name]) for name in weights)


@pytest.mark.parametrize("damage", ["cut short", "empty", "not an npz file"])
def test_a_damaged_detector_file_is_an_error_naming_it_and_what_to_do(damage, trained, tmp_path):
    sol = _pytorch()
    path = tmp_path / "detector_fan.npz"
    data = detector_path(sol.result_dir(trained), "fan").read_bytes()
    path.write_bytes({"cut short": data[:len(data) // 2], "empty": b"", "not an npz file": b"hello"}[damage])
    with pytest.raises(ToolkitError) as err:
        Detector.load(sol, path)
    assert str(path) in str(err.value) and "train again" in str(err.value)


def test_one_network_on_two_machine_types_is_scored_and_decided_per_type_and_section(tiny_data, tmp_path):
    sol = toy_classifier.write(tmp_path / "toy", {"training.scope": "all_types", "training.epochs": 2})
    summary = pipeline.train_all(sol, tiny_data, tmp_path / "result", "fan,pump", live=False, progress=False)
    assert summary["machine_type"].tolist() == ["all_types"] and summary["clips"].iloc[0] == 24
    run = sol.result_dir(tmp_path / "result")
    assert sorted(p.name for p in run.glob("detector_*.npz")) == ["detector_all_types.npz"]
    assert (run / "loss_all_types.png").is_file() and (run / "history_all_types.csv").is_file()
    both = Detector.load(sol, run / "detector_all_types.npz")
    assert both.machine_types == ["fan", "pump"]
    assert both.classes == [f"{t}/{i}" for t in ("fan", "pump") for i in ("00", "02", "04", "06")]
    assert set(both.thresholds) == {"fan", "pump"} and set(both.train_clips) == {"fan", "pump"}
    assert both.net.head.out_features == 8

    scores, tables = pipeline.test_all(sol, tiny_data, tmp_path / "result", "fan,pump", progress=False)
    assert set(tables) == {"fan", "pump"} and np.isfinite(scores["score"]).all()
    for machine_type, group in scores.groupby("machine_type"):
        thresholds = pipeline.section_thresholds(sol, machine_type, tmp_path / "result")
        assert set(thresholds) == {"00", "02", "04", "06"}
        limits = group["section"].map(thresholds)
        assert (group["decision"] == (group["score"] > limits).astype(int)).all()
    with pytest.raises(ToolkitError, match=r"trained on \['fan', 'pump'\], not on 'valve'"):
        both.decide(np.zeros(1), [layout.parse_clip(tiny_data / "valve" / "test" / "normal_id_00_00000000.wav",
                                                             "valve", "test")])


def test_a_classifier_learns_the_classes_of_each_type_prefixed_by_the_type_when_it_spans_several():
    clip = layout.Clip
    clips = [clip(t, "train", s, 0, 0, f"/{t}/{s}.wav") for t in ("fan", "pump") for s in ("00", "02")]
    mels = [np.zeros((4, 8))] * len(clips)
    machine_id = objectives.OBJECTIVES["machine_id"]

    def classes(chosen, several_types=False):
        return machine_id.fit_classes(chosen, mels[:len(chosen)], several_types, 4, 0)

    assert classes(clips[:2])[0] == ["00", "02"] and classes(clips[:2])[1].tolist() == [0, 1]
    assert classes(clips, several_types=True)[0] == ["fan/00", "fan/02", "pump/00", "pump/02"]
    assert machine_id.labels(clips[::-1], ["fan/00", "fan/02", "pump/00", "pump/02"]).tolist() == [3, 2, 1, 0]
    one_section = [clip("fan", "train", "00", 0, 0, f"/fan/{i}.wav", attributes=a) for i, a in enumerate("ab")]
    assert classes(one_section)[0] == ["00:a", "00:b"]
    # a test clip with attributes no training clip had: its section's most probable class; another section: unknown
    unseen = [clip("fan", "test", "00", 0, 0, "/fan/t.wav", attributes="c"), clip("fan", "test", "01", 0, 0, "/fan/u.wav")]
    assert machine_id.labels(unseen, ["00:a", "00:b"]).tolist() == [objectives.MOST_PROBABLE, objectives.UNKNOWN]
    assert machine_id.labels(unseen[:1], ["fan/00:a", "fan/00:b", "pump/00"]).tolist() == [objectives.MOST_PROBABLE]
    # a type with one class is one class among the others in a network of several types
    assert classes([clips[0], clips[2], clips[3]], several_types=True)[0] == ["fan/00", "pump/00", "pump/02"]
    with pytest.raises(DataLayoutError, match="needs at least 2 training clips"):
        classes(clips[:1])


def test_a_classifier_of_one_class_finds_its_classes_in_the_clips_mean_spectra():
    """Clips of one ID and no attributes: k-means of their mean log-mels gives the classes, and
    every clip is then scored by its most probable class."""
    rng = np.random.default_rng(0)
    levels = np.repeat([-60.0, -40.0, -20.0], 4)  # three clear loudness groups of four clips
    mels = [level + rng.normal(0, 1, (8, 20)) for level in levels]
    clips = [layout.Clip("fan", "train", "00", i, 0, f"/fan/{i}.wav") for i in range(12)]
    machine_id = objectives.OBJECTIVES["machine_id"]
    classes, labels = machine_id.fit_classes(clips, mels, False, 3, 0)
    assert classes == ["00~0", "00~1", "00~2"]
    assert sorted(np.bincount(labels).tolist()) == [4, 4, 4]
    assert all(len(set(labels[i:i + 4])) == 1 for i in (0, 4, 8))  # each loudness group is one class
    assert machine_id.fit_classes(clips[:2], mels[:2], False, 3, 0)[0] == ["00~0", "00~1"]  # no more than the clips
    test = machine_id.labels(clips[:2], classes)
    assert test.tolist() == [objectives.MOST_PROBABLE] * 2
    logits = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]])
    items = types.SimpleNamespace(labels_of=lambda index: test[index])
    scores, _ = machine_id.item_scores(logits, items, np.arange(2), None, errors=False)
    np.testing.assert_allclose(scores, -objectives.log_softmax(logits).max(axis=1))


def _compared_names(tree: ast.AST):
    """(line, constant) of every string a comparison or a mapping lookup tests against."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                for item in (side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]):
                    if isinstance(item, ast.Constant) and isinstance(item.value, str):
                        yield node.lineno, item.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            yield node.lineno, node.slice.value


def test_objective_and_back_end_names_are_compared_only_in_their_own_modules():
    """A new objective or back end is one class: no other module branches on their names."""
    owners = {**{o.name: "objectives.py" for o in objectives.OBJECTIVES.values()},
              **{o.own_score: "objectives.py" for o in objectives.OBJECTIVES.values() if o.own_score},
              **{name: "densities.py" for name in densities.BACKENDS}, detector.ALL_TYPES: "detector.py"}
    found = [f"{path.relative_to(paths.PROJECT_ROOT)}:{line} {name!r}"
             for path in sorted((paths.PROJECT_ROOT / "helpers").rglob("*.py"))
             for line, name in _compared_names(ast.parse(path.read_text()))
             if name in owners and path.name not in (owners[name], "config.py")]
    assert found == []
    planted = ast.parse('if solution.objective.name == "machine_id" or backend in ("knn", "gmm"): pass')
    assert [name for _, name in _compared_names(planted)] == ["machine_id", "knn", "gmm"]
