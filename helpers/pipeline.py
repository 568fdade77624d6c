"""Training and testing a solution on a data folder, one model per machine type.

train_all and test_all are what the notebooks call. Eval mode is the same two calls: train_all
with ``additional_data`` (the additional training data's root, e.g. eval_data/) trains on the
development and the additional training clips together; test_all on the eval root scores its
unlabelled test clips and, given the ground-truth list, computes AUC/pAUC for them too.
Every file they write goes to the run's result folder (result/<run_name>/):
    model_<type>.pt|.keras, history_<type>.csv, loss_<type>.png, train_summary.csv,
    anomaly_score_<type>_id_XX.csv, scores.csv, result.csv, metrics.json
and, while a torch model trains, checkpoints/<type>.ckpt: the training state after the last
finished epoch, from which an interrupted training resumes; removed once the model is saved.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import featurecache, groundtruth, layout, paths, results, skiplog
from helpers.errors import ConfigError, DataLayoutError
from helpers.fileio import atomic_write_text, writable_folder
from helpers.inputs import FrameVectors, Patches
from helpers.liveplot import LossDisplay
from helpers.metrics import per_id_table
from helpers.solution import Solution

BACKENDS = {"torch": "helpers.torch_backend", "keras": "helpers.keras_backend"}
log = logging.getLogger("helpers")


def backend(solution: Solution):
    """The module that trains and runs this solution's networks (TensorFlow only for keras)."""
    return importlib.import_module(BACKENDS[solution.framework])


def model_path(solution: Solution, result_dir: Path, machine_type: str) -> Path:
    return result_dir / f"model_{machine_type}{backend(solution).MODEL_SUFFIX}"


def checkpoint_path(solution: Solution, result_dir: Path, machine_type: str) -> Path | None:
    """Where the training of one machine type keeps its state between epochs; None if its backend does not resume."""
    suffix = getattr(backend(solution), "CHECKPOINT_SUFFIX", None)
    return result_dir / "checkpoints" / f"{machine_type}{suffix}" if suffix else None


def remove_checkpoint(checkpoint: Path | None) -> None:
    """Delete a training checkpoint, and its folder once empty; nothing if there is none."""
    if checkpoint is None:
        return
    checkpoint.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # the folder still holds another checkpoint, or is gone already
        checkpoint.parent.rmdir()


def resolve_types(data_dir: Path, machine_types) -> list[str]:
    """The machine types to run: all in the data folder, or the requested ones (checked)."""
    available = layout.machine_types(data_dir)
    if machine_types in (None, "", []):
        return available
    wanted = [t.strip() for t in machine_types.split(",")] if isinstance(machine_types, str) else list(machine_types)
    missing = [t for t in wanted if t not in available]
    if missing:
        raise ConfigError(f"machine type(s) {missing} not in {data_dir}; available: {available}")
    return wanted


def min_frames(solution: Solution) -> int:
    """Log-mel frames one network input needs: the stacked frames, or the patch width."""
    inputs = solution.config["inputs"]
    return inputs["patch_size"] if inputs["kind"] == "patches" else solution.features.frames


def long_enough(solution: Solution, path, log_mel: np.ndarray) -> bool:
    """Whether a clip's log-mel [shape=(n_mels, frames)] holds one network input; if not, it is skipped and recorded."""
    frames, needed = log_mel.shape[1], min_frames(solution)
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


def make_items(solution: Solution, log_mels: list[np.ndarray], training: bool) -> FrameVectors | Patches:
    """The network inputs for these clips: stacked vectors, or patches (random crops when training)."""
    inputs = solution.config["inputs"]
    if inputs["kind"] == "patches":
        return Patches(log_mels, inputs["patch_size"], step=None if training else inputs["patch_step"],
                       crops_per_clip=inputs["crops_per_clip"], seed=solution.config["training"]["seed"])
    return FrameVectors(log_mels, solution.features.frames)


def split_validation(log_mels: list[np.ndarray], fraction: float) -> tuple[list, list]:
    """Hold out the last `fraction` of the clips, as Keras' validation_split holds out the last items."""
    held = int(round(len(log_mels) * fraction)) if len(log_mels) > 1 else 0
    return (log_mels[:len(log_mels) - held], log_mels[len(log_mels) - held:]) if held else (log_mels, [])


def training_fingerprint(solution: Solution, additional_data: Path | None) -> str:
    """The settings fingerprint, extended by the additional training data's folder when there is one."""
    if additional_data is None:
        return solution.fingerprint()
    text = f"{solution.fingerprint()}+{Path(additional_data).resolve()}"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def train_machine_type(solution: Solution, data_dir: Path, machine_type: str, result_dir: Path,
                       retrain: bool = False, live: bool = True, progress: bool = True,
                       additional_data: Path | None = None) -> dict:
    """Train (or reuse) the model of one machine type; returns its summary row.

    With `additional_data`, its <machine_type>/train clips join the training set. A torch
    training resumes from its checkpoint after the last finished epoch if one with the same
    fingerprint is there (see torch_backend.train); `retrain` deletes it and starts over.
    """
    engine = backend(solution)
    target = model_path(solution, result_dir, machine_type)
    history_path = result_dir / f"history_{machine_type}.csv"
    checkpoint = checkpoint_path(solution, result_dir, machine_type)
    listed = layout.list_clips(data_dir, machine_type, "train")
    if additional_data is not None:
        listed += layout.list_clips(additional_data, machine_type, "train")
    clips, log_mels = load_clip_features(solution, listed, progress, f"{machine_type} train features")
    if not clips:
        raise DataLayoutError(f"no usable training clip in {_folders(data_dir, additional_data, machine_type=machine_type, split='train')}: "
                              f"{len(listed)} well-named clip(s), every one skipped (see the skipped files); "
                              f"a model of {machine_type} needs at least one readable normal clip")
    fingerprint = training_fingerprint(solution, additional_data)
    started = time.perf_counter()
    if retrain:
        remove_checkpoint(checkpoint)
    elif target.is_file() and history_path.is_file():
        _, saved_fingerprint = engine.load(solution, target)
        if saved_fingerprint == fingerprint:
            remove_checkpoint(checkpoint)  # left behind if a run stopped between saving the model and removing it
            history = pd.read_csv(history_path)
            return _summary_row(machine_type, clips, len(make_items(solution, log_mels, True)), history, None, True)
        print(f"{target.name}: settings or training data changed since it was trained; training again")
    train_mels, val_mels = split_validation(log_mels, solution.config["training"]["validation_split"])
    train_items = make_items(solution, train_mels, True)
    val_items = make_items(solution, val_mels, True) if val_mels else None
    display = LossDisplay(f"{solution.run_name} · {machine_type}", live=live)
    resumable = {"checkpoint": checkpoint, "fingerprint": fingerprint} if checkpoint else {}
    net, history = engine.train(solution, train_items, val_items, result_dir / "logs", machine_type, display,
                                **resumable)
    seconds = time.perf_counter() - started
    display.update(history)
    display.close(result_dir / f"loss_{machine_type}.png")
    engine.save(net, target, fingerprint)
    atomic_write_text(history_path, history.to_csv(index=False))
    remove_checkpoint(checkpoint)
    items = len(train_items) + (len(val_items) if val_items is not None else 0)
    return _summary_row(machine_type, clips, items, history, seconds, False)


def _summary_row(machine_type, clips, items: int, history, seconds, reused) -> dict:
    last = history.iloc[-1]
    return {"machine_type": machine_type, "clips": len(clips), "items": items, "epochs": int(last["epoch"]),
            "loss": float(last["loss"]), "val_loss": float(last.get("val_loss", np.nan)),
            "train_seconds": seconds, "reused": reused}


def train_all(solution: Solution, data_dir=None, result_root=None, machine_types=None,
              retrain: bool = False, live: bool = True, progress: bool = True,
              additional_data=None) -> pd.DataFrame:
    """Train one model per machine type; writes train_summary.csv and returns it as a table.

    `additional_data`: a data root whose <machine_type>/train clips are added to each type's
    training set (eval mode: the additional training data); None for DATA_DIR's clips only.
    """
    data_dir = Path(data_dir or paths.DEV_DATA)
    additional_data = Path(additional_data) if additional_data else None
    result_dir = writable_folder(solution.result_dir(result_root), "result folder")
    rows = [train_machine_type(solution, data_dir, t, result_dir, retrain, live, progress, additional_data)
            for t in resolve_types(data_dir, machine_types)]
    summary = pd.DataFrame(rows)
    atomic_write_text(result_dir / "train_summary.csv", summary.to_csv(index=False))
    return summary


def clip_scores(errors: np.ndarray, clip_of: np.ndarray, n_clips: int) -> np.ndarray:
    """Mean item error per clip; NaN for a clip with no items. [shape=(n_clips,)]"""
    counts = np.bincount(clip_of, minlength=n_clips)
    sums = np.bincount(clip_of, weights=errors, minlength=n_clips)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def load_model(solution: Solution, machine_type: str, result_root=None):
    """The trained model of one machine type; ConfigError if it has not been trained yet."""
    target = model_path(solution, solution.result_dir(result_root), machine_type)
    if not target.is_file():
        raise ConfigError(f"no trained model at {target}; run 00-train-with-visual first")
    return backend(solution).load(solution, target)[0]


def score_machine_type(solution: Solution, data_dir: Path, machine_type: str, result_root=None,
                       progress: bool = True) -> pd.DataFrame:
    """Anomaly score of every usable test clip. [columns=machine_type, machine_id, file_name, label, score, path]"""
    listed = layout.list_clips(data_dir, machine_type, "test")
    model = load_model(solution, machine_type, result_root)
    clips, log_mels = load_clip_features(solution, listed, progress, f"{machine_type} test features")
    if not clips:
        log.warning("%s: no usable test clip in %s (%d well-named clip(s), every one skipped); no scores for %s",
                    machine_type, _folders(data_dir, machine_type=machine_type, split="test"), len(listed), machine_type)
        return pd.DataFrame(columns=["machine_type", "machine_id", "file_name", "label", "score", "path"])
    items = make_items(solution, log_mels, training=False)
    errors = backend(solution).item_errors(model, items, solution.config["scoring"]["batch_size"])
    return pd.DataFrame({
        "machine_type": machine_type, "machine_id": [c.machine_id for c in clips],
        "file_name": [c.name for c in clips], "label": pd.array([c.label for c in clips], dtype="Int64"),
        "score": clip_scores(errors, items.clip_of, len(clips)), "path": [str(c.path) for c in clips],
    })


def _warn_undefined(machine_type: str, table: pd.DataFrame) -> None:
    for row in table[table["AUC"].isna()].itertuples():
        log.warning("%s id %s: the test set holds %d normal and %d anomalous clip(s); AUC and pAUC need both, so "
                    "they are undefined (nan in result.csv) and left out of the averages",
                    machine_type, row.id, row.n_normal, row.n_anomaly)


def test_all(solution: Solution, data_dir=None, result_root=None, machine_types=None,
             progress: bool = True, ground_truth=None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Score every test clip, write the score files, result.csv and metrics.json.

    Returns (all clip scores, {machine_type: per-ID AUC/pAUC table}). Unlabelled (eval) test
    clips take their labels from `ground_truth` (default: <data_dir>/eval_data_list.csv when it
    exists); without one their scores are written without metrics.
    """
    data_dir = Path(data_dir or paths.DEV_DATA)
    result_dir = writable_folder(solution.result_dir(result_root), "result folder")
    truth_path = groundtruth.find(data_dir, ground_truth)
    truth = groundtruth.read(truth_path) if truth_path else None
    frames, tables = [], {}
    for machine_type in resolve_types(data_dir, machine_types):
        scores = score_machine_type(solution, data_dir, machine_type, result_root, progress)
        if truth is not None:
            scores = groundtruth.attach_labels(scores, truth, machine_type, truth_path)
        for machine_id, group in scores.groupby("machine_id"):
            results.write_scores(result_dir, machine_type, machine_id, group["file_name"], group["score"])
        labelled = scores[scores["label"].notna()]
        if len(labelled):
            tables[machine_type] = per_id_table(labelled.assign(label=labelled["label"].astype(int)))
            _warn_undefined(machine_type, tables[machine_type])
        frames.append(scores)
    all_scores = pd.concat(frames, ignore_index=True)
    atomic_write_text(result_dir / "scores.csv", all_scores.to_csv(index=False))
    if tables:
        results.write_result_csv(result_dir / "result.csv", tables)
        results.write_metrics_json(result_dir / "metrics.json", tables,
                                   {"solution": solution.name, "run_name": solution.run_name,
                                    "data_dir": str(data_dir),
                                    "ground_truth": str(truth_path) if truth_path else None, "skipped": [s.__dict__ for s in skiplog.skipped()]})
    return all_scores, tables
