"""Training and testing a solution on a data folder, one model per machine type.

train_all and test_all are what the notebooks call. Eval mode is the same two calls: train_all
with ``additional_data`` (the additional training data's root, e.g. eval_data/) trains on the
development and the additional training clips together; test_all on the eval root scores its
unlabelled test clips and, given the ground-truth list, computes AUC/pAUC for them too.
Every file they write goes to the run's result folder (result/<run_name>/):
    model_<type>.pt|.keras, history_<type>.csv, loss_<type>.png, train_clips_<type>.txt,
    train_summary.csv, scores.csv, the edition's anomaly_score_<...>.csv and decision_result_<...>.csv
    per group (helpers.results), result.csv, metrics.json, density_<type>.npz (a fitted density
    back end, helpers.densities), threshold_<type>.json (the decision thresholds, helpers.decisions)
and, while a torch model trains, checkpoints/<type>.ckpt: the training state after the last
finished epoch, from which an interrupted training resumes; removed once the model is saved.

A clip's score is whatever the solution's scoring says (helpers.scoring): the objective's own
score (the baseline's mean squared error for autoencoders) or a density back end fitted on the
training clips; :func:`score_items` is the one place that turns network inputs into item scores,
for the test run, the visualisation and the clip browser alike. The data folder's edition
(helpers.layout: 2020 to 2026) is detected, or named by `year`; it says where the clips are, how
results are grouped (machine ID, section, domain) and which figures and files the test writes.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import (allocator, decisions, densities, featurecache, groundtruth, layout, metrics, paths, results,
                     scoring, skiplog, threads)
from helpers.errors import ConfigError, DataLayoutError, ToolkitError
from helpers.fileio import atomic_write_text, writable_folder
from helpers.inputs import Items
from helpers.liveplot import LossDisplay
from helpers.solution import Solution

# framework -> (the module that runs, saves and loads its networks, the module that trains them)
ENGINES = {"torch": ("helpers.torch_backend", "helpers.torch_training"),
           "keras": ("helpers.keras_backend", "helpers.keras_backend")}
log = logging.getLogger("helpers")


@dataclass
class TrainedModel:
    """One machine type's trained network with what scoring needs besides it.

    classes: the classes a machine_id network tells apart, in its output order (else None): the
    sections (2020: machine IDs), or "<section>:<attributes>" keys where a machine type has one
    section (2023+) and the attributes are what there is to tell apart (:func:`class_of`);
    fingerprint: the settings fingerprint it was trained with; density: the fitted density back
    end when scoring.backend names one (helpers.densities), else None.
    """

    net: object
    fingerprint: str
    classes: list[str] | None = None
    density: densities.Density | None = None


def engine(solution: Solution):
    """The framework module that runs, saves and loads this solution's networks (TensorFlow only for keras).

    From the first call on, freed tensor memory is kept for reuse (helpers.allocator).
    """
    allocator.keep_freed_memory()
    if solution.framework == "torch":
        threads.apply_to_torch()
    return importlib.import_module(ENGINES[solution.framework][0])


def trainer(solution: Solution):
    """The framework module that trains this solution's networks (Lightning only for torch, imported on first use)."""
    return importlib.import_module(ENGINES[solution.framework][1])


def model_path(solution: Solution, result_dir: Path, machine_type: str) -> Path:
    return result_dir / f"model_{machine_type}{engine(solution).MODEL_SUFFIX}"


def checkpoint_path(solution: Solution, result_dir: Path, machine_type: str) -> Path | None:
    """Where the training of one machine type keeps its state between epochs; None if its engine does not resume."""
    suffix = getattr(trainer(solution), "CHECKPOINT_SUFFIX", None)
    return result_dir / "checkpoints" / f"{machine_type}{suffix}" if suffix else None


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


def _folders(*roots: Path | None, machine_type: str, split: str) -> str:
    return " and ".join(str(Path(root) / machine_type / split) for root in roots if root is not None)


def make_items(solution: Solution, log_mels: list[np.ndarray], training: bool, labels=None) -> Items:
    """The network inputs of these clips, of the solution's input kind (random crops when training
    for kinds that draw them); `labels`: each clip's machine-ID index for a machine_id objective."""
    return solution.input_kind.build(log_mels, solution.config["inputs"], solution.features, training,
                                     solution.config["training"]["seed"], labels)


def class_of(clip: layout.Clip, by_attributes: bool) -> str:
    """The class a machine_id objective puts a clip in: its section, or "<section>:<attributes>"."""
    return f"{clip.section}:{clip.attributes}" if by_attributes else clip.section


def training_classes(clips: list[layout.Clip]) -> list[str]:
    """The classes of a machine_id objective, sorted: the training clips' sections when there are
    two or more or the clips have no attributes, else their section-and-attribute keys
    (one-section editions, 2023+)."""
    sections = layout.sections(clips)
    if len(sections) > 1 or not any(c.attributes for c in clips):
        return sections
    return sorted({class_of(c, True) for c in clips})


def by_attributes(classes: list[str]) -> bool:
    """Whether a machine_id model's classes are section-and-attribute keys (:func:`training_classes`)."""
    return any(":" in c for c in classes)


def id_labels(clips: list[layout.Clip], classes: list[str] | None) -> np.ndarray | None:
    """Each clip's index in `classes` (-1 for a class not among them); None without classes. [shape=(clips,)]"""
    if classes is None:
        return None
    index, keyed = {key: i for i, key in enumerate(classes)}, by_attributes(classes)
    return np.array([index.get(class_of(c, keyed), -1) for c in clips], dtype=np.int64)


def split_validation(log_mels: list[np.ndarray], fraction: float, groups=None) -> tuple[list[int], list[int]]:
    """(training, validation) positions: the last `fraction` of the clips held out, as Keras'
    validation_split holds out the last items; with `groups` (e.g. machine IDs), the last
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


def training_fingerprint(solution: Solution, additional_data: Path | None) -> str:
    """The settings fingerprint, extended by the additional training data's folder when there is one."""
    if additional_data is None:
        return solution.fingerprint()
    text = f"{solution.fingerprint()}+{Path(additional_data).resolve()}"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def train_clips_path(result_dir: Path, machine_type: str) -> Path:
    """The list of one machine type's training clips (one path a line), for fitting a density back end later."""
    return result_dir / f"train_clips_{machine_type}.txt"


def listed_train_clips(result_dir: Path, machine_type: str, needed_for: str) -> list[layout.Clip]:
    """The training clips of one machine type as its training listed them (:func:`train_clips_path`).

    ConfigError naming the list and what it is `needed_for` when it is missing.
    """
    listed = train_clips_path(result_dir, machine_type)
    if not listed.is_file():
        raise ConfigError(f"{listed} is missing: the list of the {machine_type} training clips, needed {needed_for}; "
                          f"run 00-train-with-visual again")
    return [layout.parse_clip(line, machine_type, "train") for line in listed.read_text().splitlines() if line]


def train_machine_type(solution: Solution, data_dir: Path, machine_type: str, result_dir: Path,
                       retrain: bool = False, live: bool = True, progress: bool = True,
                       additional_data: Path | None = None, ed: layout.Edition | None = None,
                       display=None, stop: threading.Event | None = None) -> dict:
    """Train (or reuse) the model of one machine type; returns its summary row.

    With `additional_data`, its <machine_type>/train clips join the training set. A torch
    training resumes from its checkpoint after the last finished epoch if one with the same
    fingerprint is there (see torch_training.train); `retrain` deletes it and starts over. A
    machine_id objective learns the classes of the training clips (:func:`training_classes`; it
    needs at least 2) and holds out the validation clips per class. `ed`: the data's edition
    (default: detected). A density back end (scoring.backend) is
    fitted afterwards. `display`: what the loss curves are drawn on (default: a new LossDisplay);
    `stop`: an event that ends a torch training after its current batch (trainings side by side).
    """
    framework = engine(solution)
    target = model_path(solution, result_dir, machine_type)
    history_path = result_dir / f"history_{machine_type}.csv"
    checkpoint = checkpoint_path(solution, result_dir, machine_type)
    listed = layout.list_clips(data_dir, machine_type, "train", ed)
    if additional_data is not None:
        listed += layout.list_clips(additional_data, machine_type, "train", ed)
    clips, log_mels = load_clip_features(solution, listed, progress, f"{machine_type} train features")
    if not clips:
        raise DataLayoutError(f"no usable training clip in {_folders(data_dir, additional_data, machine_type=machine_type, split='train')}: "
                              f"{len(listed)} well-named clip(s), every one skipped (see the skipped files); "
                              f"a model of {machine_type} needs at least one readable normal clip")
    atomic_write_text(train_clips_path(result_dir, machine_type), "".join(f"{c.path}\n" for c in clips))
    fingerprint = training_fingerprint(solution, additional_data)
    classes = training_classes(clips) if solution.objective == "machine_id" else None
    if classes is not None and len(classes) < 2:
        raise DataLayoutError(f"training.objective 'machine_id' tells a machine type's sections (2020: IDs) or, with "
                              f"one section, its attributes apart, but the usable training clips in "
                              f"{_folders(data_dir, additional_data, machine_type=machine_type, split='train')} "
                              f"have {len(classes)} class(es) ({', '.join(classes)}); it needs at least 2")
    labels = id_labels(clips, classes)
    started = time.perf_counter()
    if retrain:
        remove_checkpoint(checkpoint)
    elif target.is_file() and history_path.is_file():
        saved = _load(solution, target)
        if saved.fingerprint == fingerprint:
            remove_checkpoint(checkpoint)  # left behind if a run stopped between saving the model and removing it
            fitted_density(solution, saved, machine_type, result_dir, progress)
            history = pd.read_csv(history_path)
            return _summary_row(machine_type, clips, len(make_items(solution, log_mels, True)), history, None, True)
        print(f"{target.name}: settings or training data changed since it was trained; training again")
    train, held = split_validation(log_mels, solution.config["training"]["validation_split"],
                                   labels if classes else None)
    train_items = make_items(solution, [log_mels[i] for i in train], True, _subset(labels, train))
    val_items = make_items(solution, [log_mels[i] for i in held], True, _subset(labels, held)) if held else None
    display = LossDisplay(loss_title(solution, machine_type), live=live) if display is None else display
    resumable = {"checkpoint": checkpoint, "fingerprint": fingerprint} if checkpoint else {}
    stoppable = {"stop": stop} if stop is not None else {}
    net, history = trainer(solution).train(solution, train_items, val_items, result_dir / "logs", machine_type, display,
                                   classes=len(classes) if classes else None, **resumable, **stoppable)
    seconds = time.perf_counter() - started
    display.update(history)
    display.close(result_dir / f"loss_{machine_type}.png")
    framework.save(net, target, {"fingerprint": fingerprint, "classes": classes})
    atomic_write_text(history_path, history.to_csv(index=False))
    remove_checkpoint(checkpoint)
    fitted_density(solution, TrainedModel(net, fingerprint, classes), machine_type, result_dir, progress)
    items = len(train_items) + (len(val_items) if val_items is not None else 0)
    return _summary_row(machine_type, clips, items, history, seconds, False)


def _subset(labels: np.ndarray | None, positions: list[int]) -> np.ndarray | None:
    return None if labels is None else labels[positions]


def _summary_row(machine_type, clips, items: int, history, seconds, reused) -> dict:
    last = history.iloc[-1]
    return {"machine_type": machine_type, "clips": len(clips), "items": items, "epochs": int(last["epoch"]),
            "loss": float(last["loss"]), "val_loss": float(last.get("val_loss", np.nan)),
            "train_seconds": seconds, "reused": reused}


def train_all(solution: Solution, data_dir=None, result_root=None, machine_types=None,
              retrain: bool = False, live: bool = True, progress: bool = True,
              additional_data=None, year=None) -> pd.DataFrame:
    """Train one model per machine type; writes train_summary.csv and returns it as a table.

    A torch solution trains its machine types side by side, in threads of this process, as far as
    its engine allows (torch_training.trainings_at_once: one per core, on one CPU device, for
    networks whose training step draws no process-wide randomness); the summary's side_by_side
    column says how many trained at once with each.

    `additional_data`: a data root whose <machine_type>/train clips are added to each type's
    training set (eval mode: the additional training data); None for DATA_DIR's clips only.
    `year`: the data's DCASE edition (helpers.layout.YEARS); None: detected from the folder.
    """
    data_dir = Path(data_dir or paths.DEV_DATA)
    ed = layout.resolve(data_dir, year)
    additional_data = Path(additional_data) if additional_data else None
    result_dir = writable_folder(solution.result_dir(result_root), "result folder")

    def train_one(machine_type: str, display=None, stop: threading.Event | None = None) -> dict:
        return train_machine_type(solution, data_dir, machine_type, result_dir, retrain, live, progress,
                                  additional_data, ed, display, stop)

    types = resolve_types(data_dir, machine_types, ed)
    at_once = trainer(solution).trainings_at_once(solution, len(types))
    rows = []
    for start in range(0, len(types), at_once):
        wave = types[start:start + at_once]
        trained = _side_by_side(solution, wave, train_one, live) if len(wave) > 1 else [train_one(wave[0])]
        rows += [{**row, "side_by_side": len(wave)} for row in trained]
    summary = pd.DataFrame(rows)
    atomic_write_text(result_dir / "train_summary.csv", summary.to_csv(index=False))
    return summary


class _Relay:
    """What a training in a worker thread draws on in place of its LossDisplay: it keeps the latest
    history and the closing, and :meth:`draw`, called by the thread that started the trainings,
    shows them on a real LossDisplay (matplotlib and the notebook's display belong to one thread)."""

    def __init__(self, title: str, live: bool):
        self.title, self.live = title, live
        self.history = self.drawn = self.display = None
        self.closing: tuple[Path | None] | None = None

    def update(self, history: pd.DataFrame) -> None:
        self.history = history

    def close(self, path: Path | None = None) -> None:
        self.closing = (path,)

    def draw(self) -> None:
        history = self.history
        if history is not None and self.display is None:
            self.display = LossDisplay(self.title, live=self.live)
        if history is not None and history is not self.drawn:
            self.display.update(history)
            self.drawn = history
        if self.closing is not None and self.display is not None:
            self.display.close(*self.closing)
            self.closing, self.display = None, None


def _side_by_side(solution: Solution, types: list[str], train_one, live: bool) -> list[dict]:
    """The summary rows of these machine types, trained at once, one thread each, sharing the cores
    (helpers.threads.side_by_side); their loss figures are drawn here. A failure or an interrupt
    stops the others after their current batch; then the first error (or the interrupt) is raised.
    """
    relays = {t: _Relay(loss_title(solution, t), live) for t in types}
    stop, first = threading.Event(), None
    with threads.side_by_side(len(types)), futures.ThreadPoolExecutor(len(types), "train") as pool:
        running = [pool.submit(train_one, t, relays[t], stop) for t in types]
        try:
            while True:
                finished = futures.wait(running, timeout=0.5).done
                failed = [f.exception() for f in running if f in finished and f.exception() is not None]
                if failed and first is None:
                    first = failed[0]
                    stop.set()
                for relay in relays.values():
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


def loss_title(solution: Solution, machine_type: str) -> str:
    return f"{solution.run_name} · {machine_type}"


def _load(solution: Solution, target: Path) -> TrainedModel:
    net, saved = engine(solution).load(solution, target)
    return TrainedModel(net, saved["fingerprint"], saved.get("classes"))


def load_model(solution: Solution, machine_type: str, result_root=None, progress: bool = False) -> TrainedModel:
    """The trained model of one machine type, with its density back end if scoring uses one (fitted
    now from the listed training clips if it is missing or was fitted with other settings).

    ConfigError if the model has not been trained yet.
    """
    result_dir = solution.result_dir(result_root)
    target = model_path(solution, result_dir, machine_type)
    if not target.is_file():
        raise ConfigError(f"no trained model at {target}; run 00-train-with-visual first")
    model = _load(solution, target)
    return fitted_density(solution, model, machine_type, result_dir, progress)


def uses_density(solution: Solution) -> bool:
    return solution.config["scoring"]["backend"] in scoring.DENSITY_BACKENDS


def density_path(result_dir: Path, machine_type: str) -> Path:
    return result_dir / f"density_{machine_type}.npz"


def density_fingerprint(solution: Solution, model: TrainedModel) -> str:
    """The model's fingerprint extended by the back end's settings: a change of either fits it anew."""
    settings = {k: v for k, v in solution.config["scoring"].items() if k not in ("batch_size", "threshold_quantile")}
    return hashlib.sha1(f"{model.fingerprint}+{sorted(settings.items())}".encode()).hexdigest()[:12]


def fitted_density(solution: Solution, model: TrainedModel, machine_type: str, result_dir: Path,
                   progress: bool = False) -> TrainedModel:
    """`model` with its density back end: loaded from density_<type>.npz when fitted with the same
    model and settings, else fitted on the training clips listed at training time and saved."""
    if not uses_density(solution):
        return model
    target, fingerprint = density_path(result_dir, machine_type), density_fingerprint(solution, model)
    if target.is_file():
        try:
            density, saved = densities.load(target)
        except ToolkitError as err:
            log.warning("%s; fitting it anew", err)
            saved = None
        if saved == fingerprint:
            model.density = density
            return model
    clips = listed_train_clips(result_dir, machine_type, f"to fit the density back end {target}")
    clips, log_mels = load_clip_features(solution, clips, progress, f"{machine_type} density fit")
    items = clip_items(solution, model, clips, log_mels)
    settings = solution.config["scoring"]
    kind = scoring.vector_kind(solution.objective, settings["vectors"])
    vectors = scoring.item_outputs(engine(solution), model.net, items, solution.objective, settings["batch_size"],
                                   vectors=kind, own_scores=False).vectors
    ids = np.array([c.section for c in clips])[items.clip_of]
    model.density = densities.fit(settings["backend"], vectors, ids, settings, solution.config["training"]["seed"])
    densities.save(model.density, target, fingerprint)
    return model


def clip_items(solution: Solution, model: TrainedModel, clips: list[layout.Clip], log_mels: list[np.ndarray]) -> Items:
    """The test-time network inputs of these clips, labelled with their IDs' places in the model's classes."""
    return make_items(solution, log_mels, training=False, labels=id_labels(clips, model.classes))


def score_items(solution: Solution, model: TrainedModel, items: Items, sections,
                keep_predictions: bool = False) -> scoring.ItemOutputs:
    """Every item's anomaly score under the solution's scoring (helpers.scoring), and the network's
    outputs when asked. `sections`: each clip's section [shape=(clips,)], for a density back end."""
    settings = solution.config["scoring"]
    kind = scoring.vector_kind(solution.objective, settings["vectors"]) if uses_density(solution) else None
    outputs = scoring.item_outputs(engine(solution), model.net, items, solution.objective, settings["batch_size"],
                                   vectors=kind, keep_predictions=keep_predictions, own_scores=kind is None)
    if kind is not None:
        outputs.scores = model.density.score(outputs.vectors, np.asarray(sections)[items.clip_of])
    return outputs


def clip_scores(solution: Solution, model: TrainedModel, clips: list[layout.Clip],
                log_mels: list[np.ndarray]) -> np.ndarray:
    """Each clip's anomaly score: the mean of its items' scores [shape=(clips,)] (nan for a clip of a
    class the model does not know, under a machine_id objective's own score)."""
    items = clip_items(solution, model, clips, log_mels)
    outputs = score_items(solution, model, items, [c.section for c in clips])
    return scoring.clip_scores(outputs.scores, items.clip_of, len(clips))


def threshold_path(result_dir: Path, machine_type: str) -> Path:
    return result_dir / f"threshold_{machine_type}.json"


def fitted_thresholds(solution: Solution, model: TrainedModel, machine_type: str, result_dir: Path,
                      progress: bool = False) -> dict[str, decisions.Threshold]:
    """The decision thresholds per section of one machine type (helpers.decisions): loaded from
    threshold_<type>.json when fitted for the same model, scoring and quantile, else fitted on the
    anomaly scores of the training clips listed at training time and saved; {} (no decisions) when
    that list is missing."""
    quantile = solution.config["scoring"]["threshold_quantile"]
    target, fingerprint = threshold_path(result_dir, machine_type), density_fingerprint(solution, model)
    listed = train_clips_path(result_dir, machine_type)
    if not listed.is_file():
        log.warning("%s is missing (the list of the %s training clips, written by 00-train-with-visual): no decision "
                    "thresholds, so no decisions, precision, recall or F1", listed, machine_type)
        return {}
    if target.is_file():
        try:
            thresholds, saved, saved_quantile = decisions.load(target)
            if (saved, saved_quantile) == (fingerprint, quantile):
                return thresholds
        except ToolkitError as err:
            log.warning("%s; fitting them anew", err)
    clips = listed_train_clips(result_dir, machine_type, f"to fit the decision thresholds {target}")
    clips, log_mels = load_clip_features(solution, clips, progress, f"{machine_type} threshold fit")
    scores = clip_scores(solution, model, clips, log_mels)
    thresholds = decisions.fit_groups(scores, [c.section for c in clips], quantile)
    decisions.save(thresholds, target, fingerprint, quantile)
    return thresholds


def saved_thresholds(solution: Solution, machine_type: str, result_root=None) -> dict[str, decisions.Threshold]:
    """The thresholds the last test run of one machine type decided by ({} before a test run)."""
    target = threshold_path(solution.result_dir(result_root), machine_type)
    return decisions.load(target)[0] if target.is_file() else {}


def decision_threshold(solution: Solution, machine_type: str, section: str, result_root=None) -> float | None:
    """The threshold the last test run decided `section`'s clips by; None before a test run."""
    saved = saved_thresholds(solution, machine_type, result_root)
    return decisions.threshold_of(saved, section) if saved else None


def section_thresholds(solution: Solution, machine_type: str, result_root=None) -> dict[str, float]:
    """{section: threshold} of the last test run of one machine type ({} before one)."""
    return {g: t.threshold for g, t in saved_thresholds(solution, machine_type, result_root).items()
            if g != decisions.ALL}


SCORE_COLUMNS = ["machine_type", "section", "domain", "attributes", "file_name", "label", "score", "decision", "path"]


def score_machine_type(solution: Solution, data_dir: Path, machine_type: str, result_root=None,
                       progress: bool = True, ed: layout.Edition | None = None) -> pd.DataFrame:
    """Anomaly score and decision (1 anomalous, 0 normal; helpers.decisions) of every usable test
    clip. [columns=SCORE_COLUMNS]"""
    listed = layout.list_clips(data_dir, machine_type, "test", ed)
    model = load_model(solution, machine_type, result_root, progress)
    clips, log_mels = load_clip_features(solution, listed, progress, f"{machine_type} test features")
    if not clips:
        log.warning("%s: no usable test clip in %s (%d well-named clip(s), every one skipped); no scores for %s",
                    machine_type, _folders(data_dir, machine_type=machine_type, split="test"), len(listed), machine_type)
        return pd.DataFrame(columns=SCORE_COLUMNS)
    labels = id_labels(clips, model.classes)
    if labels is not None and (labels < 0).any() and not uses_density(solution):
        unknown = sorted({class_of(c, by_attributes(model.classes)) for c, i in zip(clips, labels) if i < 0})
        log.warning("%s: the model knows the classes %s, not %s; those clips get no score (nan)",
                    machine_type, model.classes, unknown)
    scores = clip_scores(solution, model, clips, log_mels)
    thresholds = fitted_thresholds(solution, model, machine_type, solution.result_dir(result_root), progress)
    sections = [c.section for c in clips]
    return pd.DataFrame({
        "machine_type": machine_type, "section": sections, "domain": [c.domain for c in clips],
        "attributes": [c.attributes for c in clips], "file_name": [c.name for c in clips],
        "label": pd.array([c.label for c in clips], dtype="Int64"), "score": scores,
        "decision": decisions.decide(scores, sections, thresholds) if thresholds else np.nan,
        "path": [str(c.path) for c in clips],
    })


def _warn_undefined(machine_type: str, table: pd.DataFrame, ed: layout.Edition) -> None:
    first = metrics.COLUMNS[ed.style][1][0]
    for row in table[table[first].isna()].to_dict(orient="records"):
        where = " ".join(str(row[k]) for k in metrics.COLUMNS[ed.style][0])
        log.warning("%s %s %s: the test set holds %d normal and %d anomalous clip(s); AUC and pAUC need both, so "
                    "they are undefined (nan in result.csv) and left out of the averages",
                    machine_type, ed.group, where, row["n_normal"], row["n_anomaly"])


def test_all(solution: Solution, data_dir=None, result_root=None, machine_types=None,
             progress: bool = True, ground_truth=None, year=None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Score and decide every test clip; write the score and decision files, result.csv and metrics.json
    in the edition's formats (helpers.results).

    Returns (all clip scores [columns=SCORE_COLUMNS], {machine_type: metrics.group_table}).
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
    for machine_type in resolve_types(data_dir, machine_types, ed):
        scores = score_machine_type(solution, data_dir, machine_type, result_root, progress, ed)
        if truth is not None:
            scores = groundtruth.attach_labels(scores, truth, machine_type, truth_path)
        results.write_scores(result_dir, ed.style, machine_type, scores)
        labelled = scores[scores["label"].notna()]
        if len(labelled):
            tables[machine_type] = metrics.group_table(labelled.assign(label=labelled["label"].astype(int)), ed.style)
            _warn_undefined(machine_type, tables[machine_type], ed)
        frames.append(scores)
    all_scores = pd.concat(frames, ignore_index=True)
    atomic_write_text(result_dir / "scores.csv", all_scores.to_csv(index=False))
    if tables:
        results.write_result_csv(result_dir / "result.csv", tables, ed.style)
        results.write_metrics_json(result_dir / "metrics.json", tables, ed, {
            "solution": solution.name, "run_name": solution.run_name, "objective": solution.objective,
            "scoring_backend": solution.config["scoring"]["backend"],
            "threshold_quantile": solution.config["scoring"]["threshold_quantile"], "data_dir": str(data_dir),
            "ground_truth": str(truth_path) if truth_path else None, "skipped": [s.__dict__ for s in skiplog.skipped()]})
    return all_scores, tables
