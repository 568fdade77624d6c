"""The original DCASE 2020 Task 2 baseline's two scripts, 00_train.py and 01_test.py, as one command.

    python benchmarks/original_baseline.py train --data D --model-dir M [--epochs 100] [--types fan,pump]
    python benchmarks/original_baseline.py test --data D --model-dir M --result-dir R [--types fan,pump]

The yardstick of the end-to-end benchmark: the project's headline command
(``python -m helpers run --solution pytorch ...``) is timed against these two whole processes on
the same development folder and epochs. The official scripts (github.com/y-kawagu/dcase2020_task2_baseline:
00_train.py, 01_test.py, common.py, keras_model.py, baseline.yaml) cannot be fetched at run time,
so their procedure is written out here, step by step as they do it.

train, per machine type folder D/<type> (sorted; --types picks some):
- every D/<type>/train/*.wav (sorted) is read with librosa (sr=None, mono=False) and turned into a
  log-mel spectrogram (128 mels, n_fft 1024, hop 512, power 2.0, 20/power * log10(mel + eps));
  5 consecutive frames are concatenated into one 640-d float64 vector per frame position;
- the vectors of all files are stacked into one array by a Python loop over the files, the array
  sized from the first file's vector count (list_to_vector_array);
- the baseline autoencoder (Dense 640-128x4-8-128x4-640 with BatchNorm and ReLU; the `original`
  solution's notebooks/original/model.py builds exactly this network and is used here) is compiled
  with adam and mean squared error and fitted on the array: batch size 512, shuffled,
  the last 10 % of the vectors held out for validation;
- the model goes to M/model_<type>.keras, the loss and validation-loss curves to
  M/history_<type>.png. A type whose model file exists already is skipped, as the original does.
Prints, per type, the seconds spent on features and on training.

test, per machine type and machine ID (the ``id_XX`` of D/<type>/test/*.wav):
- the test clips are ``normal_id_XX*.wav`` (label 0) then ``anomaly_id_XX*.wav`` (label 1), each
  sorted; every clip is turned into vectors as above and scored with one ``model.predict``:
  its anomaly score is the mean over its vectors of each vector's mean squared reconstruction error;
- R/anomaly_score_<type>_id_XX.csv holds ``file name,score`` rows; AUC and pAUC (scikit-learn's
  roc_auc_score, max_fpr 0.1) are computed per ID;
- R/result.csv holds, per type, a line with the type's name, the header ``id,AUC,pAUC``, one row per
  ID (``00,AUC,pAUC``), an ``Average`` row and an empty line.
Prints the AUC table.

Differences from the original, none of which touches the computation:
- no baseline.yaml: its settings (the feature and fit values above, max_fpr 0.1, 100 epochs) are
  the constants FEATURE and FIT below, and the folders are command-line options;
- the model is saved in the Keras 3 ``.keras`` format instead of ``.hdf5`` (Keras 2.1.6, TensorFlow
  1.15 in the original's requirements);
- keras.utils.set_random_seed(0) before each type's model is built, so that a run repeats (the
  original seeds nothing);
- development mode only (the labels come from the file names; the original's --eval mode is not
  reproduced); machine type folders are D's subfolders, IDs are read from the file names only;
- Keras' fit prints one line per epoch (--verbose 2; the original uses 1, a progress bar); no
  model.summary(), no tqdm progress bars, no baseline.log; one loss figure per type instead of one
  figure redrawn for every type.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL_SOURCE = ROOT / "notebooks" / "original" / "model.py"

# baseline.yaml
FEATURE = {"n_mels": 128, "frames": 5, "n_fft": 1024, "hop_length": 512, "power": 2.0}
FIT = {"epochs": 100, "batch_size": 512, "shuffle": True, "validation_split": 0.1}
COMPILE = {"optimizer": "adam", "loss": "mean_squared_error"}
MAX_FPR = 0.1
RESULT_FILE = "result.csv"
ID_PATTERN = re.compile(r"id_[0-9][0-9]")


# ---------------------------------------------------------------- features (common.py, 00_train.py)

def file_to_vectors(path, n_mels: int = 128, frames: int = 5, n_fft: int = 1024, hop_length: int = 512,
                    power: float = 2.0) -> np.ndarray:
    """One clip's feature vectors as the baseline makes them. [shape=(frames_of_clip - frames + 1, n_mels * frames)]

    Log-mel energy 20/power * log10(mel + eps) of the clip as librosa reads it (native rate, channels
    kept); vector i is frames i..i+frames-1 side by side. A clip shorter than `frames` frames gives
    no vectors.
    """
    import librosa

    signal, rate = librosa.load(path, sr=None, mono=False)
    mel = librosa.feature.melspectrogram(y=signal, sr=rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                                         power=power)
    log_mel = 20.0 / power * np.log10(mel + sys.float_info.epsilon)
    count = log_mel.shape[1] - frames + 1
    if count < 1:
        return np.empty((0, n_mels * frames))
    vectors = np.zeros((count, n_mels * frames))
    for offset in range(frames):
        vectors[:, n_mels * offset: n_mels * (offset + 1)] = log_mel[:, offset: offset + count].T
    return vectors


def list_to_vector_array(paths, n_mels: int = 128, frames: int = 5, n_fft: int = 1024, hop_length: int = 512,
                         power: float = 2.0) -> np.ndarray:
    """Every clip's vectors in one float64 array, filled by a loop over the clips. [shape=(vectors, n_mels * frames)]

    As the baseline: the array is allocated once, sized for len(paths) clips of the first clip's
    vector count (the clips of a DCASE machine type all have one length).
    """
    if not paths:
        raise ValueError("no training clips")
    dataset = None
    for index, path in enumerate(paths):
        vectors = file_to_vectors(path, n_mels=n_mels, frames=frames, n_fft=n_fft, hop_length=hop_length, power=power)
        if dataset is None:
            dataset = np.zeros((len(vectors) * len(paths), n_mels * frames), float)
        dataset[len(vectors) * index: len(vectors) * (index + 1)] = vectors
    return dataset


def clip_score(model, path) -> float:
    """A test clip's anomaly score: the mean over its vectors of each vector's mean squared error (01_test.py)."""
    vectors = file_to_vectors(path, **FEATURE)
    errors = np.mean(np.square(vectors - model.predict(vectors, verbose=0)), axis=1)
    return float(np.mean(errors))


def build_model(input_dim: int):
    """The baseline autoencoder (keras_model.get_model): the `original` solution's model.py, loaded by path."""
    spec = importlib.util.spec_from_file_location("original_solution_model", MODEL_SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_model((input_dim,))


# ---------------------------------------------------------------- the folders

def type_folders(data: Path, types: list[str] | None) -> list[Path]:
    """The machine type folders of a development folder, sorted; `types` keeps those named (each must exist)."""
    folders = sorted(p for p in data.iterdir() if p.is_dir() and not p.name.startswith("."))
    if types is None:
        return folders
    missing = [t for t in types if not (data / t).is_dir()]
    if missing:
        sys.exit(f"no machine type folder {', '.join(missing)} in {data}")
    return [f for f in folders if f.name in types]


def training_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.glob("train/*.wav"))


def machine_ids(folder: Path) -> list[str]:
    """The ``id_XX`` found in the names of the type's test clips, sorted."""
    return sorted({found for p in folder.glob("test/*.wav") for found in ID_PATTERN.findall(p.name)})


def test_files(folder: Path, machine_id: str) -> tuple[list[str], list[int]]:
    """The ID's test clips, normal ones (label 0) then anomalous ones (label 1), each sorted."""
    normal = sorted(str(p) for p in folder.glob(f"test/normal_{machine_id}*.wav"))
    anomaly = sorted(str(p) for p in folder.glob(f"test/anomaly_{machine_id}*.wav"))
    return normal + anomaly, [0] * len(normal) + [1] * len(anomaly)


def save_csv(path: Path, rows) -> None:
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def save_history(loss, val_loss, path: Path) -> None:
    """The loss curves as 00_train.py's visualizer draws them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(30, 10))
    plt.subplots_adjust(wspace=0.3, hspace=0.3)
    ax = figure.add_subplot(1, 1, 1)
    ax.plot(loss)
    ax.plot(val_loss)
    ax.set_title("Model loss")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Loss")
    ax.legend(["Train", "Validation"], loc="upper right")
    figure.savefig(path)
    plt.close(figure)


# ---------------------------------------------------------------- the two scripts

def train(args) -> None:
    """00_train.py."""
    folders = type_folders(args.data, args.types)
    import keras

    args.model_dir.mkdir(parents=True, exist_ok=True)
    for number, folder in enumerate(folders, 1):
        machine_type = folder.name
        print(f"[{number}/{len(folders)}] {machine_type}", flush=True)
        model_path = args.model_dir / f"model_{machine_type}.keras"
        if model_path.exists():
            print(f"  {model_path} exists: skipped", flush=True)
            continue
        files = training_files(folder)
        if not files:
            sys.exit(f"no training clips in {folder / 'train'}")
        started = time.perf_counter()
        data = list_to_vector_array(files, **FEATURE)
        feature_seconds = time.perf_counter() - started
        started = time.perf_counter()
        keras.utils.set_random_seed(0)
        model = build_model(FEATURE["n_mels"] * FEATURE["frames"])
        model.compile(**COMPILE)
        history = model.fit(data, data, **{**FIT, "epochs": args.epochs}, verbose=args.verbose)
        training_seconds = time.perf_counter() - started
        save_history(history.history["loss"], history.history["val_loss"], args.model_dir / f"history_{machine_type}.png")
        model.save(model_path)
        print(f"  {machine_type}: features {feature_seconds:.2f} s ({len(files)} clips, {len(data)} vectors), "
              f"training {training_seconds:.2f} s ({args.epochs} epochs) -> {model_path}", flush=True)


def test(args) -> None:
    """01_test.py, development mode."""
    folders = type_folders(args.data, args.types)
    import keras
    from sklearn import metrics

    args.result_dir.mkdir(parents=True, exist_ok=True)
    lines, table = [], []
    for number, folder in enumerate(folders, 1):
        machine_type = folder.name
        model_path = args.model_dir / f"model_{machine_type}.keras"
        if not model_path.exists():
            sys.exit(f"{machine_type}: no model {model_path}; run train first")
        print(f"[{number}/{len(folders)}] {machine_type}", flush=True)
        started = time.perf_counter()
        model = keras.models.load_model(model_path)
        lines += [[machine_type], ["id", "AUC", "pAUC"]]
        performance, clips = [], 0
        for machine_id in machine_ids(folder):
            files, labels = test_files(folder, machine_id)
            clips += len(files)
            scores, rows = [0.0] * len(files), []
            for index, path in enumerate(files):
                try:
                    scores[index] = clip_score(model, path)
                except Exception as error:  # as the original: a broken clip is reported, scored 0 and not listed
                    print(f"  file broken: {path} ({error})", file=sys.stderr)
                    continue
                rows.append([os.path.basename(path), scores[index]])
            save_csv(args.result_dir / f"anomaly_score_{machine_type}_{machine_id}.csv", rows)
            auc = float(metrics.roc_auc_score(labels, scores))
            p_auc = float(metrics.roc_auc_score(labels, scores, max_fpr=MAX_FPR))
            lines.append([machine_id.split("_", 1)[1], auc, p_auc])
            performance.append([auc, p_auc])
            table.append((machine_type, machine_id, auc, p_auc))
        average = np.mean(np.array(performance, dtype=float), axis=0).tolist()
        lines += [["Average", *average], []]
        table.append((machine_type, "Average", *average))
        print(f"  {machine_type}: {clips} clips scored in {time.perf_counter() - started:.2f} s", flush=True)
    save_csv(args.result_dir / RESULT_FILE, lines)
    print(f"\n{'type':14s} {'id':8s} {'AUC':>7s} {'pAUC':>7s}")
    for machine_type, machine_id, auc, p_auc in table:
        print(f"{machine_type:14s} {machine_id:8s} {auc:7.4f} {p_auc:7.4f}")
    print(f"-> {args.result_dir / RESULT_FILE}")


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    types = {"type": lambda text: [t for t in text.split(",") if t], "default": None,
             "help": "machine types, comma-separated (default: every type folder of --data)"}
    learn = commands.add_parser("train", help="00_train.py: one autoencoder per machine type")
    learn.add_argument("--data", type=Path, required=True, help="development folder: <type>/train/*.wav")
    learn.add_argument("--model-dir", type=Path, required=True, help="where model_<type>.keras and history_<type>.png go")
    learn.add_argument("--epochs", type=int, default=FIT["epochs"], help=f"default: {FIT['epochs']}, as baseline.yaml")
    learn.add_argument("--types", **types)
    learn.add_argument("--verbose", type=int, choices=(0, 1, 2), default=2,
                       help="Keras fit's verbosity (default: 2, a line per epoch; the original: 1)")
    check = commands.add_parser("test", help="01_test.py: anomaly scores, AUC and pAUC per machine ID")
    check.add_argument("--data", type=Path, required=True, help="development folder: <type>/test/*.wav")
    check.add_argument("--model-dir", type=Path, required=True, help="where train saved the models")
    check.add_argument("--result-dir", type=Path, required=True, help="where the score files and result.csv go")
    check.add_argument("--types", **types)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse(argv)
    if not args.data.is_dir():
        sys.exit(f"no folder {args.data}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    {"train": train, "test": test}[args.command](args)


if __name__ == "__main__":
    main()
