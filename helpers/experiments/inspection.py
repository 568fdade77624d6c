"""What a trained model makes of one clip, on the same items and scores the test run used.

For every solution: the log-mel input, each item's score over time and the clip's score, and
what its objective shows of the network's outputs (helpers.detectors.objectives: a reconstruction's
prediction and squared error as images, a classifier's probability of each class over time). For a network that embeds its inputs (``embed``), a 2-D map per machine
type of where its training and test clips lie (:func:`embedding_maps`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.data import featurecache, layout
from helpers.detectors import scoring
from helpers.experiments import pipeline
from helpers.figures import plots
from helpers.detectors.detector import Detector
from helpers.errors import DataLayoutError, ToolkitError
from helpers.experiments.results import read_scores_table
from helpers.detectors.solution import Solution


@dataclass
class ClipView:
    """One clip seen through a model.

    log_mel: [shape=(n_mels, frames)]; item_times: the centre of each item in seconds
    [shape=(items,)]; item_scores: each item's score [shape=(items,)]; score: the clip's anomaly
    score (their mean); score_label: what the score is (for axis labels); section: the clip's
    own section (2020: machine ID); group_word: what a section is called in labels ("id" in 2020,
    "section" after, helpers.data.layout.group_word). What the objective fills (helpers.detectors.objectives): a
    reconstruction's reconstruction and error [shape=(n_mels, frames)] (the prediction and the
    squared difference in dB², averaged over the items covering each bin; NaN where no item
    predicts); a classifier's id_probabilities [shape=(classes, items)], classes (in the
    network's order; for a network of several types, the classes of the clip's own type, without
    the type) and own_class (the clip's own class among them; None where it has none); a frozen
    network's embeddings of the clip's blocks [shape=(dims, items)].
    """

    log_mel: np.ndarray
    item_times: np.ndarray
    item_scores: np.ndarray
    score: float
    score_label: str
    reconstruction: np.ndarray | None = None
    error: np.ndarray | None = None
    id_probabilities: np.ndarray | None = None
    classes: list[str] | None = None
    own_class: str | None = None
    embeddings: np.ndarray | None = None
    section: str | None = None
    machine_type: str | None = None
    group_word: str = "id"


def view_clip(solution: Solution, detector: Detector, path, section: str | None = None,
              machine_type: str | None = None) -> ClipView | None:
    """The detector's view of the clip at `path` (of `section` and `machine_type`, read from its name
    and its folder's parent when None; a classifier also reads the name's attributes); None if the
    clip is unreadable or too short for one network input (recorded as skipped, with the reason)."""
    log_mels = featurecache.log_mels([path], solution.features, progress=False)
    if str(path) not in log_mels or not pipeline.long_enough(solution, path, log_mels[str(path)]):
        return None
    try:
        named = layout.parse_clip(path, "", "test")
    except DataLayoutError:
        if section is None:
            raise
        named = None
    section = section or named.section
    machine_type = machine_type or Path(path).resolve().parent.parent.name
    logmel = np.asarray(log_mels[str(path)])
    clip = layout.Clip(machine_type, "test", section, 0, None, Path(path), attributes=named.attributes if named else "")
    items, outputs = detector.item_outputs([clip], [logmel], keep_predictions=True)
    settings = solution.features
    view = ClipView(
        log_mel=logmel,
        item_times=items.item_seconds(settings),
        item_scores=outputs.scores, score=float(np.mean(outputs.scores)), score_label=detector.score_label,
        section=section, machine_type=machine_type, group_word=layout.group_word(Path(path).name) if named else "id")
    solution.objective.describe(view, items, outputs.predictions, detector.classes)
    return view


def chosen_clip_figures(solution: Solution, chosen: pd.DataFrame, result_root=None) -> list:
    """Per machine type of `chosen` (from :func:`choose_clips`): a figure with one row of panels per
    clip (plots.clip_panels) and one of every clip's item scores over time. Clips that cannot be
    shown now (unreadable, too short) leave a blank row and are listed with the skipped files.
    Returns the pyplot figures (a notebook shows them with plt.show())."""
    figures = []
    for machine_type, group in chosen.groupby("machine_type", sort=False):
        detector = pipeline.load_detector(solution, machine_type, result_root)
        figure, axes = plt.subplots(len(group), 3, figsize=(15, 3 * len(group)), squeeze=False, layout="constrained")
        timeline_figure, timeline = plt.subplots(figsize=(10, 3), layout="constrained")
        for row, clip in zip(axes, group.itertuples()):
            view = view_clip(solution, detector, clip.path, clip.section, machine_type)
            if view is None:
                for ax in row:
                    ax.set_axis_off()
                continue
            label = {0: "normal", 1: "anomaly"}.get(clip.label, "unknown")
            plots.clip_panels(view, solution.features, row,
                              title=f"{machine_type} {layout.group_title(clip.file_name, clip.section, clip.domain)} · {label} ({clip.why})\n{clip.file_name}")
            plots.item_scores_over_time(view.item_times, view.item_scores, ax=timeline,
                                        label=f"{label}: {clip.file_name}", ylabel=view.score_label,
                                        colour=plots.LABEL_COLOURS[label] if clip.why.startswith("typical") else None,
                                        title=f"{solution.run_name} · {machine_type}: score over time")
        figures += [figure, timeline_figure]
    return figures


TEST_GROUPS = {0: "normal test", 1: "anomalous test"}  # by label; an unlabelled clip is "unlabelled test"


def clip_embeddings(detector: Detector, clips: list[layout.Clip]) -> tuple[list[layout.Clip], np.ndarray]:
    """(the usable clips, the mean embedding of each one's items [shape=(usable clips, d)]).

    The items are the network inputs the test run builds; unreadable clips, and clips too short
    for one network input, are left out and recorded as skipped.
    """
    solution = detector.solution
    kept, log_mels = pipeline.load_clip_features(solution, clips, False, "embeddings")
    if not kept:
        return kept, np.empty((0, 0))
    items = detector.items(kept, log_mels)
    vectors = scoring.item_outputs(detector.engine, detector.net, items, solution.objective,
                                   solution.config["scoring"]["batch_size"], vectors="embedding",
                                   own_scores=False).vectors
    return kept, np.column_stack([scoring.clip_scores(column, items.clip_of, len(kept)) for column in vectors.T])


def _colour_keys(clips: list[layout.Clip], word: str) -> tuple[list[str], str]:
    """(each clip's colour key, what the keys are called): its section, or its attributes where the
    clips have one section and attributes; with " · target" added for target-domain clips where
    there are any."""
    by_attributes = len({c.section for c in clips}) == 1 and any(c.attributes for c in clips)
    keys = [c.attributes or "none" if by_attributes else c.section for c in clips]
    name = "attributes" if by_attributes else word
    if any(c.domain == "target" for c in clips):
        return [f"{k} · {c.domain}" for k, c in zip(keys, clips)], f"{name} · domain"
    return keys, name


def embedding_maps(solution: Solution, result_root=None, machine_types=None) -> list:
    """Per machine type, a map of its clips' mean embeddings (plots.embedding_map); [] for a network
    without ``embed`` (an autoencoder's). Clips are coloured by what a classifier tells apart and
    by domain: their section, or with one section their attributes, and "target" where the data
    have target-domain clips.

    Clips: the training clips its detector lists, and the test clips of the last test run
    (scores.csv) grouped by label (normal, anomalous, unlabelled eval clips). Each clip is the mean
    embedding of its items, projected on the first two principal components of the training
    clips. Machine types: those of the last test run (only `machine_types`, a list or
    comma-separated text, when given), as choose_clips takes them.
    Returns the pyplot figures (a notebook shows them with plt.show()).
    """
    result_dir = solution.result_dir(result_root)
    scores = read_scores_table(result_dir)
    wanted = layout.type_list(machine_types)
    tested = list(dict.fromkeys(scores["machine_type"]))
    figures = []
    for machine_type in [t for t in tested if not wanted or t in wanted]:
        detector = pipeline.load_detector(solution, machine_type, result_root)
        if not hasattr(detector.net, "embed"):
            return []
        train, train_vectors = clip_embeddings(detector, pipeline.train_clips(solution, machine_type, result_root))
        if len(train) < 2 or train_vectors.shape[1] < 2:
            raise ToolkitError(f"{machine_type} in {result_dir}: a 2-D map needs at least 2 "
                               f"usable training clips and embeddings of at least 2 dimensions; there are "
                               f"{len(train)} clip(s) of {train_vectors.shape[1]} dimension(s)")
        test, test_vectors = clip_embeddings(detector, [
            layout.Clip(machine_type, "test", row.section, 0, None if pd.isna(row.label) else int(row.label),
                        Path(row.path), domain=row.domain if isinstance(row.domain, str) else "source",
                        attributes=row.attributes if isinstance(row.attributes, str) else "")
            for row in scores[scores["machine_type"] == machine_type].itertuples()])
        from sklearn.decomposition import PCA  # only for a network with embeddings: not with the module

        projection = PCA(2).fit(train_vectors)
        vectors = np.concatenate([train_vectors, test_vectors]) if test else train_vectors
        groups = ["train"] * len(train) + [TEST_GROUPS.get(c.label, "unlabelled test") for c in test]
        colours, word = _colour_keys(train + test, layout.group_word(train[0].path.name))
        figure, ax = plt.subplots(figsize=(8, 5.2), layout="constrained")
        plots.embedding_map(projection.transform(vectors), groups, colours, projection.explained_variance_ratio_,
                            ax=ax, word=word, title=f"{solution.run_name} · {machine_type}: mean embedding per clip, "
                                                    f"on the training clips' principal components")
        figures.append(figure)
    return figures


def choose_clips(scores: pd.DataFrame, clips=None, machine_types=None) -> pd.DataFrame:
    """The clips to inspect, with a column `why` saying why each was chosen.

    With `clips` (paths), those clips; otherwise per machine type the worst mistakes of the last
    test run (the highest-scored normal clip, the lowest-scored anomaly) and a typical clip of each
    label (the median score); unlabelled eval clips give their lowest, median and highest score.
    """
    wanted = layout.type_list(machine_types)
    if wanted:
        scores = scores[scores["machine_type"].isin(wanted)]
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

