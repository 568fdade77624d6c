"""benchmarks/original_baseline.py, the re-implemented DCASE 2020 baseline scripts: their feature
stacking on hand-made clips (the files a train-then-test run writes are checked by the end-to-end
benchmark's smoke run, tests/test_end_to_end_benchmark.py, which runs them)."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from helpers import paths
from tests.conftest import write_wav

SCRIPT = paths.PROJECT_ROOT / "benchmarks" / "original_baseline.py"


@pytest.fixture(scope="module")
def original_module():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import original_baseline

        yield original_baseline
    finally:
        sys.path.remove(str(SCRIPT.parent))


def test_features_are_the_baselines_vectors_stacked_per_clip(tmp_path, original_module):
    clips = [str(write_wav(tmp_path / f"clip_{i}.wav", seconds=0.5, seed=i)) for i in range(2)]
    single = [original_module.file_to_vectors(c) for c in clips]
    frames = 1 + int(0.5 * 16_000) // 512  # librosa's centred frames
    assert all(v.shape == (frames - 4, 640) and v.dtype == np.float64 for v in single)
    assert np.array_equal(single[0][1, :512], single[0][0, 128:])  # vector i+1 is vector i moved by one frame
    assert np.array_equal(original_module.list_to_vector_array(clips), np.concatenate(single))
    short = str(write_wav(tmp_path / "short.wav", seconds=0.1))  # 4 frames: too short for one vector
    assert original_module.file_to_vectors(short).shape == (0, 640)
