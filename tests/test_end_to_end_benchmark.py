"""A smoke run of benchmarks/end_to_end.py: tiny data, one type, one epoch, both ways, every figure.

Timings are not compared (machines are noisy): the run has to finish and print well-formed
figures, and the per-stage breakdown has to add up to each notebook's time. The baseline's way is
the re-implemented original scripts (benchmarks/original_baseline.py): their files are checked too.
"""
from __future__ import annotations

import csv
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from helpers import paths
from helpers.data import synth

# about a minute of CPU (TensorFlow's scripts and the toolkit's four notebooks), for developers' scripts
# that `make benchmark` runs in full: `make test-all`
pytestmark = pytest.mark.slow

SCRIPT = paths.PROJECT_ROOT / "benchmarks" / "end_to_end.py"


def test_end_to_end_benchmark_prints_both_ways_and_the_breakdown(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--size", "tiny", "--types", "fan", "--epochs", "1",
                           "--work", str(tmp_path), "--report", str(tmp_path / "report"), "--keep", str(tmp_path / "runs")],
                          cwd=paths.PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    out = done.stdout
    for label in ("whole command [s]", "peak memory, process tree [GB]", "mean AUC over types"):
        row = next(line for line in out.splitlines() if line.startswith(label))
        baseline, toolkit, ratio = (float(v) for v in row[len(label):].split())
        assert math.isfinite(baseline) and math.isfinite(toolkit) and baseline > 0 and toolkit > 0
        if label != "mean AUC over types":
            assert ratio == round(toolkit / baseline, 2) or abs(ratio - toolkit / baseline) < 0.006
    assert re.search(r"baseline: train script \d+\.\d s, test script \d+\.\d s", out)
    table = out.split("toolkit per notebook")[1].split("\nwrote ")[0].splitlines()[1:]
    header = table[0].split()
    assert header == ["notebook", "00-train-with-visual.ipynb", "01-test.ipynb", "02-visualize-predictions.ipynb",
                      "compare-solutions.ipynb"]
    rows = {line.split("  ")[0].strip(): [float(v) for v in line.split()[-4:]] for line in table[2:] if line.strip()}
    assert {"training loop", "features and fitting", "kernel start and shutdown", "imports", "scoring", "figures",
            "total"} <= set(rows)
    stages = [values for stage, values in rows.items() if stage != "total"]
    for i, total in enumerate(rows["total"]):  # every printed figure is rounded to 0.1 s: at most 0.05 off
        assert abs(sum(values[i] for values in stages) - total) <= 0.05 * (len(stages) + 1) + 1e-9
    page = (tmp_path / "report" / "end-to-end.md").read_text()
    assert page.startswith("# End to end") and "**Machine:** " in page and "python benchmarks/end_to_end.py" in page
    assert "| figure | baseline's scripts | pytorch | ratio |" in page and "| whole command [s] |" in page
    assert "| training loop |" in page and "](end-to-end.png)" in page
    assert (tmp_path / "report" / "end-to-end.png").read_bytes()[:4] == b"\x89PNG"
    check_baseline_files(tmp_path / "data-tiny", tmp_path / "runs" / "baseline")


def check_baseline_files(data, out):
    """The re-implemented DCASE 2020 baseline scripts (benchmarks/original_baseline.py) wrote what the
    original ones write: the model and its loss figure, a score file per ID with every test clip of
    the ID once, normal ones first, and result.csv with each ID's AUC and pAUC and their average."""
    models, results = out / "model", out / "result"
    assert sorted(p.name for p in models.iterdir()) == ["history_fan.png", "model_fan.keras"]
    ids = sorted(synth.PRESETS["tiny"]["fan"])
    assert sorted(p.name for p in results.iterdir()) == sorted([f"anomaly_score_fan_id_{i}.csv" for i in ids] + ["result.csv"])
    for machine_id in ids:
        with open(results / f"anomaly_score_fan_id_{machine_id}.csv", newline="") as handle:
            scores = list(csv.reader(handle))
        test = data / "fan" / "test"
        clips = [sorted(p.name for p in test.glob(f"{label}_id_{machine_id}_*.wav")) for label in ("normal", "anomaly")]
        assert all(clips) and [name for name, _ in scores] == clips[0] + clips[1]
        assert all(math.isfinite(float(score)) for _, score in scores)
    with open(results / "result.csv", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[:2] == [["fan"], ["id", "AUC", "pAUC"]] and lines[-1] == []  # an empty line closes each type
    assert [line[0] for line in lines[2:-1]] == ids + ["Average"]
    figures = np.array([[float(x) for x in line[1:]] for line in lines[2:-1]])
    assert figures.shape == (len(ids) + 1, 2) and np.all((figures >= 0) & (figures <= 1))
    assert np.allclose(figures[-1], figures[:-1].mean(axis=0))
