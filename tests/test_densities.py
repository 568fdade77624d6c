"""Density back ends (helpers.detectors.densities): each score checked against an independent computation.
Saving and fitting with a trained network: tests/test_detector.py."""
import logging

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import LedoitWolf
from sklearn.mixture import GaussianMixture

from helpers.detectors import config, densities

SETTINGS = {**{k: config.defaults()["scoring"][k] for k in densities.SETTINGS}, "components": 3}


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
    arrays = density.per_group["00"][densities.POOLED]
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


# Domain-aware back ends. The reference figures below were computed by the public implementations on
# the same inputs (float64): the kNN and SMOTE ones by TakuyaFujimura/dcase-asd-toolkit
# (asdkit/backends/knn.py, commit ed27d82), the selective Mahalanobis ones by the DCASE 2023 task 2
# baseline (nttcslab/dcase2023_task2_baseline_ae, networks/criterion/mahala.py, commit 9b64dc4).

def reference_knn_data():
    """7 training vectors (rows 5 and 6 target) and 3 test vectors, the reference kNN case."""
    train = np.random.default_rng(2).standard_normal((7, 4))
    return train, np.array(["source"] * 5 + ["target"] * 2), np.random.default_rng(3).standard_normal((3, 4))


def test_separate_domains_score_an_item_by_the_nearer_of_the_source_and_target_memories():
    training = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    domains = ["source", "source", "target"]
    point = np.array([[9.0, 0.0]])
    pooled = densities.fit("knn", training, ["00"] * 3, {**SETTINGS, "neighbours": 2}, domains=domains)
    separate = densities.fit("knn", training, ["00"] * 3, {**SETTINGS, "neighbours": 2, "domains": "separate"},
                             domains=domains)
    assert pooled.score(point, ["00"]).tolist() == [(1 + 8) / 2]  # [10, 0] and [1, 0]
    assert separate.score(point, ["00"]).tolist() == [1.0]  # min(source: (8 + 9) / 2, target: its one vector at 1)
    assert sorted(separate.per_group["00"]) == ["source", "target"] and list(pooled.per_group["00"]) == [densities.POOLED]


def test_cosine_knn_with_source_and_target_memories_gives_the_asd_toolkits_scores():
    train, domains, test = reference_knn_data()
    expected = {1: [0.32200553318021696, 0.6047096399639716, 0.5259298289258699],
                2: [0.37264046704552983, 0.667194959334561, 0.6251771631324541]}
    for k, scores in expected.items():
        settings = {**SETTINGS, "neighbours": k, "domains": "separate", "metric": "cosine"}
        density = densities.fit("knn", train, ["00"] * 7, settings, domains=domains)
        np.testing.assert_allclose(density.score(test, ["00"] * 3), scores, rtol=1e-12)
    euclidean = densities.fit("knn", train, ["00"] * 7, {**SETTINGS, "neighbours": 1, "domains": "separate"},
                              domains=domains)
    np.testing.assert_allclose(euclidean.score(test, ["00"] * 3),
                               [2.494719211796826, 2.4887915160457665, 3.3878351785882987], rtol=1e-12)


def test_smote_fills_the_target_memory_with_points_between_target_neighbours():
    train = np.random.default_rng(4).standard_normal((23, 4))
    domains = np.array(["source"] * 20 + ["target"] * 3)
    settings = {**SETTINGS, "neighbours": 1, "domains": "separate", "metric": "cosine", "oversample_target": 0.5,
                "smote_neighbours": 2}
    density = densities.fit("knn", train, ["00"] * 23, settings, domains=domains)
    memory = density.per_group["00"]["target"]["vectors"]
    assert memory.shape == (10, 4)  # the asd toolkit's count: ratio 0.5 x 20 source vectors
    assert np.array_equal(density.per_group["00"]["source"]["vectors"],
                          train[:20] / np.linalg.norm(train[:20], axis=1, keepdims=True))
    targets = train[20:] / np.linalg.norm(train[20:], axis=1, keepdims=True)
    np.testing.assert_allclose(memory[:3], targets)
    for new in memory[3:]:  # each new vector, renormalised, lies on a segment between two of the 3 targets
        on_a_segment = False
        for a in range(3):
            for b in range(3):
                direction = targets[b] - targets[a]  # new = (a + λ (b - a)) / norm: weight 1 / norm, step λ / norm
                (weight, step), *_ = np.linalg.lstsq(np.stack([targets[a], direction], axis=1), new, rcond=None)
                residual = new - weight * targets[a] - step * direction
                on_a_segment |= a != b and weight > 0 and 0 <= step / weight <= 1 and np.abs(residual).max() < 1e-9
        assert on_a_segment
    too_few = densities.fit("knn", train[18:], ["00"] * 5, settings, domains=domains[18:])  # 3 targets, 2 sources
    assert len(too_few.per_group["00"]["target"]["vectors"]) == 3


def reference_mahalanobis_data():
    """20 source and 20 target training vectors of two differently shaped Gaussians, 4 test vectors."""
    rng = np.random.default_rng(6)
    source = rng.standard_normal((20, 3)) * [1, 2, 0.5]
    target = rng.standard_normal((20, 3)) * [0.5, 1, 1] + [1, -1, 0.5]
    return source, target, rng.standard_normal((4, 3))


def test_selective_mahalanobis_is_the_dcase_baselines_smaller_of_the_two_domains_distances():
    """The baseline fits each domain's covariance on reconstruction errors (whose mean is about 0) and
    scores an error e by e' inv(cov) e; with zero-mean training vectors the back end's squared
    distance is that, and with others it is centred on each domain's mean."""
    source, target, test = reference_mahalanobis_data()
    settings = {**SETTINGS, "domains": "separate", "covariance": "sample"}
    domains = ["source"] * 20 + ["target"] * 20
    centred = densities.fit("mahalanobis", np.concatenate([source - source.mean(0), target - target.mean(0)]),
                            ["00"] * 40, settings, domains=domains)
    np.testing.assert_allclose(centred.score(test, ["00"] * 4) ** 2,
                               [1.854688583323881, 6.770269432700202, 5.856811099094031, 0.3177431918265814],
                               rtol=1e-10)
    density = densities.fit("mahalanobis", np.concatenate([source, target]), ["00"] * 40, settings, domains=domains)
    np.testing.assert_allclose(density.score(test, ["00"] * 4) ** 2,
                               [2.5061103283314874, 7.852983297810345, 6.237649722644781, 0.193641124399361],
                               rtol=1e-10)
    np.testing.assert_allclose(np.linalg.inv(density.per_group["00"]["source"]["precision"]),
                               np.cov(source, rowvar=False), rtol=1e-10)


def test_every_back_end_takes_the_domain_and_metric_settings():
    train, domains, test = reference_knn_data()
    for kind in densities.BACKENDS:
        settings = {**SETTINGS, "components": 1, "domains": "separate", "metric": "cosine"}
        separate = densities.fit(kind, train, ["00"] * 7, settings, domains=domains)
        per_domain = [densities.fit(kind, train[domains == d], ["00"] * int((domains == d).sum()), settings)
                      for d in ("source", "target")]
        np.testing.assert_allclose(separate.score(test, ["00"] * 3),
                                   np.min([d.score(test, ["00"] * 3) for d in per_domain], axis=0), rtol=1e-9)
        scaled = separate.score(test * 7.0, ["00"] * 3)  # the cosine metric sees directions only
        np.testing.assert_allclose(scaled, separate.score(test, ["00"] * 3), rtol=1e-9)
