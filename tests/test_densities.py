"""Density back ends (helpers.densities): each score checked against an independent computation,
the saved file, and the pipeline that fits, saves and reuses a back end without retraining."""
import logging

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import LedoitWolf
from sklearn.mixture import GaussianMixture

from helpers import densities, paths, pipeline, solution
from helpers.errors import ToolkitError

SETTINGS = {"neighbours": 5, "components": 3, "fit_items": 20000}


def gaussian(n: int, seed: int = 0):
    """n draws of a 3-d Gaussian with a known mean and a correlated covariance (eigenvalues 0.25 to 9)."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    covariance = rotation @ np.diag([9.0, 1.0, 0.25]) @ rotation.T
    mean = np.array([1.0, -2.0, 0.5])
    return rng.multivariate_normal(mean, covariance, n), mean, covariance


def queries(mean, covariance, seed: int = 1):
    """Points at Mahalanobis distances 0.5 to 6 from `mean` under `covariance`, in random directions. [shape=(12, 3)]"""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(12, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return mean + (np.linspace(0.5, 6, 12)[:, None] * directions) @ np.linalg.cholesky(covariance).T


def test_mahalanobis_is_the_distance_under_the_estimators_own_mean_and_precision():
    vectors, mean, covariance = gaussian(400)
    density = densities.fit("mahalanobis", vectors, ["00"] * len(vectors), SETTINGS)
    estimate = LedoitWolf().fit(vectors)
    points = queries(mean, covariance)
    expected = [mahalanobis(p, estimate.location_, estimate.precision_) for p in points]
    np.testing.assert_allclose(density.score(points, ["00"] * len(points)), expected, rtol=1e-12)


def test_mahalanobis_approaches_the_analytic_distance_as_far_as_shrinkage_and_n_samples_allow():
    """|d̂ - d| within the error of the estimate on n samples: in whitened coordinates the sample
    covariance's error has Frobenius norm about sqrt(d(d+1)/n) and the mean's about sqrt(d/n) (four
    times each allowed), and Ledoit-Wolf moves the covariance by its shrinkage times the distance
    to the scaled identity; a covariance within a relative spectral error e changes every distance
    by at most a factor 1/sqrt(1 - e)."""
    n, d = 20000, 3
    vectors, mean, covariance = gaussian(n)
    density = densities.fit("mahalanobis", vectors, ["00"] * n, SETTINGS)
    estimate = LedoitWolf().fit(vectors)
    whiten = np.linalg.inv(np.linalg.cholesky(covariance))
    sample = np.cov(vectors.T, bias=True)
    target = np.trace(sample) / d * np.eye(d)
    spread = estimate.shrinkage_ * np.linalg.norm(whiten @ (target - sample) @ whiten.T, 2)
    relative = 1 / np.sqrt(1 - (4 * np.sqrt(d * (d + 1) / n) + spread)) - 1
    offset = 4 * np.sqrt(d / n)
    points = queries(mean, covariance)
    analytic = np.sqrt(np.einsum("ij,jk,ik->i", points - mean, np.linalg.inv(covariance), points - mean))
    np.testing.assert_allclose(analytic, np.linspace(0.5, 6, 12))
    error = np.abs(density.score(points, ["00"] * len(points)) - analytic)
    assert np.all(error <= relative * analytic + (1 + relative) * offset)
    assert relative < 0.06  # the bound is tight enough to tell a wrong distance (squared, or under the covariance)


def test_knn_is_the_mean_distance_to_the_k_nearest_training_vectors():
    training = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    density = densities.fit("knn", training, ["00"] * 4, {**SETTINGS, "neighbours": 2})
    points = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 4.0]])
    # [0,0]: 0 and 1; [1,1]: 1 (to [1,0]) and sqrt 2 (to [0,0] and [0,2]); [5,4]: 1 (to [5,5]) and sqrt(25 + 4) (to [0,2])
    expected = [0.5, (1 + np.sqrt(2)) / 2, (1 + np.sqrt(29)) / 2]
    np.testing.assert_allclose(density.score(points, ["00"] * 3), expected, rtol=1e-12)
    every = densities.fit("knn", training, ["00"] * 4, {**SETTINGS, "neighbours": 10})  # k above the vectors: all of them
    np.testing.assert_allclose(every.score(points[:1], ["00"]), [(0 + 1 + 2 + np.sqrt(50)) / 4], rtol=1e-12)


def test_gmm_is_minus_sklearns_log_likelihood_of_the_same_parameters():
    vectors, mean, covariance = gaussian(600)
    density = densities.fit("gmm", vectors, ["00"] * len(vectors), SETTINGS)
    arrays = density.per_id["00"]
    mixture = GaussianMixture(len(arrays["weights"]), covariance_type="diag")
    mixture.weights_, mixture.means_, mixture.covariances_ = arrays["weights"], arrays["means"], arrays["variances"]
    mixture.precisions_cholesky_ = 1 / np.sqrt(arrays["variances"])
    points = queries(mean, covariance)
    np.testing.assert_allclose(-density.score(points, ["00"] * len(points)), mixture.score_samples(points), rtol=1e-12)
    assert len(arrays["weights"]) == SETTINGS["components"] and np.isclose(arrays["weights"].sum(), 1)


def two_ids(seed: int = 0):
    """Vectors of two IDs around different centres, and their IDs. [shape=(200, 3)], [shape=(200,)]"""
    vectors, _, _ = gaussian(200, seed)
    return vectors + np.repeat([[0.0, 0.0, 0.0], [4.0, 4.0, 4.0]], 100, axis=0), np.repeat(["00", "02"], 100)


@pytest.mark.parametrize("kind", densities.KINDS)
def test_a_saved_back_end_loads_with_the_same_scores_and_fingerprint(kind, tmp_path):
    vectors, ids = two_ids()
    fitted = densities.fit(kind, vectors, ids, {**SETTINGS, "neighbours": 3})
    densities.save(fitted, tmp_path / "density_fan.npz", "abc123")
    loaded, fingerprint = densities.load(tmp_path / "density_fan.npz")
    assert fingerprint == "abc123" and loaded.kind == kind and loaded.neighbours == 3
    points, point_ids = two_ids(seed=5)
    assert np.array_equal(loaded.score(points, point_ids), fitted.score(points, point_ids))


@pytest.mark.parametrize("damage", ["cut short", "empty", "not an npz file", "a flipped byte"])
def test_a_damaged_back_end_file_is_a_toolkit_error_naming_it(damage, tmp_path):
    vectors, ids = two_ids()
    path = tmp_path / "density_fan.npz"
    densities.save(densities.fit("mahalanobis", vectors, ids, SETTINGS), path, "abc123")
    data = path.read_bytes()
    middle = len(data) // 2
    path.write_bytes({"cut short": data[:middle], "empty": b"", "not an npz file": b"hello",
                      "a flipped byte": data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]}[damage])
    with pytest.raises(ToolkitError) as err:
        densities.load(path)
    assert str(path) in str(err.value) and "delete it to fit it anew" in str(err.value)


def test_an_id_unseen_in_training_is_scored_by_the_nearest_known_id_with_a_warning(caplog):
    vectors, ids = two_ids()
    density = densities.fit("mahalanobis", vectors, ids, SETTINGS)
    points = two_ids(seed=7)[0][[0, 150]]  # one near ID 00's centre, one near 02's
    with caplog.at_level(logging.WARNING, logger="helpers"):
        unseen = density.score(points, ["05", "05"])
    as_known = np.array([density.score(points, [known] * 2) for known in ("00", "02")])
    assert np.array_equal(unseen, as_known.min(axis=0))
    assert as_known.argmin(axis=0).tolist() == [0, 1]  # each point takes the ID it lies near
    assert "['05'] were not in its training data" in caplog.text and "['00', '02']" in caplog.text


def test_a_back_end_is_fitted_on_the_trained_network_saved_and_reused(tiny_data, tmp_path, monkeypatch, caplog):
    """mse, then mahalanobis on the same network (not retrained): fitted once and saved, loaded on
    the next test run; a changed knn setting fits anew; a damaged file is fitted anew with a warning."""
    def load(overrides=None):
        return solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1, **(overrides or {})})

    result_dir = load().result_dir(tmp_path)
    assert not pipeline.train_machine_type(load(), tiny_data, "fan", result_dir, live=False, progress=False)["reused"]
    mse = pipeline.score_machine_type(load(), tiny_data, "fan", tmp_path, progress=False)
    target = pipeline.density_path(result_dir, "fan")
    assert not target.exists()

    mahalanobis_scoring = load({"scoring.backend": "mahalanobis"})
    row = pipeline.train_machine_type(mahalanobis_scoring, tiny_data, "fan", result_dir, live=False, progress=False)
    assert row["reused"] and target.is_file()
    fitted = pipeline.score_machine_type(mahalanobis_scoring, tiny_data, "fan", tmp_path, progress=False)
    assert np.isfinite(fitted["score"]).all() and not np.allclose(fitted["score"], mse["score"])
    assert fitted["path"].tolist() == mse["path"].tolist()

    fits = []
    original_fit = densities.fit

    def fail(*args, **kwargs):
        raise AssertionError("the saved density back end was fitted again")

    monkeypatch.setattr(densities, "fit", fail)
    again = pipeline.score_machine_type(mahalanobis_scoring, tiny_data, "fan", tmp_path, progress=False)
    pd.testing.assert_series_equal(again["score"], fitted["score"])

    def counting_fit(kind, *args, **kwargs):
        fits.append(kind)
        return original_fit(kind, *args, **kwargs)

    monkeypatch.setattr(densities, "fit", counting_fit)
    knn = pipeline.score_machine_type(load({"scoring.backend": "knn"}), tiny_data, "fan", tmp_path, progress=False)
    fingerprint = densities.load(target)[1]
    fewer = pipeline.score_machine_type(load({"scoring.backend": "knn", "scoring.neighbours": 2}), tiny_data, "fan",
                                        tmp_path, progress=False)
    assert fits == ["knn", "knn"] and densities.load(target)[1] != fingerprint
    assert densities.load(target)[0].neighbours == 2 and not np.allclose(knn["score"], fewer["score"])

    target.write_bytes(target.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="helpers"):
        refitted = pipeline.score_machine_type(load({"scoring.backend": "knn", "scoring.neighbours": 2}), tiny_data,
                                               "fan", tmp_path, progress=False)
    assert fits == ["knn"] * 3 and f"the density back end {target} cannot be read" in caplog.text
    pd.testing.assert_series_equal(refitted["score"], fewer["score"])
