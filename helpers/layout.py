"""The DCASE 2020 Task 2 data layout: machine types, IDs, file names and labels.

Dev layout:  <root>/<machine_type>/train/normal_id_XX_NNNNNNNN.wav
             <root>/<machine_type>/test/{normal,anomaly}_id_XX_NNNNNNNN.wav
Eval layout: <root>/<machine_type>/test/id_XX_NNNNNNNN.wav (no label),
             <root>/<machine_type>/train/normal_id_XX_NNNNNNNN.wav (additional training data)

Everything is read from the names alone; parsing is strict. A ``.wav`` file whose name does
not follow the pattern is skipped (see :mod:`helpers.skiplog`); other files are ignored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from helpers import skiplog
from helpers.errors import DataLayoutError

SAMPLE_RATE = 16_000
MACHINE_TYPES = ("ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve")
DEV_IDS = {
    "ToyCar": ("01", "02", "03", "04"),
    "ToyConveyor": ("01", "02", "03"),
    "fan": ("00", "02", "04", "06"),
    "pump": ("00", "02", "04", "06"),
    "slider": ("00", "02", "04", "06"),
    "valve": ("00", "02", "04", "06"),
}
EVAL_IDS = {
    "ToyCar": ("05", "06", "07"),
    "ToyConveyor": ("04", "05", "06"),
    "fan": ("01", "03", "05"),
    "pump": ("01", "03", "05"),
    "slider": ("01", "03", "05"),
    "valve": ("01", "03", "05"),
}
CLIP_SECONDS = {"ToyCar": 11.0, "ToyConveyor": 10.0, "fan": 10.0, "pump": 10.0, "slider": 10.0, "valve": 10.0}
SPLITS = ("train", "test")
LABELS = {"normal": 0, "anomaly": 1}

_LABELLED = re.compile(r"^(normal|anomaly)_id_(\d{2})_(\d{8})\.wav$")
_UNLABELLED = re.compile(r"^id_(\d{2})_(\d{8})\.wav$")
ACCEPTED_NAMES = "normal_id_XX_NNNNNNNN.wav, anomaly_id_XX_NNNNNNNN.wav or (eval test) id_XX_NNNNNNNN.wav"


@dataclass(frozen=True, order=True)
class Clip:
    """One audio file of the dataset, described by its name.

    label is 0 (normal), 1 (anomaly) or None (eval test clip, label unknown).
    """

    machine_type: str
    split: str
    machine_id: str
    index: int
    label: int | None
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label_name(self) -> str:
        return {0: "normal", 1: "anomaly", None: "unknown"}[self.label]


def clip_name(machine_id: str, index: int, label: str | None) -> str:
    """The file name for a clip: ``normal_id_00_00000012.wav``, or ``id_01_00000012.wav`` when label is None."""
    stem = f"id_{machine_id}_{index:08d}.wav"
    return stem if label is None else f"{label}_{stem}"


def parse_clip(path: str | Path, machine_type: str, split: str) -> Clip:
    """Describe one file from its name; raise DataLayoutError naming the file if the name is wrong."""
    path = Path(path)
    if split not in SPLITS:
        raise DataLayoutError(f"split must be one of {SPLITS}, got {split!r}")
    match = _LABELLED.match(path.name)
    if match:
        label_word, machine_id, index = match.groups()
        if split == "train" and label_word != "normal":
            raise DataLayoutError(f"{path}: training folders hold normal clips only, found {label_word!r}")
        return Clip(machine_type, split, machine_id, int(index), LABELS[label_word], path)
    match = _UNLABELLED.match(path.name)
    if match and split == "test":
        machine_id, index = match.groups()
        return Clip(machine_type, split, machine_id, int(index), None, path)
    raise DataLayoutError(f"{path}: file name does not follow the DCASE pattern; accepted: {ACCEPTED_NAMES}")


def _check_root(root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DataLayoutError(
            f"data folder {root} does not exist; expected <data>/<machine_type>/train and /test "
            f"(run `python -m helpers synth --out {root}` for synthetic data)"
        )
    return root


def machine_types(root: str | Path) -> list[str]:
    """The machine types under `root`: sub-folders holding a train or test folder, in DCASE order."""
    root = _check_root(root)
    found = [d.name for d in root.iterdir() if d.is_dir() and any((d / s).is_dir() for s in SPLITS)]
    if not found:
        entries = sorted(p.name for p in root.iterdir())[:10]
        raise DataLayoutError(
            f"{root} holds no machine-type folder: expected <machine_type>/train or <machine_type>/test "
            f"inside it (machine types: {', '.join(MACHINE_TYPES)}); found {entries or 'nothing'}"
        )
    order = {t: i for i, t in enumerate(MACHINE_TYPES)}
    return sorted(found, key=lambda t: (order.get(t, len(order)), t))


def list_clips(root: str | Path, machine_type: str, split: str) -> list[Clip]:
    """All well-named clips of one machine type and split, sorted by (ID, label, index).

    Badly named ``.wav`` files are skipped and recorded; non-``.wav`` files are ignored.
    Raises DataLayoutError if the folder is missing, saying which folder was expected.
    """
    folder = _check_root(root) / machine_type / split
    if not folder.is_dir():
        present = sorted(p.name for p in folder.parent.iterdir()) if folder.parent.is_dir() else []
        raise DataLayoutError(
            f"expected folder {folder} (layout <data>/<machine_type>/{{train,test}}); "
            f"found in {folder.parent}: {present or 'nothing'}"
        )
    clips = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".wav" or not path.is_file():
            continue
        try:
            clips.append(parse_clip(path, machine_type, split))
        except DataLayoutError as err:
            skiplog.skip(path, str(err).split(": ", 1)[-1])
    return sorted(clips, key=lambda c: (c.machine_id, -1 if c.label is None else c.label, c.index))


def type_list(machine_types) -> list[str] | None:
    """Machine types given as a list or as comma-separated text ("fan, valve"), as a list; None for none given."""
    if machine_types in (None, "", []):
        return None
    if isinstance(machine_types, str):
        return [t.strip() for t in machine_types.split(",")]
    return list(machine_types)


def machine_ids(clips: list[Clip]) -> list[str]:
    """The sorted distinct machine IDs among `clips`."""
    return sorted({c.machine_id for c in clips})
