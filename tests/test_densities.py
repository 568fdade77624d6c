"""Density back ends (helpers.detectors.densities): each score checked against an independent computation.
Saving and fitting with a trained network: tests/test_detector.py."""
import logging

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import LedoitWolf
from sklearn.mixture import GaussianMixture

from helpers.detectors import densities

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
    arrays = density.per_group["00"]
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


def test_an_id_unseen_in_training_is_scored_by_the_nearest_known_id_with_a_warning(caplog):
    vectors, ids = two_ids()
    density = densities.fit("mahalanobis", vectors, ids, SETTINGS)
    points = two_ids(seed=7)[0][[0, 150]]  # one near ID 00's centre, one near 02's
    with caplog.at_level(logging.WARNING, logger="helpers"):
        unseen = density.score(points, ["05", "05"])
    as_known = np.array([density.score(points, [known] * 2) for known in ("00", "02")])
    assert np.array_equal(unseen, as_known.min(axis=0))
    assert as_known.argmin(axis=0).tolist() == [0, 1]  # each point takes the ID it lies near
    assert "group(s) ['05'] were not in its training data" in caplog.text and "['00', '02']" in caplog.text


def test_every_back_end_is_one_class_registered_under_its_name():
    assert {name: cls.kind for name, cls in densities.BACKENDS.items()} == {"mahalanobis": "mahalanobis",
                                                                           "knn": "knn", "gmm": "gmm"}
    with pytest.raises(Exception, match=r"unknown density back end 'kn'.*did you mean 'knn'"):
        densities.backend("kn")
