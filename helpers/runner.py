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
