"""Shared fixtures: small WAV writers and one tiny synthetic dataset per test session."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import skiplog

REAL_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "real_samples"


def write_wav(path: Path, seconds: float = 1.0, sample_rate: int = 16_000, channels: int = 1, seed: int = 0) -> Path:
    """Write a quiet noise clip [shape=(samples, channels)] as 16-bit PCM."""
    rng = np.random.default_rng(seed)
    data = 0.05 * rng.standard_normal((int(seconds * sample_rate), channels))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sample_rate, subtype="PCM_16")
    return path


@pytest.fixture(autouse=True)
def _fresh_skip_log():
    skiplog.reset()
    yield
    skiplog.reset()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """The tiny synthetic preset (all six machine types), made once per session."""
    from helpers import synth

    root = tmp_path_factory.mktemp("tiny") / "dev_data"
    synth.generate(root, size="tiny", seed=0, progress=False)
    return root
