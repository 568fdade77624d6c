"""Decision thresholds: from anomaly scores to "anomalous or not", as the DCASE 2021+ baselines decide.

A gamma distribution is fitted to the anomaly scores of one machine type's training clips per
section (2020: per machine ID) with scipy.stats.gamma.fit (shape, location and scale free, as
the baselines do); the threshold is its `quantile` (scoring.threshold_quantile, 0.9 by default)
point. A clip is decided anomalous (1) when its score exceeds the threshold of its section. When
the fit fails or gives no finite point (constant scores, too few clips) the empirical quantile
of the scores is the threshold instead. A section the training clips lack takes the threshold
fitted on all of the machine type's training scores (key ALL).
"""
from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from helpers.errors import ToolkitError
from helpers.fileio import atomic_write_text

ALL = "*"


@dataclass(frozen=True)
class Threshold:
    """One group's fitted threshold: the gamma parameters (nan when the empirical quantile was used)."""

    threshold: float
    shape: float
    loc: float
    scale: float
    clips: int


def fit(scores, quantile: float) -> Threshold:
    """The threshold of one group's training scores [shape=(clips,)] at `quantile` (0 < q < 1)."""
    import scipy.stats  # here, not at the top: a notebook that only reads thresholds does not import it

    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    if not len(scores):
        return Threshold(float("nan"), float("nan"), float("nan"), float("nan"), 0)
    if len(scores) >= 3 and np.ptp(scores) > 0:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                shape, loc, scale = scipy.stats.gamma.fit(scores)
                point = float(scipy.stats.gamma.ppf(quantile, shape, loc=loc, scale=scale))
            except (RuntimeError, ValueError, FloatingPointError):
                point = float("nan")
        if np.isfinite(point):
            return Threshold(point, float(shape), float(loc), float(scale), len(scores))
    return Threshold(float(np.quantile(scores, quantile)), float("nan"), float("nan"), float("nan"), len(scores))


def fit_groups(scores, groups, quantile: float) -> dict[str, Threshold]:
    """{group: threshold} for each distinct group of the training scores, plus ALL over all of them.

    scores, groups: per training clip [shape=(clips,)]."""
    scores, groups = np.asarray(scores, dtype=np.float64), np.asarray(groups)
    fitted = {str(g): fit(scores[groups == g], quantile) for g in sorted(set(groups.tolist()))}
    return {**fitted, ALL: fit(scores, quantile)}


def threshold_of(thresholds: dict[str, Threshold], group: str) -> float:
    """The threshold a clip of `group` is decided by (the ALL threshold for a group not fitted)."""
    return (thresholds.get(group) or thresholds[ALL]).threshold


def decide(scores, groups, thresholds: dict[str, Threshold]) -> np.ndarray:
    """1 where a clip's score exceeds its group's threshold, else 0 [shape=(clips,)] (a nan score: 0)."""
    limits = np.array([threshold_of(thresholds, str(g)) for g in groups], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (np.asarray(scores, dtype=np.float64) > limits).astype(np.int64)


def save(thresholds: dict[str, Threshold], path: str | Path, fingerprint: str, quantile: float) -> Path:
    """The thresholds as JSON ({fingerprint, quantile, groups: {group: Threshold fields}}), written atomically."""
    payload = {"fingerprint": fingerprint, "quantile": quantile,
               "groups": {g: asdict(t) for g, t in thresholds.items()}}
    return atomic_write_text(path, json.dumps(payload, indent=2, allow_nan=True))


def load(path: str | Path) -> tuple[dict[str, Threshold], str, float]:
    """(thresholds, fingerprint, quantile) from a file written by :func:`save`; ToolkitError naming it if unreadable."""
    try:
        payload = json.loads(Path(path).read_text())
        return ({g: Threshold(**t) for g, t in payload["groups"].items()}, payload["fingerprint"],
                float(payload["quantile"]))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ToolkitError(f"cannot read the decision thresholds {path}: {err}") from err
