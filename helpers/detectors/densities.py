"""Density back ends: anomaly scores from how far an item's vector lies from the training vectors.

One class per back end, in the registry :data:`BACKENDS` under the name ``scoring.backend``
gives; a new back end is one class added there. Each is fitted per group (a machine type's
sections; 2020: machine IDs) on the vectors a network gives for the training items (error
vectors or embeddings: helpers.detectors.scoring), as the DCASE 2023 baseline fits its Mahalanobis back
end per section. An item of a group seen in training is scored by that group's density; an item
of a group that was not (an eval ID trained without its additional data) by the nearest of them
(the lowest score), with a warning.

- ``mahalanobis``: the Mahalanobis distance to the group's mean under its covariance, estimated
  with Ledoit-Wolf shrinkage (stable with fewer vectors than dimensions) or, with
  ``covariance: sample``, as the sample covariance (the DCASE 2023-2026 baselines').
- ``knn``: the mean distance to the ``neighbours`` nearest training vectors.
- ``gmm``: the negative log-likelihood under a Gaussian mixture of ``components`` diagonal
  Gaussians.

Settings every back end takes (the ``scoring`` section):

- ``domains``: ``pooled`` fits one density per group on all its vectors; ``separate`` fits one
  per domain of its training clips (source, target) and scores an item by the smaller of the
  two: with ``mahalanobis`` this is the 2023-2026 baselines' *selective Mahalanobis*, with
  ``knn`` the source and target memories of the ASD toolkit's kNN back end.
- ``metric``: ``cosine`` L2-normalises every vector before fitting and scoring; a ``knn``
  distance is then half the Euclidean distance between unit vectors, sqrt((1 - cos) / 2), in
  [0, 1] (the ASD toolkit's). ``euclidean`` keeps the vectors as they are.
- ``oversample_target``: 0 (off) or the ratio of target to source vectors that SMOTE
  (imbalanced-learn) fills a group's few target vectors up to, by interpolating between a target
  vector and one of its ``smote_neighbours`` nearest target neighbours, before fitting; the
  source vectors stay as they are. A group with no more target vectors than
  ``smote_neighbours``, or already that many, is fitted without new ones.

knn and gmm keep or fit on at most ``fit_items`` training vectors per group and domain (a seeded
random subset). A fitted back end is plain arrays per group and domain
(:attr:`Density.per_group`), which a detector saves with its network (helpers.detectors.detector):
loading runs no code. scikit-learn and imbalanced-learn are imported when a back end is fitted
or a knn one scores, not with this module.
"""
from __future__ import annotations

import difflib
import logging
from typing import ClassVar

import numpy as np

from helpers.errors import ConfigError

log = logging.getLogger("helpers")

POOLED = "all"  # the domain name of a density fitted on every domain's vectors
DOMAINS = ("pooled", "separate")
METRICS = ("euclidean", "cosine")
COVARIANCES = ("ledoit_wolf", "sample")
SETTINGS = ("neighbours", "components", "fit_items", "domains", "metric", "covariance", "oversample_target",
            "smote_neighbours")


class Density:
    """One fitted back end: per group and domain, its arrays ({group: {domain: {name: array}}}), and
    the scoring settings it was fitted with (:data:`SETTINGS`)."""

    kind: ClassVar[str]
    label: ClassVar[str]  # what the score is, for axis labels

    def __init__(self, per_group: dict[str, dict[str, dict[str, np.ndarray]]], settings: dict):
        self.per_group = per_group
        self.settings = {k: settings[k] for k in SETTINGS}

    @classmethod
    def fit(cls, vectors: np.ndarray, groups, settings: dict, seed: int = 0, domains=None) -> Density:
        """Fit per group on training `vectors` [shape=(n, d)] with their groups and domains [shape=(n,)]
        ('source' or 'target'; None: all source). `settings`: the scoring section (:data:`SETTINGS`)."""
        vectors = _normalised(np.asarray(vectors, dtype=np.float64), settings)
        groups = np.asarray(groups).astype(str)
        domains = np.full(len(vectors), "source") if domains is None else np.asarray(domains).astype(str)
        rng = np.random.default_rng(seed)
        per_group = {}
        for group in map(str, sorted(set(groups))):
            memories = _memories(vectors[groups == group], domains[groups == group], settings, seed, group)
            per_group[group] = {domain: cls.fit_group(memory, settings, rng, seed) for domain, memory in memories.items()}
        return cls(per_group, settings)

    @classmethod
    def fit_group(cls, vectors: np.ndarray, settings: dict, rng: np.random.Generator, seed: int) -> dict:
        """The arrays of one group's density (of one domain), fitted on its vectors [shape=(n, d)]."""
        raise NotImplementedError

    def score_arrays(self, group: str, domain: str, vectors: np.ndarray) -> np.ndarray:
        """The score of each vector under the density of one group and domain. [shape=(n,)]"""
        raise NotImplementedError

    def score_group(self, group: str, vectors: np.ndarray) -> np.ndarray:
        """The score of each (prepared) vector under one group's density: the smallest over its domains. [shape=(n,)]"""
        return np.min([self.score_arrays(group, domain, vectors) for domain in self.per_group[group]], axis=0)

    def score(self, vectors: np.ndarray, groups) -> np.ndarray:
        """The score of each vector under its group's density. [shape=(n,)] from [shape=(n, d)]"""
        vectors = _normalised(np.asarray(vectors, dtype=np.float64), self.settings)
        groups = np.asarray(groups).astype(str)
        scores = np.full(len(vectors), np.nan)
        unknown = sorted(map(str, set(groups) - set(self.per_group)))  # plain str: np.str_ reads badly in the log
        if unknown:
            log.warning("density back end: group(s) %s were not in its training data; their items are scored "
                        "by the nearest known group among %s", unknown, sorted(self.per_group))
            chosen = np.isin(groups, unknown)
            scores[chosen] = np.min([self.score_group(g, vectors[chosen]) for g in self.per_group], axis=0)
        for group in set(groups) & set(self.per_group):
            chosen = groups == group
            scores[chosen] = self.score_group(group, vectors[chosen])
        return scores


class Mahalanobis(Density):
    kind, label = "mahalanobis", "Mahalanobis distance"

    @classmethod
    def fit_group(cls, vectors, settings, rng, seed):
        if settings["covariance"] == "sample":
            covariance = np.cov(vectors, rowvar=False) if len(vectors) > 1 else np.eye(vectors.shape[1])
            return {"mean": vectors.mean(axis=0), "precision": np.linalg.pinv(np.atleast_2d(covariance),
                                                                              hermitian=True)}
        from sklearn.covariance import LedoitWolf

        estimate = LedoitWolf().fit(vectors)
        return {"mean": estimate.location_, "precision": estimate.precision_}

    def score_arrays(self, group, domain, vectors):
        arrays = self.per_group[group][domain]
        centred = vectors - arrays["mean"]
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", centred, arrays["precision"], centred), 0.0))


class Knn(Density):
    kind, label = "knn", "mean distance to the nearest training vectors"

    def __init__(self, per_group, settings):
        super().__init__(per_group, settings)
        self._searchers = {}

    @classmethod
    def fit_group(cls, vectors, settings, rng, seed):
        return {"vectors": _subset(vectors, settings["fit_items"], rng)}

    def score_arrays(self, group, domain, vectors):
        if (group, domain) not in self._searchers:
            from sklearn.neighbors import NearestNeighbors

            kept = self.per_group[group][domain]["vectors"]
            k = min(self.settings["neighbours"], len(kept))
            self._searchers[group, domain] = NearestNeighbors(n_neighbors=k).fit(kept)
        distances, _ = self._searchers[group, domain].kneighbors(vectors)
        return distances.mean(axis=1) / (2.0 if self.settings["metric"] == "cosine" else 1.0)


class Gmm(Density):
    kind, label = "gmm", "−log likelihood (GMM)"

    @classmethod
    def fit_group(cls, vectors, settings, rng, seed):
        from sklearn.mixture import GaussianMixture

        sample = _subset(vectors, settings["fit_items"], rng)
        mixture = GaussianMixture(min(settings["components"], len(sample)), covariance_type="diag",
                                  reg_covar=1e-4, random_state=seed).fit(sample)
        return {"weights": mixture.weights_, "means": mixture.means_, "variances": mixture.covariances_}

    def score_arrays(self, group, domain, vectors):
        """Minus log p(x) under the diagonal Gaussian mixture given by weights, means, variances."""
        arrays = self.per_group[group][domain]
        weights, means, variances = arrays["weights"], arrays["means"], arrays["variances"]
        log_det = np.log(variances).sum(axis=1)  # [components]
        squared = ((vectors[:, None, :] - means[None]) ** 2 / variances[None]).sum(axis=2)  # [n, components]
        per_component = np.log(weights)[None] - 0.5 * (squared + log_det[None] + means.shape[1] * np.log(2 * np.pi))
        top = per_component.max(axis=1, keepdims=True)
        return -(top + np.log(np.exp(per_component - top).sum(axis=1, keepdims=True)))[:, 0]


BACKENDS: dict[str, type[Density]] = {c.kind: c for c in (Mahalanobis, Knn, Gmm)}


def backend(kind: str) -> type[Density]:
    """The back end called `kind`; ConfigError naming what is accepted and the closest name."""
    if kind in BACKENDS:
        return BACKENDS[kind]
    close = difflib.get_close_matches(str(kind), BACKENDS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"unknown density back end {kind!r}{hint}; accepted: {', '.join(BACKENDS)}")


def fit(kind: str, vectors: np.ndarray, groups, settings: dict, seed: int = 0, domains=None) -> Density:
    """A `kind` back end fitted per group (and per domain: see :meth:`Density.fit`)."""
    return backend(kind).fit(vectors, groups, settings, seed, domains)


def oversampled_targets(vectors: np.ndarray, is_target: np.ndarray, ratio: float, neighbours: int,
                        seed: int) -> np.ndarray:
    """New target vectors from SMOTE (imbalanced-learn), enough that targets make `ratio` of the
    source count; none where there are no more targets than `neighbours` or already that many.
    [shape=(new, d)] from `vectors` [shape=(n, d)] and `is_target` [shape=(n,)] booleans."""
    targets, sources = int(is_target.sum()), int((~is_target).sum())
    if targets <= neighbours or sources == 0 or int(ratio * sources) <= targets:
        return np.empty((0, vectors.shape[1]))
    from imblearn.over_sampling import SMOTE

    resampled, _ = SMOTE(sampling_strategy=ratio, random_state=seed, k_neighbors=neighbours).fit_resample(
        vectors, is_target.astype(np.int64))
    return resampled[len(vectors):]  # imbalanced-learn appends the new vectors after the given ones


def _memories(vectors: np.ndarray, domains: np.ndarray, settings: dict, seed: int, group: str) -> dict:
    """{domain: the vectors its density is fitted on} of one group: one POOLED memory, or one per
    domain present; the target vectors filled up by SMOTE when ``oversample_target`` asks."""
    is_target = domains == "target"
    new = np.empty((0, vectors.shape[1]))
    if settings["oversample_target"] > 0:
        new = _normalised(oversampled_targets(vectors, is_target, settings["oversample_target"],
                                              settings["smote_neighbours"], seed), settings)
        if not len(new) and is_target.any():
            log.info("density back end: group %s keeps its %d target vector(s) as they are (SMOTE needs more "
                     "than smote_neighbours=%d of them, and fewer than oversample_target x %d source vectors)",
                     group, int(is_target.sum()), settings["smote_neighbours"], int((~is_target).sum()))
    if settings["domains"] == "pooled":
        return {POOLED: np.concatenate([vectors, new])}
    memories = {"source": vectors[~is_target], "target": np.concatenate([vectors[is_target], new])}
    return {domain: memory for domain, memory in memories.items() if len(memory)}


def _normalised(vectors: np.ndarray, settings: dict) -> np.ndarray:
    """The vectors on the unit sphere under the cosine metric, else as they are."""
    if settings["metric"] != "cosine":
        return vectors
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _subset(vectors: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return vectors if len(vectors) <= limit else vectors[np.sort(rng.choice(len(vectors), limit, replace=False))]
