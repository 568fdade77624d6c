"""Regression check: rerun the solutions through papermill on a fixed synthetic dataset and
compare their average AUC/pAUC with what several training seeds gave.

Training is chaotic: a change of seed, of thread count or of CPU (other rounding in the last
bits) moves a figure by about as much as the others do. So the committed table does not hold
one figure per solution and type but the spread over several training seeds, and a rerun passes
where that spread says a rerun can fall:

    |rerun - mean| <= K * sqrt(1 + 1/n) * max(sd, pooled sd)

with n the seeds (a seed's runs on other cores are not new draws of its randomness), sd the
standard deviation of this figure's runs, and the pooled sd the median sd of
the solution's per-type figures (or of its two all-types figures), which keeps a figure whose few
runs happened to agree from getting a needle-thin range. The median, not a mean of variances:
a figure of a training that has not settled by EPOCHS (the dense autoencoder's valve lands
anywhere from 0.19 to 0.72 AUC, by the last bits of its arithmetic) keeps its own wide range
without widening every other figure's. K = 4: under a normal spread a rerun falls outside by
chance about once in ten thousand figures. No sd is taken below MIN_SD, a tie's swap. Besides the six machine types, each solution has an
"all types" row (the mean over types), whose spread is narrower, so a small bug that shifts every
type a little fails there; its sd is at least the per-type pooled sd over sqrt(number of types),
the spread of a mean of independent figures.

The dataset is the `small` synthetic preset with seed 0; the training notebook runs with each
seed (its SEED parameter) and EPOCHS epochs, then the test notebook (the notebooks with the roles
train and test). Metrics are read from what the executed test notebooks recorded
(helpers.recording.record_metrics), not from printed text.

A spread is measured where figures vary: over seeds and over the cores the kernels may use (1 and
2: a training's thread count changes the order its sums are taken in, as another CPU does), in
the precision the solution's config resolves to. The table records how and where: each figure's
seeds, cores and values side by side, the precision, and the CPU (helpers.machine.cpu_name).
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import machine, paths, recording, threads
from helpers.data import cache, synth
from helpers.detectors import config
from helpers.execution import notebooks, runner
from helpers.errors import ToolkitError
from helpers.fileio import atomic_write_text

EXPECTED = paths.PROJECT_ROOT / "regression" / "expected.csv"
EPOCHS = 10
SEEDS = (0, 1, 2)
# The smallest spread a figure is given: one normal-anomaly pair of one small-preset ID (25 normal and
# 25 anomalous test clips) swapping places moves its AUC by 1/625. A figure that every seed and core
# count reproduces exactly (a frozen network's: no seed draws anything) may still swap a near tie on
# another CPU.
MIN_SD = 1 / (25 * 25)
K = 4.0
ALL_TYPES = "all types"
METRICS = ("AUC", "pAUC")
CORES = (1, 2)  # the cores a spread is measured on (--update)
MEASURED_COLUMNS = ["solution", "machine_type", "seed", "cores", "AUC", "pAUC"]
EXPECTED_COLUMNS = ["solution", "machine_type", "metric", "seeds", "cores", "values", "mean", "sd", "precision", "cpu"]
CHECKED_ROLES = ("train", "test")  # the notebooks run (helpers.execution.notebooks roles); the figures need no visualisation


def precision_of(folder: Path) -> str:
    """The precision a solution trains in as its config.yaml resolves it (Keras solutions: float32)."""
    settings = config.load(Path(folder) / "config.yaml")
    if settings["framework"] != "torch":
        return "float32"
    from helpers.detectors.torch_training import resolved_precision

    return str(resolved_precision(settings["trainer"]))


def measure(folders: list[Path], seeds=(SEEDS[0],), work: Path | None = None, epochs: int = EPOCHS,
            timeout: float | None = None, idle_timeout: float | None = runner.IDLE_TIMEOUT,
            cores=(None,)) -> pd.DataFrame:
    """Train each solution from scratch with each seed on the fixed dataset, on each number of
    `cores` (None: as many as this process may use, helpers.threads.cores), and test it.

    `work` holds the dataset and the runs (default: the cache's regression work folder); the
    dataset is made, or checked to be the current generator's, first.
    Average AUC/pAUC per machine type, seed and cores, plus the "all types" mean. [columns=MEASURED_COLUMNS]
    """
    work = cache.work_folder("regression") if work is None else Path(work)
    data = work / "dev_data"
    synth.generate(data, size="small", seed=0, progress=False)  # keeps the clips when the generator is the same
    rows = []
    for folder in folders:
        for share in cores:
            for seed in seeds:
                with threads.sharing(share) if share else contextlib.nullcontext():
                    used = threads.cores()
                    run_dir = runner.run_solution(folder, data, work / "result", epochs=epochs, retrain=True,
                                                  timeout=timeout, idle_timeout=idle_timeout, extra={"SEED": seed},
                                                  run_name=f"{folder.name}-seed{seed}-cores{used}", roles=CHECKED_ROLES)
                recorded = recording.recorded_metrics(notebooks.by_role(run_dir / "notebooks")["test"])
                per_type = [{"solution": folder.name, "machine_type": r["machine_type"], "seed": seed, "cores": used,
                             "AUC": r["AUC"], "pAUC": r["pAUC"]}
                            for r in recorded["rows"] if r["section"] == "arithmetic mean"]
                rows += per_type + [{"solution": folder.name, "machine_type": ALL_TYPES, "seed": seed, "cores": used,
                                     **{m: float(np.mean([r[m] for r in per_type])) for m in METRICS}}]
    return pd.DataFrame(rows, columns=MEASURED_COLUMNS)


def spread(measured: pd.DataFrame, precisions: dict[str, str] | None = None, cpu: str | None = None) -> pd.DataFrame:
    """Per solution, type and metric: the runs (seeds and cores), their figures, mean and sd, with
    the precision of each solution (`precisions`, {solution: precision}) and the `cpu` they ran on
    (default: this one). [columns=EXPECTED_COLUMNS]"""
    rows, cpu = [], cpu or machine.cpu_name()
    for (sol, machine_type), group in measured.groupby(["solution", "machine_type"], sort=True):
        group = group.sort_values(["cores", "seed"])
        for metric in METRICS:
            values = group[metric].to_numpy(float)
            rows.append({"solution": sol, "machine_type": machine_type, "metric": metric,
                         "seeds": " ".join(str(s) for s in group["seed"]),
                         "cores": " ".join(str(c) for c in group["cores"]),
                         "values": " ".join(f"{v:.4f}" for v in values), "mean": values.mean(),
                         "sd": values.std(ddof=1) if len(values) > 1 else np.nan,
                         "precision": (precisions or {}).get(sol, ""), "cpu": cpu})
    return pd.DataFrame(rows, columns=EXPECTED_COLUMNS)


def allowed_ranges(expected: pd.DataFrame) -> pd.DataFrame:
    """`expected` with the columns `low` and `high`: where a rerun of each figure may fall (module docstring)."""
    table = expected.copy()
    n = table["seeds"].str.split().map(lambda seeds: len(set(seeds)))  # a seed's runs on other cores are no new draws
    if (n < 2).any():
        short = table.loc[n < 2, ["solution", "machine_type", "metric"]].to_string(index=False)
        raise ToolkitError(f"{EXPECTED}: a spread needs at least two seeds per figure; rows with fewer:\n{short}")
    overall = table["machine_type"] == ALL_TYPES
    pooled = table["sd"].groupby([table["solution"], overall]).transform("median")
    # the mean over types spreads at least as a mean of independent figures with the per-type spread
    types = (~overall).groupby(table["solution"]).transform("sum") / len(METRICS)
    per_type = table["sd"].where(~overall).groupby(table["solution"]).transform("median") / np.sqrt(types)
    sd = np.maximum(np.maximum(table["sd"], pooled), MIN_SD)
    sd = sd.where(~overall, np.maximum(sd, per_type))
    half = K * np.sqrt(1 + 1 / n) * sd
    return table.assign(low=table["mean"] - half, high=table["mean"] + half)


def compare(measured: pd.DataFrame, expected: pd.DataFrame) -> list[str]:
    """One line per measured figure outside its allowed range, or without an expected spread."""
    ranges = allowed_ranges(expected).set_index(["solution", "machine_type", "metric"])
    problems = []
    for row in measured.itertuples():
        for metric in METRICS:
            got, key = getattr(row, metric), (row.solution, row.machine_type, metric)
            where = f"{row.solution} {row.machine_type} {metric} (seed {row.seed}, {row.cores} core(s))"
            if key not in ranges.index:
                problems.append(f"{where}: no expected spread (run regress --update)")
                continue
            want = ranges.loc[key]
            if not want["low"] <= got <= want["high"]:
                problems.append(f"{where}: {got:.4f}, expected {want['low']:.4f} to {want['high']:.4f} "
                                f"(seeds {want['seeds']} on cores {want['cores']}: {want['values']}; mean "
                                f"{want['mean']:.4f}, moved {got - want['mean']:+.4f}; measured in {want['precision']} "
                                f"on {want['cpu']})")
    return problems


def read_expected(path: Path = EXPECTED) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=EXPECTED_COLUMNS)
    table = pd.read_csv(path, dtype={"seeds": str, "cores": str, "values": str, "precision": str, "cpu": str})
    missing = sorted(set(EXPECTED_COLUMNS) - set(table.columns))
    if missing:
        raise ToolkitError(f"{path}: missing column(s) {missing}; expected {EXPECTED_COLUMNS} "
                           f"(rewrite it with `python -m helpers regress --update`)")
    return table[EXPECTED_COLUMNS]


def write_expected(measured: pd.DataFrame, precisions: dict[str, str], path: Path = EXPECTED) -> Path:
    """Replace the rows of the measured solutions by their spread (see :func:`spread`) in the
    expected table, keep the others."""
    kept = read_expected(path)
    kept = kept[~kept["solution"].isin(measured["solution"])]
    table = (pd.concat([kept, spread(measured, precisions)], ignore_index=True)
             .sort_values(["solution", "machine_type", "metric"]))
    table[["mean", "sd"]] = table[["mean", "sd"]].astype(float)
    return atomic_write_text(path, table.to_csv(index=False, float_format="%.4f"))
