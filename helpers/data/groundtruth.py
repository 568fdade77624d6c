"""The evaluation set's ground-truth list, in its published formats (DCASE 2020 to 2025).

A machine-type line (``fan``), then one row per test clip of that type; the next machine-type
line starts the next block. 2020 rows are ``eval_file_name,original_file_name,label`` (label 0
normal, 1 anomaly); from 2021 on (the lists the official baseline publishes as
``eval_data_list_<year>.csv``) ``eval_file_name,original_file_name``, the original name carrying
the label, the domain and the attributes (``section_00_target_test_anomaly_0001_vel_12.wav``).
It lives beside the eval data as ``eval_data_list.csv`` (or ``eval_data_list_<year>.csv``); with
it, the unlabelled eval test clips get their labels (and domains) and a run gets the official
figures for the evaluation set too.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import pandas as pd

from helpers.data import layout
from helpers.errors import ConfigError, DataLayoutError

FILE_NAME = "eval_data_list.csv"
COLUMNS = ["machine_type", "file_name", "original_name", "label", "domain", "attributes"]
FORMAT = ("a machine-type line, then rows 'eval_file_name,original_file_name,label' with label 0 or 1 (2020) or "
          "'eval_file_name,original_file_name' with a labelled original name such as "
          "section_00_source_test_normal_0001.wav (2021 on)")


def _row(path: Path, number: int, machine_type: str, fields: list[str]) -> tuple:
    if len(fields) == 3 and fields[2] in ("0", "1"):
        return machine_type, fields[0], fields[1], int(fields[2]), "source", ""
    if len(fields) == 2:
        try:  # by the rule set the name follows (helpers.data.editions.rules_of_name)
            original = layout.parse_clip(Path("test") / fields[1], machine_type, "test")
        except DataLayoutError:
            original = None
        if original is not None and original.label is not None:
            return machine_type, fields[0], fields[1], original.label, original.domain, original.attributes
    raise DataLayoutError(f"{path}, line {number}: {','.join(fields)!r} is not a clip row; expected {FORMAT}")

log = logging.getLogger("helpers")


def read(path: str | Path) -> pd.DataFrame:
    """The list as a table [columns=COLUMNS]; DataLayoutError names the line at fault."""
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
                else:
                    rows.append(_row(path, number, machine_type, fields))
    except (OSError, UnicodeDecodeError) as err:
        raise DataLayoutError(f"cannot read the ground-truth list {path}: {err}; expected a text file with {FORMAT}") from err
    return pd.DataFrame(rows, columns=COLUMNS)


def find(data_dir: str | Path, explicit: str | Path | None = None, year: int | None = None) -> Path | None:
    """The ground-truth list to use: `explicit` (which must exist), else <data_dir>/eval_data_list.csv,
    else <data_dir>/eval_data_list_<year>.csv, if present."""
    if explicit:
        if not Path(explicit).is_file():
            raise ConfigError(f"ground-truth list {explicit} does not exist; give the path of a file with {FORMAT}, "
                              f"or None to look for {FILE_NAME} in the data folder")
        return Path(explicit)
    for default in (Path(data_dir) / FILE_NAME, Path(data_dir) / f"eval_data_list_{year}.csv"):
        if default.is_file():
            return default
    return None


def attach_labels(scores: pd.DataFrame, truth: pd.DataFrame, machine_type: str, source: str | Path) -> pd.DataFrame:
    """`scores` with the unknown labels of `machine_type`'s clips filled in from the ground truth, and
    their domains and attributes where the clip names hide them (2022+ eval names: section_00_0001.wav).

    Clips the list does not name keep an unknown label (scored, but left out of the figures), with a warning.
    """
    known = truth[truth["machine_type"] == machine_type].set_index("file_name")
    unknown = scores["label"].isna()
    labels = scores["label"].where(~unknown, scores["file_name"].map(known["label"]))
    hidden = scores["domain"].isna()
    scores = scores.assign(domain=scores["domain"].where(~hidden, scores["file_name"].map(known["domain"])),
                           attributes=scores["attributes"].where(~hidden, scores["file_name"].map(known["attributes"])))
    missing = int(labels.isna().sum())
    if missing:
        log.warning("%d %s test clip(s) are not in the ground-truth list %s; their scores are written but "
                    "left out of AUC/pAUC", missing, machine_type, source)
    return scores.assign(label=labels.astype("Int64"))
