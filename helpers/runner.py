"""Executing notebooks headless with papermill.

Every parameter passed must exist in the notebook's ``parameters`` cell: a misspelt name is an
error, not a silently ignored value.
"""
from __future__ import annotations

import json
from pathlib import Path

import papermill

from helpers.errors import ConfigError
from helpers.fileio import atomic_path


def notebook_parameters(path: str | Path) -> dict:
    """The names declared in the notebook's ``parameters`` cell, with their default values as text."""
    return {name: spec["default"] for name, spec in papermill.inspect_notebook(str(path)).items()}


def check_parameters(path: str | Path, parameters: dict) -> None:
    """Raise ConfigError naming each passed parameter that the notebook does not declare."""
    declared = notebook_parameters(path)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ConfigError(f"{path}: unknown parameter(s) {unknown}; the notebook accepts {sorted(declared)}")


def execute_notebook(source: str | Path, output: str | Path, parameters: dict | None = None,
                     timeout: float | None = None, progress: bool = False) -> Path:
    """Run `source` with `parameters`, in its own folder, and save the executed copy to `output`.

    `timeout` is the limit in seconds for each cell. The executed copy is written whole (also
    when a cell fails, so the error can be read in it) and papermill's error is re-raised.
    """
    source, output = Path(source), Path(output)
    parameters = dict(parameters or {})
    check_parameters(source, parameters)
    with atomic_path(output) as tmp:
        try:
            papermill.execute_notebook(
                str(source), str(tmp), parameters=json.loads(json.dumps(parameters, default=str)),
                cwd=str(source.parent), execution_timeout=timeout, progress_bar=progress,
                kernel_name="python3",
            )
        except papermill.PapermillExecutionError:
            # keep the executed copy with its traceback beside the would-be output
            tmp.replace(output.with_name(output.stem + ".failed.ipynb"))
            raise
    return output


METRICS_MIME = "application/vnd.dcase-metrics+json"


def record_metrics(payload: dict) -> None:
    """Record metrics in the executing notebook's output, under their own MIME type, for scripts."""
    from IPython.display import display

    display({METRICS_MIME: json.loads(json.dumps(payload, default=float)),
             "text/plain": "metrics recorded for scripts"}, raw=True)


def recorded_metrics(path: str | Path) -> dict | None:
    """The metrics an executed notebook recorded with :func:`record_metrics` (the last), or None."""
    notebook = json.loads(Path(path).read_text())
    found = None
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if METRICS_MIME in data:
                found = data[METRICS_MIME]
    return found


SOLUTION_NOTEBOOKS = ("00-train-with-visual.ipynb", "01-test.ipynb", "02-visualize-predictions.ipynb")


def run_solution(folder: str | Path, data_dir: str | Path, result_root: str | Path, machine_types=None,
                 epochs: int | None = None, retrain: bool = False, timeout: float | None = None,
                 extra: dict | None = None, run_name: str | None = None, eval_data: str | Path | None = None,
                 ground_truth: str | Path | None = None) -> Path:
    """Execute one solution's three notebooks; the executed copies go to <result_root>/<run>/notebooks/.

    Returns the run's result folder. `extra` adds solution-specific parameters (e.g. KL_WEIGHT),
    passed to the notebooks that declare them. Eval mode (`eval_data`, the eval data root): the
    model trains on `data_dir`'s and `eval_data`'s training clips, the test and visualisation
    notebooks score `eval_data`'s test clips (labelled by `ground_truth` when there is one), and
    the run is named <solution>-eval unless `run_name` says otherwise.
    """
    folder = Path(folder).resolve()
    run = run_name or (f"{folder.name}-eval" if eval_data else folder.name)
    common = {"DATA_DIR": str(Path(data_dir).resolve()), "RESULT_ROOT": str(Path(result_root).resolve()),
              "RUN_NAME": run, "MACHINE_TYPES": machine_types, **(extra or {})}
    for name in SOLUTION_NOTEBOOKS:
        source = folder / name
        declared = notebook_parameters(source)
        parameters = {k: v for k, v in common.items() if v is not None and k in declared}
        if name.startswith("00"):
            parameters.update({k: v for k, v in (("EPOCHS", epochs), ("RETRAIN", retrain)) if v is not None})
        if eval_data and name.startswith("00"):
            parameters["ADDITIONAL_TRAIN_DIR"] = str(Path(eval_data).resolve())
        elif eval_data:
            parameters["DATA_DIR"] = str(Path(eval_data).resolve())
            if ground_truth and "GROUND_TRUTH" in declared:
                parameters["GROUND_TRUTH"] = str(Path(ground_truth).resolve())
        unknown = sorted(k for k in (extra or {}) if k not in declared and name.startswith("00"))
        if unknown:
            raise ConfigError(f"{source}: unknown parameter(s) {unknown}; the notebook accepts {sorted(declared)}")
        print(f"running {folder.name}/{name} as {run} ...", flush=True)
        execute_notebook(source, Path(result_root) / run / "notebooks" / name, parameters, timeout)
    return Path(result_root) / run


def run_comparison(result_root: str | Path, notebooks: Path, timeout: float | None = None) -> Path:
    """Execute compare-solutions.ipynb over `result_root`; the executed copy goes beside the runs."""
    return execute_notebook(Path(notebooks) / "compare-solutions.ipynb", Path(result_root) / "compare-solutions.ipynb",
                            {"RESULT_ROOT": str(Path(result_root).resolve())}, timeout)
