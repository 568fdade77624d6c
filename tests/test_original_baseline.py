"""benchmarks/original_baseline.py, the re-implemented DCASE 2020 baseline scripts: a smoke run of
train then test on tiny synthetic data, and its feature stacking on hand-made clips."""
from __future__ import annotations

import csv
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import paths
from helpers.data import synth
from tests.conftest import write_wav

SCRIPT = paths.PROJECT_ROOT / "benchmarks" / "original_baseline.py"


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=paths.PROJECT_ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return done.stdout


def rows(path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def original_module():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import original_baseline

        yield original_baseline
    finally:
        sys.path.remove(str(SCRIPT.parent))


def test_train_then_test_write_the_original_scripts_files(tmp_path):
    data, models, results = tmp_path / "dev_data", tmp_path / "model", tmp_path / "result"
    synth.generate(data, size="tiny", types=["fan"], workers=1, progress=False)
    ids = sorted(synth.PRESETS["tiny"]["fan"])

    out = run("train", "--data", str(data), "--model-dir", str(models), "--epochs", "1")
    assert (models / "model_fan.keras").is_file() and (models / "history_fan.png").is_file()
    assert sorted(p.name for p in models.iterdir()) == ["history_fan.png", "model_fan.keras"]
    assert "fan: features" in out and "training" in out, out

    out = run("test", "--data", str(data), "--model-dir", str(models), "--result-dir", str(results), "--types", "fan")
    assert sorted(p.name for p in results.iterdir()) == sorted(
        [f"anomaly_score_fan_id_{i}.csv" for i in ids] + ["result.csv"])
    for machine_id in ids:
        scores = rows(results / f"anomaly_score_fan_id_{machine_id}.csv")
        test = data / "fan" / "test"
        clips = [sorted(p.name for p in test.glob(f"{label}_id_{machine_id}_*.wav")) for label in ("normal", "anomaly")]
        assert all(clips)
        assert [name for name, _ in scores] == clips[0] + clips[1]  # every clip of the ID once, normal ones first
        assert all(math.isfinite(float(score)) for _, score in scores)

    lines = rows(results / "result.csv")
    assert lines[:2] == [["fan"], ["id", "AUC", "pAUC"]] and lines[-1] == []  # an empty line closes each type
    assert [line[0] for line in lines[2:-1]] == ids + ["Average"]
    figures = np.array([[float(x) for x in line[1:]] for line in lines[2:-1]])
    assert figures.shape == (len(ids) + 1, 2) and np.all((figures >= 0) & (figures <= 1))
    assert np.allclose(figures[-1], figures[:-1].mean(axis=0))
    assert "Average" in out and "AUC" in out, out


def test_features_are_the_baselines_vectors_stacked_per_clip(tmp_path, original_module):
    clips = [str(write_wav(tmp_path / f"clip_{i}.wav", seconds=0.5, seed=i)) for i in range(2)]
    single = [original_module.file_to_vectors(c) for c in clips]
    frames = 1 + int(0.5 * 16_000) // 512  # librosa's centred frames
    assert all(v.shape == (frames - 4, 640) and v.dtype == np.float64 for v in single)
    assert np.array_equal(single[0][1, :512], single[0][0, 128:])  # vector i+1 is vector i moved by one frame
    assert np.array_equal(original_module.list_to_vector_array(clips), np.concatenate(single))
    short = str(write_wav(tmp_path / "short.wav", seconds=0.1))  # 4 frames: too short for one vector
    assert original_module.file_to_vectors(short).shape == (0, 640)
