"""Result files in the original baseline's formats, written atomically.

- ``anomaly_score_<machine_type>_id_XX.csv``: ``file_name,score`` per test clip, no header.
- ``result.csv``: per machine type a line with its name, ``id,AUC,pAUC``, a row per ID, an
  ``Average`` row (arithmetic mean), then an empty line.
- ``metrics.json``: the same figures plus harmonic means and clip counts, for scripts.
Every file is written whole or not at all (helpers.fileio).
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pandas as pd

from helpers.errors import ToolkitError
from helpers.fileio import atomic_write_text
from helpers.metrics import means


def score_file_name(machine_type: str, section: str) -> str:
    return f"anomaly_score_{machine_type}_id_{section}.csv"


def write_scores(result_dir: str | Path, machine_type: str, section: str, file_names, scores) -> Path:
    """Write one ID's ``anomaly_score_<type>_id_XX.csv`` (no header)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for name, score in zip(file_names, scores):
        writer.writerow([name, repr(float(score))])
    return atomic_write_text(Path(result_dir) / score_file_name(machine_type, section), buffer.getvalue())


def read_scores(path: str | Path) -> pd.DataFrame:
    """An anomaly-score file as a DataFrame with columns file_name, score."""
    return pd.read_csv(path, header=None, names=["file_name", "score"], dtype={"file_name": str})


def _format(value: float) -> str:
    return "nan" if math.isnan(value) else repr(float(value))


def write_result_csv(path: str | Path, tables: dict[str, pd.DataFrame]) -> Path:
    """Write ``result.csv`` from {machine_type: per-ID table with columns id, AUC, pAUC}."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for machine_type, table in tables.items():
        writer.writerow([machine_type])
        writer.writerow(["id", "AUC", "pAUC"])
        for row in table.itertuples():
            writer.writerow([row.id, _format(row.AUC), _format(row.pAUC)])
        average = means(table)
        writer.writerow(["Average", _format(average["AUC_mean"]), _format(average["pAUC_mean"])])
        writer.writerow([])
    return atomic_write_text(path, buffer.getvalue())


def read_result_csv(path: str | Path) -> pd.DataFrame:
    """A ``result.csv`` as rows (machine_type, id, AUC, pAUC), the Average rows included (id 'Average')."""
    rows, machine_type = [], None
    with open(path, newline="") as handle:
        for line in csv.reader(handle):
            if not line:
                machine_type = None
            elif machine_type is None:
                machine_type = line[0]
            elif line[0] != "id":
                rows.append({"machine_type": machine_type, "id": line[0],
                             "AUC": float(line[1]), "pAUC": float(line[2])})
    return pd.DataFrame(rows, columns=["machine_type", "id", "AUC", "pAUC"])


def write_metrics_json(path: str | Path, tables: dict[str, pd.DataFrame], extra: dict | None = None) -> Path:
    """Machine-readable metrics: per type, per-ID rows and the arithmetic and harmonic means."""
    payload = {"machine_types": {}, **(extra or {})}
    for machine_type, table in tables.items():
        payload["machine_types"][machine_type] = {
            "ids": table.to_dict(orient="records"),  # full precision (to_json rounds to 10 digits)
            **means(table),
        }
    return atomic_write_text(path, json.dumps(payload, indent=2, allow_nan=True))


def read_scores_table(result_dir: str | Path) -> pd.DataFrame:
    """The last test run's clip scores (scores.csv) [columns=machine_type, section, file_name, label, score, path]."""
    path = Path(result_dir) / "scores.csv"
    if not path.is_file():
        raise ToolkitError(f"no scores at {path}; run the solution's 01-test notebook first")
    return pd.read_csv(path, dtype={"section": str})


def collect_results(result_root: str | Path) -> pd.DataFrame:
    """Every run's result.csv under `result_root`, stacked. [columns=solution, machine_type, id, AUC, pAUC]"""
    frames = [read_result_csv(path).assign(solution=path.parent.name)
              for path in sorted(Path(result_root).glob("*/result.csv"))]
    if not frames:
        raise ToolkitError(f"no result.csv under {result_root}/*/; run a solution's 01-test notebook first")
    return pd.concat(frames, ignore_index=True)[["solution", "machine_type", "id", "AUC", "pAUC"]]
