"""What a trained model does to one clip: its log-mel, the reconstruction, the error image and
the error over time, on the same items the clip's score is the mean of.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import featurecache, pipeline
from helpers.errors import ToolkitError
from helpers.solution import Solution


@dataclass
class ClipView:
    """One clip seen through a model.

    log_mel, reconstruction, error: [shape=(n_mels, frames)] (error = squared difference, dB²,
    averaged over the items covering each bin); item_times: the centre of each item in seconds
    [shape=(items,)]; item_errors: each item's mean squared error [shape=(items,)];
    score: the clip's anomaly score (mean of item_errors).
    """

    log_mel: np.ndarray
    reconstruction: np.ndarray
    error: np.ndarray
    item_times: np.ndarray
    item_errors: np.ndarray
    score: float


def _overlap_average(pieces: np.ndarray, starts: np.ndarray, n_frames: int) -> np.ndarray:
    """Average time-major pieces [shape=(items, span, n_mels)] placed at `starts` -> [shape=(n_mels, n_frames)]."""
    n_items, span, n_mels = pieces.shape
    total = np.zeros((n_frames, n_mels))
    counts = np.zeros((n_frames, 1))
    index = (starts[:, None] + np.arange(span)).ravel()
    np.add.at(total, index, pieces.reshape(-1, n_mels))
    np.add.at(counts, index, 1.0)
    with np.errstate(invalid="ignore"):
        return (total / counts).T


def view_clip(solution: Solution, model, path) -> ClipView | None:
    """The model's view of the clip at `path`; None if the clip is unreadable or too short for one
    network input (recorded as skipped, with the reason)."""
    log_mels = featurecache.log_mels([path], solution.features, progress=False)
    if str(path) not in log_mels or not pipeline.long_enough(solution, path, log_mels[str(path)]):
        return None
    logmel = np.asarray(log_mels[str(path)])
    items = pipeline.make_items(solution, [logmel], training=False)
    engine = pipeline.backend(solution)
    batch = items.batch(np.arange(len(items)))
    recon = engine.reconstruct(model, batch).reshape(batch.shape)
    n_mels = logmel.shape[0]
    if batch.ndim == 2:  # stacked vectors, frame-major
        as_time = lambda a: a.reshape(len(a), -1, n_mels)
    else:  # patches, mel by time
        as_time = lambda a: a.transpose(0, 2, 1)
    squared = (recon - batch).astype(np.float64) ** 2
    errors = squared.reshape(len(squared), -1).mean(axis=1)
    span = as_time(batch).shape[1]
    settings = solution.features
    return ClipView(
        log_mel=logmel,
        reconstruction=_overlap_average(as_time(recon), items.starts, logmel.shape[1]),
        error=_overlap_average(as_time(squared), items.starts, logmel.shape[1]),
        item_times=(items.starts + span / 2) * settings.hop_length / settings.sample_rate,
        item_errors=errors,
        score=float(errors.mean()),
    )



def choose_clips(scores: pd.DataFrame, clips=None, machine_types=None) -> pd.DataFrame:
    """The clips to inspect, with a column `why` saying why each was chosen.

    With `clips` (paths), those clips; otherwise per machine type the worst mistakes of the last
    test run (the highest-scored normal clip, the lowest-scored anomaly) and a typical clip of each
    label (the median score); unlabelled eval clips give their lowest, median and highest score.
    """
    if isinstance(machine_types, str):
        machine_types = [t.strip() for t in machine_types.split(",")]
    if machine_types:
        scores = scores[scores["machine_type"].isin(machine_types)]
    if clips:
        wanted = [str(Path(c).resolve()) for c in clips]
        found = scores[scores["path"].map(lambda p: str(Path(p).resolve())).isin(wanted)]
        missing = sorted(set(wanted) - set(found["path"].map(lambda p: str(Path(p).resolve()))))
        if missing:
            raise ToolkitError(f"clip(s) not among the last test run's scores: {missing}")
        return found.assign(why="chosen")
    picks = []
    for _, group in scores.groupby("machine_type", sort=False):
        normal = group[group["label"] == 0].sort_values("score")
        anomaly = group[group["label"] == 1].sort_values("score")
        unknown = group[group["label"].isna()].sort_values("score")
        for part, position, why in ((normal, len(normal) // 2, "typical normal"),
                                    (anomaly, len(anomaly) // 2, "typical anomaly"),
                                    (normal, len(normal) - 1, "highest-scored normal"),
                                    (anomaly, 0, "lowest-scored anomaly"),
                                    (unknown, 0, "lowest score, unlabelled"),
                                    (unknown, len(unknown) // 2, "median score, unlabelled"),
                                    (unknown, len(unknown) - 1, "highest score, unlabelled")):
            if len(part):
                picks.append(part.iloc[[position]].assign(why=why))
    chosen = pd.concat(picks, ignore_index=True) if picks else scores.head(0).assign(why="")
    return chosen.drop_duplicates("path", keep="first").reset_index(drop=True)
