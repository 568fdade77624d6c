"""Density back ends: anomaly scores from how far an item's vector lies from the training vectors.

One class per back end, in the registry :data:`BACKENDS` under the name ``scoring.backend``
gives; a new back end is one class added there. Each is fitted per group (a machine type's
sections; 2020: machine IDs) on the vectors a network gives for the training items (error
vectors or embeddings: helpers.detectors.scoring), as the DCASE 2023 baseline fits its Mahalanobis back
end per section. An item of a group seen in training is scored by that group's density; an item
of a group that was not (an eval ID trained without its additional data) by the nearest of them
(the lowest score), with a warning.

- ``mahalanobis``: the Mahalanobis distance to the group's mean under its covariance, estimated
  with Ledoit-Wolf shrinkage (stable with fewer vectors than dimensions).
- ``knn``: the mean Euclidean distance to the ``neighbours`` nearest training vectors.
- ``gmm``: the negative log-likelihood under a Gaussian mixture of ``components`` diagonal
  Gaussians.

knn and gmm keep or fit on at most ``fit_items`` training vectors per group (a seeded random
subset). A fitted back end is plain arrays per group (:attr:`Density.per_group`), which a
detector saves with its network (helpers.detectors.detector): loading runs no code. scikit-learn is
imported when a back end is fitted or a knn one scores, not with this module.
"""
from __future__ import annotations

import difflib
import logging
from typing import ClassVar

import numpy as np

from helpers.errors import ConfigError

log = logging.getLogger("helpers")


class Density:
    """One fitted back end: per group, its arrays ({group: {name: array}}), and the scoring settings
    it was fitted with (neighbours, components, fit_items)."""

    kind: ClassVar[str]
    label: ClassVar[str]  # what the score is, for axis labels

    def __init__(self, per_group: dict[str, dict[str, np.ndarray]], settings: dict):
        self.per_group = per_group
        self.settings = {k: settings[k] for k in ("neighbours", "components", "fit_items")}

    @classmethod
    def fit(cls, vectors: np.ndarray, groups, settings: dict, seed: int = 0) -> Density:
        """Fit per group on training `vectors` [shape=(n, d)] with their groups [shape=(n,)].

        `settings`: the scoring section (neighbours, components, fit_items)."""
        vectors = np.asarray(vectors, dtype=np.float64)
        groups = np.asarray(groups).astype(str)
        rng = np.random.default_rng(seed)
        return cls({group: cls.fit_group(vectors[groups == group], settings, rng, seed)
                    for group in map(str, sorted(set(groups)))}, settings)

    @classmethod
    def fit_group(cls, vectors: np.ndarray, settings: dict, rng: np.random.Generator, seed: int) -> dict:
        """The arrays of one group, fitted on its vectors [shape=(n, d)]."""
        raise NotImplementedError

    def score_group(self, group: str, vectors: np.ndarray) -> np.ndarray:
        """The score of each vector under one group's density. [shape=(n,)]"""
        raise NotImplementedError

    def score(self, vectors: np.ndarray, groups) -> np.ndarray:
        """The score of each vector under its group's density. [shape=(n,)] from [shape=(n, d)]"""
        vectors = np.asarray(vectors, dtype=np.float64)
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
        from sklearn.covariance import LedoitWolf

        estimate = LedoitWolf().fit(vectors)
        return {"mean": estimate.location_, "precision": estimate.precision_}

    def score_group(self, group, vectors):
        arrays = self.per_group[group]
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

    def score_group(self, group, vectors):
        if group not in self._searchers:
            from sklearn.neighbors import NearestNeighbors

            kept = self.per_group[group]["vectors"]
            self._searchers[group] = NearestNeighbors(n_neighbors=min(self.settings["neighbours"], len(kept))).fit(kept)
        distances, _ = self._searchers[group].kneighbors(vectors)
        return distances.mean(axis=1)


class Gmm(Density):
    kind, label = "gmm", "−log likelihood (GMM)"

    @classmethod
    def fit_group(cls, vectors, settings, rng, seed):
        from sklearn.mixture import GaussianMixture

        sample = _subset(vectors, settings["fit_items"], rng)
        mixture = GaussianMixture(min(settings["components"], len(sample)), covariance_type="diag",
                                  reg_covar=1e-4, random_state=seed).fit(sample)
        return {"weights": mixture.weights_, "means": mixture.means_, "variances": mixture.covariances_}

    def score_group(self, group, vectors):
        """Minus log p(x) under the diagonal Gaussian mixture given by weights, means, variances."""
        arrays = self.per_group[group]
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


def fit(kind: str, vectors: np.ndarray, groups, settings: dict, seed: int = 0) -> Density:
    """A `kind` back end fitted per group (see :meth:`Density.fit`)."""
    return backend(kind).fit(vectors, groups, settings, seed)


def _subset(vectors: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return vectors if len(vectors) <= limit else vectors[np.sort(rng.choice(len(vectors), limit, replace=False))]
