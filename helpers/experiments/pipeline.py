"""Training and testing a solution on a data folder: detectors trained, then every test clip scored.

train_all and test_all are what the notebooks call. A solution trains one detector
(helpers.detectors.detector) per machine type, or one on every machine type of the folder
(``training.scope: all_types``); a detector's network, scorer and decision thresholds are fitted
together at training time, on the training clips in memory. Eval mode is the same two calls:
train_all with ``additional_data`` (the additional training data's root, e.g. eval_data/) trains
on the development and the additional training clips together; test_all on the eval root scores
its unlabelled test clips and, given the ground-truth list, computes AUC/pAUC for them too.
Every file they write goes to the run's result folder (result/<run_name>/), per detector scope
(a machine type, or ``all_types``):
    detector_<scope>.npz (the network, its scorer and thresholds: helpers.detectors.detector),
    history_<scope>.csv, loss_<scope>.png, train_summary.csv, scores.csv, the edition's
    anomaly_score_<...>.csv and decision_result_<...>.csv per group (helpers.experiments.results),
    result.csv, metrics.json
and, while a torch network trains, checkpoints/<scope>.ckpt: the training state after the last
finished epoch, from which an interrupted training resumes; removed once the detector is saved.

The data folder's edition (helpers.data.layout: 2020 to 2026) is detected, or named by `year`; it
says where the clips are, how results are grouped and which figures and files the test writes.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import threading
import time
from concurrent import futures
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import paths, skiplog, threads
from helpers.data import featurecache, groundtruth, layout, noisy
from helpers.experiments import results
from helpers.detectors import objectives
from helpers.detectors.detector import Detector, detector_path, scope_name, scopes, trainer
from helpers.errors import ConfigError, DataLayoutError
from helpers.fileio import atomic_write_text, writable_folder
from helpers.detectors.inputs import Items
from helpers.figures.liveplot import LossDisplay
from helpers.detectors.solution import Solution

def checkpoint_path(solution: Solution, result_dir: Path, scope: str) -> Path | None:
    """Where the training of one detector keeps its state between epochs; None if its engine does not resume."""
    suffix = getattr(trainer(solution), "CHECKPOINT_SUFFIX", None)
    return result_dir / "checkpoints" / f"{scope}{suffix}" if suffix else None


def remove_checkpoint(checkpoint: Path | None) -> None:
    """Delete a training checkpoint, and its folder once empty; nothing if there is none."""
    if checkpoint is None:
        return
    checkpoint.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # the folder still holds another checkpoint, or is gone already
        checkpoint.parent.rmdir()


def resolve_types(data_dir: Path, machine_types, ed: layout.Edition) -> list[str]:
    """The machine types to run: all in the data folder, or the requested ones (checked)."""
    available = layout.machine_types(data_dir, ed)
    wanted = layout.type_list(machine_types)
    if wanted is None:
        return available
    missing = [t for t in wanted if t not in available]
    if missing:
        raise ConfigError(f"machine type(s) {missing} not in {data_dir}; available: {available}")
    return wanted


def long_enough(solution: Solution, path, log_mel: np.ndarray) -> bool:
    """Whether a clip's log-mel [shape=(n_mels, frames)] holds one network input; if not, it is skipped and recorded."""
    frames, needed = log_mel.shape[1], solution.min_frames()
    if frames < needed:
        skiplog.skip(path, f"too short: {frames} log-mel frame(s), one network input needs {needed}")
    return frames >= needed


def load_clip_features(solution: Solution, clips: list[layout.Clip], progress: bool, desc: str):
    """(usable clips, their log-mels), in clip order.

    Unreadable clips, and clips too short for one network input, are skipped and recorded.
    """
    mels = featurecache.log_mels([c.path for c in clips], solution.features, progress=progress, desc=desc)
    kept = [c for c in clips if str(c.path) in mels and long_enough(solution, c.path, mels[str(c.path)])]
    return kept, [mels[str(c.path)] for c in kept]


def _folders(*roots: Path | None, machine_types: list[str], split: str) -> str:
    return " and ".join(str(Path(root) / t / split) for root in roots if root is not None for t in machine_types)


def make_items(solution: Solution, log_mels: list[np.ndarray], training: bool, labels=None, clips=None) -> Items:
    """The network inputs of these clips, of the solution's input kind (random crops when training
    for kinds that draw them); `labels`: each clip's class index for an objective that learns classes;
    `clips`: the clips themselves, for a kind that reads more of them than their log-mels."""
    return solution.input_kind.build(log_mels, solution.config["inputs"], solution.features, training,
                                     solution.config["training"]["seed"], labels, clips)


def split_validation(log_mels: list[np.ndarray], fraction: float, groups=None) -> tuple[list[int], list[int]]:
    """(training, validation) positions: the last `fraction` of the clips held out, as Keras'
    validation_split holds out the last items; with `groups` (e.g. classes), the last
    `fraction` of each group's clips, and at least one of each group of two or more when
    `fraction` > 0, so that every such group is in both parts."""
    least = 1 if groups is not None and fraction > 0 else 0
    groups = np.zeros(len(log_mels), np.int64) if groups is None else np.asarray(groups)
    train, held = [], []
    for group in dict.fromkeys(groups.tolist()):
        members = np.flatnonzero(groups == group).tolist()
        count = max(int(round(len(members) * fraction)), least) if len(members) > 1 else 0
        train += members[:len(members) - count]
        held += members[len(members) - count:]
    return sorted(train), sorted(held)


def list_training_clips(solution: Solution, roots: list[Path], machine_types: list[str],
                        ed: layout.Edition) -> list[layout.Clip]:
    """The training clips of these machine types: each root's <type>/train clips; with
    training.supplemental_machine, also the clean machine clips of its <type>/supplemental/; with
    training.noise_copies, that many noisy copies of each (helpers.data.noisy), mixed with the noise
    clips there. Where something was added, each type's clips are in clip order, a copy beside its clip."""
    training = solution.config["training"]
    listed = []
    for machine_type in machine_types:
        clips = [clip for root in roots for clip in layout.list_clips(root, machine_type, "train", ed)]
        extra = []
        if training["supplemental_machine"]:
            extra += _supplemental(roots, machine_type, "machine", "no clean machine clips added")
        if training["noise_copies"]:
            noise = _supplemental(roots, machine_type, "noise", "no noisy copies made")
            extra += noisy.copies(clips + extra, noise, training["noise_copies"], tuple(training["noise_snr_db"]),
                                  training["seed"])
        listed += sorted(clips + extra, key=layout.clip_order) if extra else clips
    return listed


def _supplemental(roots: list[Path], machine_type: str, kind: str, otherwise: str) -> list[layout.Clip]:
    """The supplemental clips of one kind under every root; where there are none, a notice ending in `otherwise`."""
    found = [clip for root in roots for clip in layout.supplemental_clips(root, machine_type, kind)]
    if not found:
        folders = " or ".join(str(Path(root) / machine_type / layout.SUPPLEMENTAL) for root in roots)
        skiplog.notice(f"{machine_type}: no supplemental {kind} clip in {folders}: {otherwise}")
    return found


def training_fingerprint(solution: Solution, clips: list[layout.Clip]) -> str:
    """The settings fingerprint extended by the training clips' paths: other settings or other
    training data (another data folder, additional training data) train a new network."""
    listed = "\n".join(sorted(str(Path(c.path).resolve()) for c in clips))
    return hashlib.sha1(f"{solution.fingerprint()}+{listed}".encode()).hexdigest()[:12]


def _validation_groups(clips: list[layout.Clip], labels: np.ndarray | None):
    """What the validation clips are held out per: the classes, else the machine types of a network
    of several types, else nothing (the last clips, as Keras holds them out)."""
    if labels is not None:
        return labels
    types = [c.machine_type for c in clips]
    return np.unique(types, return_inverse=True)[1] if len(set(types)) > 1 else None


def train_detector(solution: Solution, data_dir: Path, machine_types: list[str], result_dir: Path,
                   retrain: bool = False, live: bool = True, progress: bool = True,
                   additional_data: Path | None = None, ed: layout.Edition | None = None,
                   display=None, stop: threading.Event | None = None) -> dict:
    """Train (or reuse) the detector of these machine types, fit its scorer and thresholds, save it;
    returns its summary row.

    With `additional_data`, its <machine_type>/train clips join the training set. A torch
    training resumes from its checkpoint after the last finished epoch if one with the same
    fingerprint is there (see torch_training.train); `retrain` deletes it and starts over. An
    objective that learns classes learns those of the training clips (helpers.detectors.objectives) and
    holds out the validation clips per class. A detector already trained with the same settings
    and training clips is reused; its scorer and thresholds are fitted anew if the scoring settings
    changed. `ed`: the data's edition (default: detected). `display`: what the loss curves are
    drawn on (default: a new LossDisplay); `stop`: an event that ends a torch training after its
    current batch (trainings side by side).
    """
    scope = scope_name(solution, machine_types)
    target, history_path = detector_path(result_dir, scope), result_dir / f"history_{scope}.csv"
    checkpoint = checkpoint_path(solution, result_dir, scope)
    listed = list_training_clips(solution, [r for r in (data_dir, additional_data) if r is not None], machine_types, ed)
    clips, log_mels = load_clip_features(solution, listed, progress, f"{scope} train features")
    where = _folders(data_dir, additional_data, machine_types=machine_types, split="train")
    if not clips:
        raise DataLayoutError(f"no usable training clip in {where}: {len(listed)} well-named clip(s), every one "
                              f"skipped (see the skipped files); a detector needs at least one readable normal clip")
    fingerprint = training_fingerprint(solution, clips)
    training = solution.config["training"]
    try:
        classes, labels = solution.objective.fit_classes(clips, log_mels, len(machine_types) > 1,
                                                         training["pseudo_classes"], training["seed"])
    except DataLayoutError as err:
        raise DataLayoutError(f"{where}: {err}") from None
    started = time.perf_counter()
    if retrain:
        remove_checkpoint(checkpoint)
    elif target.is_file() and history_path.is_file():
        saved = Detector.load(solution, target)
        if saved.fingerprint == fingerprint:
            remove_checkpoint(checkpoint)  # left behind if a run stopped between saving the detector and removing it
            if not saved.current():
                saved.fit_scoring(clips, log_mels)
                saved.save(target)
            items = len(make_items(solution, log_mels, True, clips=clips))
            return _summary_row(scope, clips, items, pd.read_csv(history_path), None, True)
        print(f"{target.name}: settings or training data changed since it was trained; training again")
    if solution.objective.trains:
        net, history, items = _train_network(solution, clips, log_mels, classes, labels, result_dir, scope,
                                             live, display, checkpoint, fingerprint, stop)
    else:  # a frozen network: nothing to train, its scorer is fitted on what it gives
        net, history = solution.build_model(None).eval(), pd.DataFrame({"epoch": [0], "loss": [np.nan]})
        items = len(make_items(solution, log_mels, True, labels, clips))
    seconds = time.perf_counter() - started
    trained = Detector.trained(solution, net, clips, fingerprint, classes)
    trained.fit_scoring(clips, log_mels)
    trained.save(target)
    atomic_write_text(history_path, history.to_csv(index=False))
    remove_checkpoint(checkpoint)
    return _summary_row(scope, clips, items, history, seconds, False)


def _train_network(solution: Solution, clips, log_mels, classes, labels, result_dir: Path, scope: str, live: bool,
                   display, checkpoint: Path | None, fingerprint: str, stop):
    """(the network trained on `clips`, its loss history, the items it was trained and validated on):
    the validation clips held out per class, the loss curves drawn on `display` (or a new one)
    and saved as loss_<scope>.png."""
    train, held = split_validation(log_mels, solution.config["training"]["validation_split"],
                                   _validation_groups(clips, labels))
    train_items = make_items(solution, [log_mels[i] for i in train], True, _subset(labels, train),
                             [clips[i] for i in train])
    val_items = make_items(solution, [log_mels[i] for i in held], True, _subset(labels, held),
                           [clips[i] for i in held]) if held else None
    display = LossDisplay(loss_title(solution, scope), live=live) if display is None else display
    resumable = {"checkpoint": checkpoint, "fingerprint": fingerprint} if checkpoint else {}
    stoppable = {"stop": stop} if stop is not None else {}
    net, history = trainer(solution).train(solution, train_items, val_items, result_dir / "logs", scope, display,
                                           classes=len(classes) if classes else None, **resumable, **stoppable)
    items = len(train_items) + (len(val_items) if val_items is not None else 0)
    del train_items, val_items  # their frames are a copy of every log-mel: freed before the scorer builds its own
    gc.collect()  # the trainer's callbacks held them, in reference cycles
    display.update(history)
    display.close(result_dir / f"loss_{scope}.png")
    return net, history, items


def _subset(labels: np.ndarray | None, positions: list[int]) -> np.ndarray | None:
    return None if labels is None else labels[positions]


SUMMARY_COLUMNS = ["machine_type", "clips", "items", "epochs", "loss", "val_loss", "train_seconds", "reused",
                   "side_by_side"]


def _summary_row(scope: str, clips, items: int, history, seconds, reused) -> dict:
    last = history.iloc[-1]
    return {"machine_type": scope, "clips": len(clips), "items": items, "epochs": int(last["epoch"]),
            "loss": float(last["loss"]), "val_loss": float(last.get("val_loss", np.nan)),
            "train_seconds": seconds, "reused": reused}


def train_all(solution: Solution, data_dir=None, result_root=None, machine_types=None,
              retrain: bool = False, live: bool = True, progress: bool = True,
              additional_data=None, year=None) -> pd.DataFrame:
    """Train the solution's detectors (one per machine type, or one on all of them: training.scope);
    writes train_summary.csv (one row per detector, its machine_type column naming its scope) and
    returns it as a table [columns=SUMMARY_COLUMNS, and not_trained when a detector was left out].

    A detector whose data cannot make one (no usable training clip, one class for a classifier) is
    left out with a notice naming why (its not_trained column), and the others train.

    A torch solution trains its detectors side by side, in threads of this process, as far as
    its engine allows (torch_training.trainings_at_once: one per core, on one CPU device, for
    networks whose training step draws no process-wide randomness); the summary's side_by_side
    column says how many trained at once with each.

    `additional_data`: a data root whose <machine_type>/train clips are added to each type's
    training set (eval mode: the additional training data); None for DATA_DIR's clips only.
    `year`: the data's DCASE edition (helpers.data.editions.YEARS); None: detected from the folder.
    """
    data_dir = Path(data_dir or paths.DEV_DATA)
    ed = layout.resolve(data_dir, year)
    additional_data = Path(additional_data) if additional_data else None
    result_dir = writable_folder(solution.result_dir(result_root), "result folder")


    def train_one(types: list[str], display=None, stop: threading.Event | None = None) -> dict:
        try:
            return train_detector(solution, data_dir, types, result_dir, retrain, live, progress,
                                  additional_data, ed, display, stop)
        except DataLayoutError as err:  # its data cannot make a detector: the other types go on
            skiplog.notice(f"{scope_name(solution, types)}: not trained: {err}")
            return {"machine_type": scope_name(solution, types), "not_trained": str(err)}

    units = scopes(solution, resolve_types(data_dir, machine_types, ed))
    at_once = trainer(solution).trainings_at_once(solution, len(units)) if solution.objective.trains else 1
    rows = []
    for start in range(0, len(units), at_once):
        wave = units[start:start + at_once]
        trained = _side_by_side(solution, wave, train_one, live) if len(wave) > 1 else [train_one(wave[0])]
        rows += [{**row, "side_by_side": len(wave)} for row in trained]
    left_out = any("not_trained" in row for row in rows)
    summary = pd.DataFrame(rows).reindex(columns=[*SUMMARY_COLUMNS, *(["not_trained"] if left_out else [])])
    atomic_write_text(result_dir / "train_summary.csv", summary.to_csv(index=False))
    return summary


def not_trained(solution: Solution, result_root=None) -> dict[str, str]:
    """{scope: why} of the detectors the last training left out because their data could not make one
    (train_summary.csv's not_trained column); {} before a training."""
    path = solution.result_dir(result_root) / "train_summary.csv"
    if not path.is_file():
        return {}
    summary = pd.read_csv(path, dtype={"machine_type": str})
    if "not_trained" not in summary:
        return {}
    left = summary[summary["not_trained"].notna()]
    return dict(zip(left["machine_type"], left["not_trained"]))


class _Relay:
    """What a training in a worker thread draws on in place of its LossDisplay: it keeps the latest
    history and the closing, and :meth:`draw`, called by the thread that started the trainings,
    shows them on a real LossDisplay (matplotlib and the notebook's display belong to one thread)."""

    def __init__(self, title: str, live: bool):
        self.title, self.live = title, live
        self.history = self.drawn = self.display = None
        self.closing: tuple[Path | None] | None = None
        self.done = False  # closed: later calls of draw open no figure

    def update(self, history: pd.DataFrame) -> None:
        self.history = history

    def close(self, path: Path | None = None) -> None:
        self.closing = (path,)

    def draw(self) -> None:
        """Show what the training sent since the last call, and close its figure once the training has."""
        if self.done:
            return
        history = self.history
        if history is not None and self.display is None:
            self.display = LossDisplay(self.title, live=self.live)
        if history is not None and history is not self.drawn:
            self.display.update(history)
            self.drawn = history
        if self.closing is not None:
            if self.display is not None:
                self.display.close(*self.closing)
            self.display, self.done = None, True


def _side_by_side(solution: Solution, units: list[list[str]], train_one, live: bool) -> list[dict]:
    """The summary rows of these detectors (each a list of machine types), trained at once, one thread each, sharing the cores
    (helpers.threads.side_by_side); their loss figures are drawn here. A failure or an interrupt
    stops the others after their current batch; then the first error (or the interrupt) is raised.
    """
    relays = [_Relay(loss_title(solution, scope_name(solution, types)), live) for types in units]
    stop, first = threading.Event(), None
    with threads.side_by_side(len(units)), futures.ThreadPoolExecutor(len(units), "train") as pool:
        running = [pool.submit(train_one, types, relay, stop) for types, relay in zip(units, relays)]
        try:
            while True:
                finished = futures.wait(running, timeout=0.5).done
                failed = [f.exception() for f in running if f in finished and f.exception() is not None]
                if failed and first is None:
                    first = failed[0]
                    stop.set()
                for relay in relays:
                    relay.draw()
                if len(finished) == len(running):
                    break
        except KeyboardInterrupt:
            stop.set()
            futures.wait(running)
            raise
    if first is not None:
        raise first
    return [f.result() for f in running]


def loss_title(solution: Solution, scope: str) -> str:
    return f"{solution.run_name} · {scope}"


def load_detector(solution: Solution, machine_type: str, result_root=None, progress: bool = False) -> Detector:
    """The trained detector of one machine type, its scorer and thresholds fitted under the solution's
    scoring settings (fitted anew, with a warning, on its training clips when they were fitted under
    others, e.g. another SCORING_BACKEND, and saved).

    ConfigError if it has not been trained yet.
    """
    result_dir = solution.result_dir(result_root)
    target = detector_path(result_dir, scope_name(solution, [machine_type]))
    if not target.is_file():
        raise ConfigError(f"no trained detector at {target}; run 00-train-with-visual first")
    detector = Detector.load(solution, target)
    if not detector.current():
        skiplog.notice(f"{target}: its scorer and thresholds were fitted under other scoring settings; fitting them "
                       f"anew on its training clips (scoring.backend {solution.config['scoring']['backend']!r})")
        listed = [clip for t in detector.machine_types for clip in detector.training_clips(t)]
        clips, log_mels = load_clip_features(solution, listed, progress, f"{target.stem} scoring fit")
        detector.fit_scoring(clips, log_mels)
        detector.save(target)
    return detector


def train_clips(solution: Solution, machine_type: str, result_root=None) -> list[layout.Clip]:
    """The usable training clips of one machine type, as its detector's training listed them."""
    return load_detector(solution, machine_type, result_root).training_clips(machine_type)


def section_thresholds(solution: Solution, machine_type: str, result_root=None) -> dict[str, float]:
    """{section: threshold} the clips of one machine type are decided by ({} before its detector is trained)."""
    target = detector_path(solution.result_dir(result_root), scope_name(solution, [machine_type]))
    return Detector.load(solution, target).section_thresholds(machine_type) if target.is_file() else {}


SCORE_COLUMNS = ["machine_type", "section", "domain", "attributes", "file_name", "label", "score", "decision", "path"]


def score_machine_type(solution: Solution, data_dir: Path, machine_type: str, result_root=None,
                       progress: bool = True, ed: layout.Edition | None = None) -> pd.DataFrame:
    """Anomaly score and decision (1 anomalous, 0 normal; helpers.detectors.decisions) of every usable test
    clip. [columns=SCORE_COLUMNS]"""
    listed = layout.list_clips(data_dir, machine_type, "test", ed)
    detector = load_detector(solution, machine_type, result_root, progress)
    clips, log_mels = load_clip_features(solution, listed, progress, f"{machine_type} test features")
    if not clips:
        skiplog.notice(f"{machine_type}: no usable test clip in "
                       f"{_folders(data_dir, machine_types=[machine_type], split='test')} ({len(listed)} well-named "
                       f"clip(s), every one skipped); no scores for {machine_type}")
        return pd.DataFrame(columns=SCORE_COLUMNS)
    labels = solution.objective.labels(clips, detector.classes)
    if labels is not None and (labels == objectives.UNKNOWN).any() and not detector.density_kind:
        unknown = sorted({c.section for c, i in zip(clips, labels) if i == objectives.UNKNOWN})
        skiplog.notice(f"{machine_type}: the detector knows the classes {detector.classes}, not those of section(s) "
                       f"{unknown}; those clips get no score (nan)")
    scores = detector.score(clips, log_mels)
    return pd.DataFrame({
        "machine_type": machine_type, "section": [c.section for c in clips], "domain": [c.domain for c in clips],
        "attributes": [c.attributes for c in clips], "file_name": [c.name for c in clips],
        "label": pd.array([c.label for c in clips], dtype="Int64"), "score": scores,
        "decision": detector.decide(scores, clips), "path": [str(c.path) for c in clips],
    })


def _warn_undefined(machine_type: str, table: pd.DataFrame, ed: layout.Edition) -> None:
    first = ed.rules.figures[0]
    for row in table[table[first].isna()].to_dict(orient="records"):
        where = " ".join(str(row[k]) for k in ed.rules.group_columns)
        skiplog.notice(f"{machine_type} {ed.rules.group_word} {where}: the test set holds {row['n_normal']} normal and "
                       f"{row['n_anomaly']} anomalous clip(s); AUC and pAUC need both, so they are undefined (nan in "
                       f"result.csv) and left out of the averages")


def test_all(solution: Solution, data_dir=None, result_root=None, machine_types=None,
             progress: bool = True, ground_truth=None, year=None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Score and decide every test clip; write the score and decision files, result.csv and metrics.json
    in the edition's formats (helpers.experiments.results).

    Returns (all clip scores [columns=SCORE_COLUMNS], {machine_type: ed.rules.group_table}).
    Unlabelled (eval) test clips take their labels from `ground_truth` (2020: default
    <data_dir>/eval_data_list.csv when it exists); without one their scores are written without
    metrics. `year`: the data's DCASE edition; None: detected from the folder.
    """
    data_dir = Path(data_dir or paths.DEV_DATA)
    ed = layout.resolve(data_dir, year)
    result_dir = writable_folder(solution.result_dir(result_root), "result folder")
    truth_path = groundtruth.find(data_dir, ground_truth, ed.year)
    truth = groundtruth.read(truth_path) if truth_path else None
    frames, tables = [], {}
    left_out = not_trained(solution, result_root)
    for machine_type in resolve_types(data_dir, machine_types, ed):
        scope = scope_name(solution, [machine_type])
        if scope in left_out and not detector_path(result_dir, scope).is_file():
            skiplog.notice(f"{machine_type}: no scores: its detector was not trained (why: train_summary.csv, "
                           f"not_trained)")
            continue
        scores = score_machine_type(solution, data_dir, machine_type, result_root, progress, ed)
        if truth is not None:
            scores = groundtruth.attach_labels(scores, truth, machine_type, truth_path)
        results.write_scores(result_dir, ed.rules, machine_type, scores)
        labelled = scores[scores["label"].notna()]
        if len(labelled):
            tables[machine_type] = ed.rules.group_table(labelled.assign(label=labelled["label"].astype(int)))
            _warn_undefined(machine_type, tables[machine_type], ed)
        frames.append(scores)
    all_scores = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SCORE_COLUMNS)
    atomic_write_text(result_dir / "scores.csv", all_scores.to_csv(index=False))
    if tables:
        labelled = all_scores[all_scores["machine_type"].isin(tables) & all_scores["label"].notna()]
        summary = ed.rules.evaluator_summary(tables, labelled)
        results.write_result_csv(result_dir / "result.csv", tables, ed.rules, summary)
        results.write_metrics_json(result_dir / "metrics.json", tables, ed, {
            "solution": solution.name, "run_name": solution.run_name, "objective": solution.objective.name,
            "scoring_backend": solution.config["scoring"]["backend"],
            "threshold_quantile": solution.config["scoring"]["threshold_quantile"], "data_dir": str(data_dir),
            "ground_truth": str(truth_path) if truth_path else None, "skipped": [s.__dict__ for s in skiplog.skipped()]}, summary)
    return all_scores, tables
