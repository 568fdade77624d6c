"""Regression check: rerun the solutions through papermill on a fixed synthetic dataset and
compare their average AUC/pAUC per machine type with the committed table.

The dataset is the `small` synthetic preset with seed 0; training uses each solution's own
seed and EPOCHS epochs. Metrics are read from what the executed 01-test notebooks recorded
(helpers.runner.record_metrics), not from printed text.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers import paths, runner, synth
from helpers.fileio import atomic_write_text

EXPECTED = paths.PROJECT_ROOT / "regression" / "expected.csv"
WORK = paths.CACHE / "regression"
EPOCHS = 10
TOLERANCE = 0.03
COLUMNS = ["solution", "machine_type", "AUC", "pAUC"]


def measure(folders: list[Path], work: Path = WORK, epochs: int = EPOCHS, timeout: float | None = None) -> pd.DataFrame:
    """Run each solution from scratch on the fixed dataset; average AUC/pAUC per type. [columns=COLUMNS]"""
    data = work / "dev_data"
    if not data.is_dir():
        synth.generate(data, size="small", seed=0)
    rows = []
    for folder in folders:
        run_dir = runner.run_solution(folder, data, work / "result", epochs=epochs, retrain=True, timeout=timeout)
        recorded = runner.recorded_metrics(run_dir / "notebooks" / "01-test.ipynb")
        rows += [{"solution": folder.name, "machine_type": r["machine_type"], "AUC": r["AUC"], "pAUC": r["pAUC"]}
                 for r in recorded["rows"] if r["id"] == "mean"]
    return pd.DataFrame(rows, columns=COLUMNS)


def compare(measured: pd.DataFrame, expected: pd.DataFrame, tolerance: float = TOLERANCE) -> list[str]:
    """One line per (solution, type, metric) that moved more than `tolerance`, or has no expected figure."""
    merged = measured.merge(expected, on=["solution", "machine_type"], how="left", suffixes=("", "_expected"))
    problems = []
    for row in merged.itertuples():
        for metric in ("AUC", "pAUC"):
            want, got = getattr(row, f"{metric}_expected"), getattr(row, metric)
            if pd.isna(want):
                problems.append(f"{row.solution} {row.machine_type}: no expected {metric} (run regress --update)")
            elif abs(got - want) > tolerance:
                problems.append(f"{row.solution} {row.machine_type}: {metric} {got:.4f}, expected {want:.4f} "
                                f"± {tolerance} (moved {got - want:+.4f})")
    return problems


def read_expected(path: Path = EXPECTED) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=COLUMNS)


def write_expected(measured: pd.DataFrame, path: Path = EXPECTED) -> Path:
    """Replace the rows of the measured solutions in the expected table, keep the others."""
    kept = read_expected(path)
    kept = kept[~kept["solution"].isin(measured["solution"])]
    table = pd.concat([kept, measured], ignore_index=True).sort_values(["solution", "machine_type"])
    table[["AUC", "pAUC"]] = table[["AUC", "pAUC"]].astype(float)
    return atomic_write_text(path, table.to_csv(index=False, float_format="%.4f"))
