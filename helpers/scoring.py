"""A solution's anomaly score: one contract, whatever its network does and whatever runs it.

A solution trains its network for one objective (config.yaml's ``training.objective``):

- ``reconstruction``: the network predicts each item's target (the input itself for an
  autoencoder, the held-out middle frame for IDNN: helpers.inputs). Its own score, ``mse``, is
  the mean squared error of an item's prediction, the DCASE 2020 baseline's score.
- ``machine_id``: the network outputs logits over the machine IDs of its machine type (trained
  on the clips' IDs). Its own score, ``nll``, is the negative log-probability of the clip's own ID.

``scoring.backend`` chooses the score: the objective's own score, or a density back end
(``mahalanobis``, ``knn``, ``gmm``: helpers.densities) fitted per machine ID on vectors the
network exposes for the training items: ``error`` vectors (prediction minus target, for a
reconstruction objective) or ``embedding`` vectors (the network's ``embed``). A clip's score is
the mean of its items' scores, for every backend.

Framework backends (helpers.torch_backend, helpers.keras_backend) provide ``predict(model,
batch)`` (the network's output) and ``embed(model, batch)``; everything here is NumPy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.errors import ConfigError
from helpers.inputs import Items

OBJECTIVES = ("reconstruction", "machine_id")
OWN_SCORES = {"reconstruction": "mse", "machine_id": "nll"}
DENSITY_BACKENDS = ("mahalanobis", "knn", "gmm")
VECTORS = ("auto", "error", "embedding")
SCORE_LABELS = {"mse": "squared error [dB²]", "nll": "−log p(own ID)", "mahalanobis": "Mahalanobis distance",
                "knn": "mean distance to the nearest training vectors", "gmm": "−log likelihood (GMM)"}


def check(objective: str, backend: str, vectors: str, where: str) -> None:
    """ConfigError naming the setting when `backend` or `vectors` does not fit `objective`."""
    own = OWN_SCORES[objective]
    accepted = (own, *DENSITY_BACKENDS)
    if backend not in accepted:
        raise ConfigError(f"{where}: setting 'scoring.backend' must be one of {accepted} for training.objective "
                          f"{objective!r} (its own score is {own!r}), got {backend!r}")
    if vectors == "error" and objective != "reconstruction":
        raise ConfigError(f"{where}: setting 'scoring.vectors' 'error' needs training.objective 'reconstruction' "
                          f"(a prediction to subtract the target from); accepted here: 'auto', 'embedding'")


def vector_kind(objective: str, vectors: str) -> str:
    """What a density back end is fitted on: 'error' or 'embedding' ('auto': error vectors for a
    reconstruction objective, embeddings otherwise)."""
    if vectors != "auto":
        return vectors
    return "error" if objective == "reconstruction" else "embedding"


@dataclass
class ItemOutputs:
    """What a network gives for every item. [n = len(items)]

    scores: the objective's own score per item [shape=(n,)] (float64; NaN for an item of a
    clip whose ID the network does not know, and for every item where no forward pass ran);
    vectors: error vectors or embeddings for a density back end [shape=(n, d)] or None;
    predictions: the network's outputs, kept when asked [shape=(n, *output shape)] or None.
    """

    scores: np.ndarray
    vectors: np.ndarray | None = None
    predictions: np.ndarray | None = None


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p per class, row by row, computed stably. [shape=logits.shape]

    The normaliser is log1p of the other classes' terms beside the largest one (whose term is 1),
    so that a confident row keeps the tiny -log p of its top class (about the sum of the other
    terms) instead of rounding it to 0 once it falls below float64's resolution next to 1 (about
    1e-16): such values still rank clips.
    """
    logits = np.asarray(logits, dtype=np.float64)
    top = logits.argmax(axis=1)
    shifted = logits - logits[np.arange(len(logits)), top][:, None]
    terms = np.exp(shifted)
    terms[np.arange(len(logits)), top] = 0.0
    return shifted - np.log1p(terms.sum(axis=1, keepdims=True))


def item_outputs(engine, model, items: Items, objective: str, batch_size: int, vectors: str | None = None,
                 keep_predictions: bool = False, own_scores: bool = True) -> ItemOutputs:
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
            if objective == "reconstruction":
                target = batch if items.target_is_input else items.targets(index)
                difference = output.reshape(len(index), -1) - target.reshape(len(index), -1)
                scores[index] = np.square(difference).mean(axis=1, dtype=np.float64)
                if vectors == "error":
                    kept_vectors.append(difference.astype(np.float32))
            else:
                labels = items.labels_of(index)
                known = labels >= 0
                log_p = log_softmax(output)
                scores[index] = np.where(known, -log_p[np.arange(len(index)), np.maximum(labels, 0)], np.nan)
            if keep_predictions:
                kept_predictions.append(output)
        if vectors == "embedding":
            kept_vectors.append(np.asarray(engine.embed(model, batch), dtype=np.float32))
    return ItemOutputs(scores,
                       np.concatenate(kept_vectors) if vectors and kept_vectors else None,
                       np.concatenate(kept_predictions) if keep_predictions and kept_predictions else None)


def clip_scores(item_scores: np.ndarray, clip_of: np.ndarray, n_clips: int) -> np.ndarray:
    """Mean item score per clip; NaN for a clip with no items (or an unknown ID). [shape=(n_clips,)]"""
    counts = np.bincount(clip_of, minlength=n_clips)
    sums = np.bincount(clip_of, weights=item_scores, minlength=n_clips)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
