"""The embedding map: a machine-ID classifier's clips, training and test, on the training clips' principal components."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from helpers import paths
from helpers.data import editions, layout
from helpers.detectors import solution
from helpers.experiments import inspection, pipeline
from helpers.figures import plots
from helpers.detectors.detector import Detector, detector_path
from helpers.errors import ToolkitError
from tests import toy_classifier

TYPES = "fan,valve"


@pytest.fixture(scope="module")
def classifier_run(tiny_data, tmp_path_factory):
    """The toy machine-ID classifier trained for two epochs on fan and valve, and its test run."""
    root = tmp_path_factory.mktemp("maps")
    sol = toy_classifier.write(tmp_path_factory.mktemp("solutions") / "toy")
    pipeline.train_all(sol, tiny_data, root, TYPES, live=False, progress=False)
    pipeline.test_all(sol, tiny_data, root, TYPES, progress=False)
    return sol, root


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_a_clips_embedding_is_the_mean_of_its_items_embeddings(classifier_run):
    sol, root = classifier_run
    model = pipeline.load_detector(sol, "fan", root)
    clips = pipeline.train_clips(sol, "fan", root)[:2]
    kept, vectors = inspection.clip_embeddings(model, clips)
    assert kept == clips and vectors.shape == (2, 8)
    _, mels = pipeline.load_clip_features(sol, clips[1:], False, "")
    items = model.items(clips[1:], mels)
    direct = model.net.embed(torch.from_numpy(items.batch(np.arange(len(items))))).detach().numpy()
    np.testing.assert_allclose(vectors[1], direct.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_one_map_per_machine_type_with_every_clip_projected_on_the_training_clips_components(classifier_run, tiny_data):
    sol, root = classifier_run
    figures = inspection.embedding_maps(sol, root, TYPES)
    assert len(figures) == 2 and all(plt.fignum_exists(f.number) for f in figures)  # pyplot's: plt.show() shows them
    for figure, machine_type in zip(figures, TYPES.split(",")):
        (ax,) = figure.axes
        assert machine_type in ax.get_title()
        train, normal, anomalous = ax.collections
        ids = editions.edition(2020).dev_sections[machine_type]
        assert len(train.get_offsets()) == 3 * len(ids)  # tiny: 3 training, 2 + 2 test clips per ID
        assert len(normal.get_offsets()) == len(anomalous.get_offsets()) == 2 * len(ids)
        np.testing.assert_allclose(train.get_offsets().mean(axis=0), 0, atol=1e-9)  # centred on the training clips
        shares = [float(label.split("(")[1].split(" %")[0]) for label in (ax.get_xlabel(), ax.get_ylabel())]
        assert 0 < shares[1] <= shares[0] and sum(shares) <= 100.05
        legends = [c for c in ax.get_children() if isinstance(c, matplotlib.legend.Legend)]
        assert [t.get_text() for t in legends[0].get_texts()] == [f"id {i}" for i in ids]
        assert [t.get_text() for t in legends[1].get_texts()] == [
            f"train ({3 * len(ids)})", f"normal test ({2 * len(ids)})", f"anomalous test ({2 * len(ids)})"]


def test_unlabelled_eval_clips_are_a_group_of_their_own(classifier_run, tiny_data, tmp_path):
    sol, root = classifier_run
    scores_path = sol.result_dir(root) / "scores.csv"
    original = scores_path.read_text()
    try:
        scores = pd.read_csv(scores_path, dtype={"section": str})
        scores.loc[scores["section"] == "06", "label"] = pd.NA
        scores.to_csv(scores_path, index=False)
        (figure,) = inspection.embedding_maps(sol, root, "fan")
    finally:
        scores_path.write_text(original)
    assert [len(c.get_offsets()) for c in figure.axes[0].collections] == [12, 6, 6, 4]
    plots.save(figure, tmp_path / "embedding_map.png")


def test_a_network_without_embed_has_no_map(tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    pipeline.train_all(sol, tiny_data, tmp_path, "fan", live=False, progress=False)
    pipeline.test_all(sol, tiny_data, tmp_path, "fan", progress=False)
    assert inspection.embedding_maps(sol, tmp_path, "fan") == []


def test_a_map_needs_two_training_clips(classifier_run, tiny_data):
    sol, root = classifier_run
    path = detector_path(sol.result_dir(root), "fan")
    original = path.read_bytes()
    one_clip = Detector.load(sol, path)
    one_clip.train_clips["fan"] = one_clip.train_clips["fan"][:1]
    try:
        one_clip.save(path)
        with pytest.raises(ToolkitError) as err:
            inspection.embedding_maps(sol, root, "fan")
    finally:
        path.write_bytes(original)
    assert f"fan in {sol.result_dir(root)}" in str(err.value) and "at least 2 usable training clips" in str(err.value)


def test_a_map_colours_clips_by_what_a_classifier_tells_apart_and_by_domain():
    clip = layout.Clip
    two_sections = [clip("fan", "train", s, 0, 0, f"/{s}{d}.wav", domain=d) for s in ("00", "01") for d in ("source", "target")]
    assert inspection._colour_keys(two_sections, "section") == (
        ["00 · source", "00 · target", "01 · source", "01 · target"], "section · domain")
    one_section = [clip("ToyCar", "train", "00", 0, 0, f"/{a}.wav", attributes=a) for a in ("spd_28V", "spd_31V")]
    assert inspection._colour_keys(one_section, "section") == (["spd_28V", "spd_31V"], "attributes")
    assert inspection._colour_keys(two_sections[::2], "id") == (["00", "01"], "id")  # 2020: by ID, as before
