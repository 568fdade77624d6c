"""A smoke run of benchmarks/baseline_vs_toolkit.py: tiny synthetic data, one epoch, every way, every figure.

Timings are not compared (machines are noisy); the run only has to finish and print well-formed figures.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from helpers import paths
from helpers.data import synth

# about a minute of CPU, for a developer's script that `make benchmark` runs in full: `make test-all`
pytestmark = pytest.mark.slow

SCRIPT = paths.PROJECT_ROOT / "benchmarks" / "baseline_vs_toolkit.py"
ROWS = ["feature extraction, cold [s]", "feature extraction, warm cache [s]", "training per epoch [s]",
        "test scoring [s]", "peak memory [GB]", "AUC"]
LABEL_WIDTH = 38  # the table's first column


def repository_entries() -> set[str]:
    """The entries of the repository's top folder, its .cache and .cache/benchmark: where a stray run writes."""
    folders = (paths.PROJECT_ROOT, paths.DEFAULT_CACHE, paths.DEFAULT_CACHE / "benchmark")
    return {p.relative_to(paths.PROJECT_ROOT).as_posix() for f in folders if f.is_dir() for p in f.iterdir()}


def table(out: str) -> dict[str, list[str]]:
    """The figure rows of the printed table: {figure: [baseline, keras, ratio, torch, ratio]}."""
    rows = {}
    for line in out.splitlines():
        label = line[:LABEL_WIDTH].strip()
        if label in ROWS:
            rows[label] = line[LABEL_WIDTH:].split()
    return rows


def number(text: str, label: str) -> float:
    """A printed figure of row `label` as a finite float (the AUC row's "ratios" are differences: Δ0.01)."""
    try:
        value = float(text.removeprefix("Δ"))
    except ValueError:
        pytest.fail(f"{label}: {text!r} is not a number")
    assert math.isfinite(value), f"{label}: {text}"
    return value


def test_benchmark_runs_every_way_on_tiny_data_and_prints_every_figure(tmp_path):
    before = repository_entries()
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--type", "fan", "--size", "tiny", "--epochs", "1", "--work", str(tmp_path / "work"),
         "--report", str(tmp_path / "report")],
        cwd=tmp_path, env={**os.environ, "TMPDIR": str(temporary)}, capture_output=True, text=True, timeout=600)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-3000:]
    fan = synth.PRESETS["tiny"]["fan"].values()
    train, test = sum(c.train for c in fan), sum(c.test_normal + c.test_anomaly for c in fan)
    assert f"data: fan, {train} training and {test} test clips (tiny preset); 1 epochs" in out
    rows = table(out)
    assert list(rows) == ROWS, out
    for label, (baseline, keras, keras_ratio, torch, torch_ratio) in rows.items():
        if label == "AUC":
            assert all(0 <= number(auc, label) <= 1 for auc in (baseline, keras, torch)), out
            assert all(d.startswith("Δ") and -1 <= number(d, label) <= 1 for d in (keras_ratio, torch_ratio)), out
            continue
        figures = [keras, keras_ratio, torch, torch_ratio]
        if label == "feature extraction, warm cache [s]":
            assert baseline == "—", out  # the baseline has no cache; the ratios are to its cold figure
        else:
            figures.append(baseline)
        assert all(number(figure, label) > 0 for figure in figures), f"{label}: {figures}\n{out}"
    assert "Lightning overhead:" in out and "warm cache: feature stage" in out
    page = (tmp_path / "report" / "stages.md").read_text()
    assert page.startswith("# Stage by stage") and "**Machine:** " in page and "python benchmarks/baseline_vs_toolkit.py" in page
    assert "| figure | baseline | keras | ratio | torch | ratio |" in page and "![" in page and "](stages.png)" in page
    assert all(f"| {label} |" in page for label in ROWS)
    assert (tmp_path / "report" / "stages.png").read_bytes()[:4] == b"\x89PNG"
    assert repository_entries() == before
    assert sorted(p.name for p in (tmp_path / "work" / "tiny-fan" / "fan").iterdir()) == ["test", "train"]
    left = [p.name for p in temporary.iterdir() if not p.name.startswith("torchinductor")]  # torch's own cache
    assert left == [], "the children's feature caches were left behind"
