"""Figures and file lists a notebook records in its own output for scripts, and reading them back.

The test notebook records its results table under a MIME type of its own
(:data:`METRICS_MIME`), so that scripts (the regression check, the tests) read the figures the
notebook computed, not its printed text; every notebook records the files it skipped or converted
and its notices (:data:`FILES_MIME`, helpers.skiplog), which the command line reports. Kept apart from helpers.execution.runner so that recording costs
a notebook no import of papermill or nbformat.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

METRICS_MIME = "application/vnd.dcase-metrics+json"
FILES_MIME = "application/vnd.dcase-files+json"


def _json_safe(value):
    """`value` with every nan (an undefined figure, a blank cell) as None: JSON has no nan."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def record_metrics(payload: dict) -> None:
    """Record metrics in the executing notebook's output, under their own MIME type, for scripts
    (undefined figures as null)."""
    from IPython.display import display

    display({METRICS_MIME: _json_safe(json.loads(json.dumps(payload, default=float))),
             "text/plain": "metrics recorded for scripts"}, raw=True)


def record_files(payload: dict) -> None:
    """Record {skipped, converted, notices} (helpers.skiplog.report) in the executing notebook's output."""
    from IPython.display import display

    display({FILES_MIME: payload, "text/plain": "skipped and converted files recorded for scripts"}, raw=True)


def _recorded(path: str | Path, mime: str) -> dict | None:
    """The last output of an executed notebook under `mime`, or None."""
    notebook = json.loads(Path(path).read_text())
    found = None
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if mime in data:
                found = data[mime]
    return found


def recorded_metrics(path: str | Path) -> dict | None:
    """The metrics an executed notebook recorded with :func:`record_metrics` (the last), or None."""
    return _recorded(path, METRICS_MIME)


def recorded_files(path: str | Path) -> dict | None:
    """The files an executed notebook recorded with :func:`record_files`, or None."""
    return _recorded(path, FILES_MIME)
