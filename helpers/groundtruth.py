"""The evaluation set's ground-truth list, in its published DCASE 2020 Task 2 format.

A machine-type line (``fan``), then one ``eval_file_name,original_file_name,label`` row per
test clip of that type (label 0 normal, 1 anomaly); the next machine-type line starts the next
block. It lives beside the eval data as ``eval_data_list.csv``; with it, the unlabelled eval
test clips get their labels and a run gets AUC/pAUC for the evaluation set too.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import pandas as pd

from helpers.errors import ConfigError, DataLayoutError

FILE_NAME = "eval_data_list.csv"
COLUMNS = ["machine_type", "file_name", "original_name", "label"]
FORMAT = "a machine-type line, then rows 'eval_file_name,original_file_name,label' with label 0 or 1"

log = logging.getLogger("helpers")


def read(path: str | Path) -> pd.DataFrame:
    """The list as a table [columns=machine_type, file_name, original_name, label]; DataLayoutError names the line at fault."""
    path = Path(path)
    rows, machine_type = [], None
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # a spreadsheet may add a BOM
            for number, fields in enumerate(csv.reader(handle), start=1):
                fields = [f.strip() for f in fields]
                if not any(fields):
                    continue
                if len(fields) == 1 or not any(fields[1:]):
                    machine_type = fields[0]
                elif machine_type is None:
                    raise DataLayoutError(f"{path}, line {number}: a clip row before any machine-type line; expected {FORMAT}")
                elif len(fields) != 3 or fields[2] not in ("0", "1"):
                    raise DataLayoutError(f"{path}, line {number}: {','.join(fields)!r} is not a clip row; expected {FORMAT}")
                else:
                    rows.append((machine_type, fields[0], fields[1], int(fields[2])))
    except (OSError, UnicodeDecodeError) as err:
        raise DataLayoutError(f"cannot read the ground-truth list {path}: {err}; expected a text file with {FORMAT}") from err
    return pd.DataFrame(rows, columns=COLUMNS)


def find(data_dir: str | Path, explicit: str | Path | None = None) -> Path | None:
    """The ground-truth list to use: `explicit` (which must exist), else <data_dir>/eval_data_list.csv if present."""
    if explicit:
        if not Path(explicit).is_file():
            raise ConfigError(f"ground-truth list {explicit} does not exist; give the path of a file with {FORMAT}, "
                              f"or None to look for {FILE_NAME} in the data folder")
        return Path(explicit)
    default = Path(data_dir) / FILE_NAME
    return default if default.is_file() else None


def attach_labels(scores: pd.DataFrame, truth: pd.DataFrame, machine_type: str, source: str | Path) -> pd.DataFrame:
    """`scores` with the unknown labels of `machine_type`'s clips filled in from the ground truth.

    Clips the list does not name keep an unknown label (scored, but left out of AUC/pAUC), with a warning.
    """
    known = truth[truth["machine_type"] == machine_type].set_index("file_name")["label"]
    unknown = scores["label"].isna()
    labels = scores["label"].where(~unknown, scores["file_name"].map(known))
    missing = int(labels.isna().sum())
    if missing:
        log.warning("%d %s test clip(s) are not in the ground-truth list %s; their scores are written but "
                    "left out of AUC/pAUC", missing, machine_type, source)
    return scores.assign(label=labels.astype("Int64"))
