"""Density back ends: anomaly scores from how far an item's vector lies from the training vectors.

Fitted per machine ID on the vectors a network gives for the training items (error vectors or
embeddings: helpers.scoring), as the DCASE 2023 baseline fits its Mahalanobis back end per
section. An item of an ID seen in training is scored by that ID's density; an item of an ID
that was not (an eval ID trained without its additional data) by the nearest of them (the
lowest score), with a warning.

- ``mahalanobis``: the Mahalanobis distance to the ID's mean under its covariance, estimated with
  Ledoit-Wolf shrinkage (stable with fewer vectors than dimensions).
- ``knn``: the mean Euclidean distance to the ``neighbours`` nearest training vectors.
- ``gmm``: the negative log-likelihood under a Gaussian mixture of ``components`` diagonal
  Gaussians.

knn and gmm keep or fit on at most ``fit_items`` training vectors per ID (a seeded random subset).
A fitted back end is saved as plain arrays in an ``.npz`` file with the fingerprint of the model
and settings it was fitted for (no pickled objects: loading runs no code). scikit-learn is imported
when a back end is fitted or a knn one scores, not with this module.
"""
from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.errors import ConfigError, ToolkitError
from helpers.fileio import atomic_path

log = logging.getLogger("helpers")
KINDS = ("mahalanobis", "knn", "gmm")


@dataclass
class Density:
    """One fitted back end: `kind` and, per machine ID, its arrays ({id: {name: array}})."""

    kind: str
    per_id: dict[str, dict[str, np.ndarray]]
    neighbours: int = 5
    _fitted: dict = field(default_factory=dict, repr=False)

    def score(self, vectors: np.ndarray, sections: np.ndarray) -> np.ndarray:
        """The score of each vector under its machine ID's density. [shape=(n,)] from [shape=(n, d)]"""
        vectors = np.asarray(vectors, dtype=np.float64)
        sections = np.asarray(sections).astype(str)
        scores = np.full(len(vectors), np.nan)
        unknown = sorted(map(str, set(sections) - set(self.per_id)))  # plain str: np.str_ reads badly in the log
        if unknown:
            log.warning("density back end: machine ID(s) %s were not in its training data; their items are scored "
                        "by the nearest known ID among %s", unknown, sorted(self.per_id))
            nearest = np.min([self._score(i, vectors[np.isin(sections, unknown)]) for i in self.per_id], axis=0)
            scores[np.isin(sections, unknown)] = nearest
        for section in set(sections) & set(self.per_id):
            chosen = sections == section
            scores[chosen] = self._score(section, vectors[chosen])
        return scores

    def _score(self, section: str, vectors: np.ndarray) -> np.ndarray:
        arrays = self.per_id[section]
        if self.kind == "mahalanobis":
            centred = vectors - arrays["mean"]
            return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", centred, arrays["precision"], centred), 0.0))
        if self.kind == "knn":
            if section not in self._fitted:
                from sklearn.neighbors import NearestNeighbors

                self._fitted[section] = NearestNeighbors(n_neighbors=min(self.neighbours, len(arrays["vectors"])))
                self._fitted[section].fit(arrays["vectors"])
            distances, _ = self._fitted[section].kneighbors(vectors)
            return distances.mean(axis=1)
        return -_gmm_log_likelihood(arrays, vectors)


def _gmm_log_likelihood(arrays: dict[str, np.ndarray], vectors: np.ndarray) -> np.ndarray:
    """log p(x) under a diagonal Gaussian mixture given by weights, means, variances. [shape=(n,)]"""
    weights, means, variances = arrays["weights"], arrays["means"], arrays["variances"]
    log_det = np.log(variances).sum(axis=1)  # [components]
    squared = ((vectors[:, None, :] - means[None]) ** 2 / variances[None]).sum(axis=2)  # [n, components]
    per_component = np.log(weights)[None] - 0.5 * (squared + log_det[None] + means.shape[1] * np.log(2 * np.pi))
    top = per_component.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(per_component - top).sum(axis=1, keepdims=True)))[:, 0]


def _subset(vectors: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return vectors if len(vectors) <= limit else vectors[np.sort(rng.choice(len(vectors), limit, replace=False))]


def fit(kind: str, vectors: np.ndarray, sections: np.ndarray, settings: dict, seed: int = 0) -> Density:
    """Fit a `kind` back end per machine ID on training `vectors` [shape=(n, d)] with their IDs [shape=(n,)].

    `settings`: the scoring section (neighbours, components, fit_items).
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown density back end {kind!r}; accepted: {', '.join(KINDS)}")
    from sklearn.covariance import LedoitWolf
    from sklearn.mixture import GaussianMixture

    vectors = np.asarray(vectors, dtype=np.float64)
    sections = np.asarray(sections).astype(str)
    rng = np.random.default_rng(seed)
    per_id = {}
    for section in map(str, sorted(set(sections))):
        own = vectors[sections == section]
        if kind == "mahalanobis":
            estimate = LedoitWolf().fit(own)
            per_id[section] = {"mean": estimate.location_, "precision": estimate.precision_}
        elif kind == "knn":
            per_id[section] = {"vectors": _subset(own, settings["fit_items"], rng)}
        else:
            sample = _subset(own, settings["fit_items"], rng)
            mixture = GaussianMixture(min(settings["components"], len(sample)), covariance_type="diag",
                                      reg_covar=1e-4, random_state=seed).fit(sample)
            per_id[section] = {"weights": mixture.weights_, "means": mixture.means_,
                                  "variances": mixture.covariances_}
    return Density(kind, per_id, settings["neighbours"])


def save(density: Density, path: str | Path, fingerprint: str) -> None:
    """Write the fitted back end to an .npz file, whole or not at all."""
    arrays = {"kind": np.array(density.kind), "fingerprint": np.array(fingerprint),
              "neighbours": np.array(density.neighbours), "ids": np.array(sorted(density.per_id))}
    for position, section in enumerate(sorted(density.per_id)):
        arrays.update({f"{position}.{name}": value for name, value in density.per_id[section].items()})
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


def load(path: str | Path) -> tuple[Density, str]:
    """(the back end saved at `path`, the fingerprint it was fitted for); ToolkitError naming a damaged file."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            ids = [str(i) for i in saved["ids"]]
            per_id = {section: {key.split(".", 1)[1]: saved[key] for key in saved.files
                                   if key.startswith(f"{position}.")} for position, section in enumerate(ids)}
            return Density(str(saved["kind"]), per_id, int(saved["neighbours"])), str(saved["fingerprint"])
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:  # cut short, empty, damaged
        raise ToolkitError(f"the density back end {path} cannot be read ({err}); delete it to fit it anew") from err
