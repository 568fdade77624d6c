"""A solution's anomaly score: one contract, whatever its network does and whatever runs it.

A network is trained for one objective (helpers.detectors.objectives), which gives each item its own score
(``mse`` for a reconstruction, ``nll`` for a machine-ID classifier). ``scoring.backend`` chooses
the score: the objective's own, or a density back end (helpers.detectors.densities: ``mahalanobis``,
``knn``, ``gmm``) fitted per group on vectors the network gives for the training items:
``error`` vectors (prediction minus target, where the objective has them) or ``embedding``
vectors (the network's ``embed``). A clip's score is the mean of its items' scores, for every
back end.

Framework backends (helpers.detectors.torch_backend, helpers.detectors.keras_backend) provide ``predict(model,
batch)`` (the network's output) and ``embed(model, batch)``; everything here is NumPy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.detectors import densities, objectives
from helpers.errors import ConfigError
from helpers.detectors.inputs import Items

VECTORS = ("auto", "error", "embedding")


def backends() -> tuple[str, ...]:
    """Every name ``scoring.backend`` accepts: each objective's own score, then the density back ends."""
    return (*dict.fromkeys(o.own_score for o in objectives.OBJECTIVES.values() if o.own_score), *densities.BACKENDS)


def check(objective: objectives.Objective, backend: str, vectors: str, where: str) -> None:
    """ConfigError naming the setting when `backend` or `vectors` does not fit `objective`."""
    accepted = (*([objective.own_score] if objective.own_score else []), *densities.BACKENDS)
    if backend not in accepted:
        own = f"its own score is {objective.own_score!r}" if objective.own_score else "it has no score of its own"
        raise ConfigError(f"{where}: setting 'scoring.backend' must be one of {accepted} for training.objective "
                          f"{objective.name!r} ({own}), got {backend!r}")
    if vectors != "auto" and vectors not in objective.vectors:
        raise ConfigError(f"{where}: setting 'scoring.vectors' {vectors!r} does not fit training.objective "
                          f"{objective.name!r}; accepted here: 'auto', {', '.join(map(repr, objective.vectors))}")


def vector_kind(objective: objectives.Objective, vectors: str) -> str:
    """What a density back end is fitted on: 'error' or 'embedding' ('auto': the objective's first kind)."""
    return objective.vectors[0] if vectors == "auto" else vectors


def score_label(objective: objectives.Objective, backend: str) -> str:
    """What a score of `backend` is, for axis labels."""
    return densities.BACKENDS[backend].label if backend in densities.BACKENDS else objective.score_label


@dataclass
class ItemOutputs:
    """What a network gives for every item. [n = len(items)]

    scores: the objective's own score per item [shape=(n,)] (float64; NaN for an item of a
    clip whose class the network does not know, and for every item where no forward pass ran);
    vectors: error vectors or embeddings for a density back end [shape=(n, d)] or None;
    predictions: the network's outputs, kept when asked [shape=(n, *output shape)] or None.
    """

    scores: np.ndarray
    vectors: np.ndarray | None = None
    predictions: np.ndarray | None = None


def item_outputs(engine, model, items: Items, objective: objectives.Objective, batch_size: int,
                 vectors: str | None = None, keep_predictions: bool = False, own_scores: bool = True) -> ItemOutputs:
    """Run the network over `items` in batches across clips; own scores, and vectors if asked.

    `engine`: the framework backend module; `vectors`: None, 'error' or 'embedding'. With
    ``own_scores=False`` (a density back end scores the vectors) embeddings cost one pass
    through the network's ``embed`` alone and the scores stay NaN; error vectors and kept
    predictions still need the forward pass, which gives the own scores too.
    """
    n = len(items)
    scores = np.full(n, np.nan, dtype=np.float64)
    kept_vectors, kept_predictions = [], []
    forward = own_scores or keep_predictions or vectors == "error"
    for start in range(0, n, batch_size):
        index = np.arange(start, min(start + batch_size, n))
        batch = items.batch(index)
        if forward:
            output = engine.predict(model, batch)
            scores[index], errors = objective.item_scores(output, items, index, batch, errors=vectors == "error")
            if errors is not None:
                kept_vectors.append(errors)
            if keep_predictions:
                kept_predictions.append(output)
        if vectors == "embedding":
            kept_vectors.append(np.asarray(engine.embed(model, batch), dtype=np.float32))
    return ItemOutputs(scores,
                       np.concatenate(kept_vectors) if vectors and kept_vectors else None,
                       np.concatenate(kept_predictions) if keep_predictions and kept_predictions else None)


def clip_scores(item_scores: np.ndarray, clip_of: np.ndarray, n_clips: int) -> np.ndarray:
    """Mean item score per clip; NaN for a clip with no items (or an unknown class). [shape=(n_clips,)]"""
    counts = np.bincount(clip_of, minlength=n_clips)
    sums = np.bincount(clip_of, weights=item_scores, minlength=n_clips)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
