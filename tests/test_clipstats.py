from pathlib import Path

import numpy as np
import pytest

from helpers.data import clipstats

REAL_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "real_samples"
RATE = 16_000


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with power falling 3 dB per octave. [shape=(n,)]"""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n, 1 / RATE), 1.0)
    return np.fft.irfft(spectrum / np.sqrt(freqs), n)


def test_sine_level_is_known():
    t = np.arange(RATE * 2) / RATE
    stats = clipstats.clip_stats(0.5 * np.sin(2 * np.pi * 1000 * t), RATE)
    assert stats["rms_dbfs"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.01)
    assert stats["peak_dbfs"] == pytest.approx(20 * np.log10(0.5), abs=0.01)
    assert stats["centroid_hz"] == pytest.approx(1000, rel=0.02)
    assert stats["level_std_db"] < 0.05


def test_white_and_pink_noise_tilt():
    rng = np.random.default_rng(0)
    white = clipstats.clip_stats(rng.standard_normal(RATE * 5), RATE)
    pink = clipstats.clip_stats(_pink(RATE * 5, rng), RATE)
    assert white["tilt_db_per_octave"] == pytest.approx(0.0, abs=0.5)
    assert pink["tilt_db_per_octave"] == pytest.approx(-3.0, abs=0.5)
    assert pink["centroid_hz"] < white["centroid_hz"]


def test_loudness_movement_is_seen():
    rng = np.random.default_rng(1)
    steady = rng.standard_normal(RATE * 4)
    bursts = steady * np.repeat([1.0, 0.1], RATE * 2)
    assert clipstats.clip_stats(bursts, RATE)["level_std_db"] > 5 > clipstats.clip_stats(steady, RATE)["level_std_db"]


@pytest.mark.skipif(not REAL_SAMPLES.is_dir(), reason="real samples not available")
def test_real_clip_stats_table():
    paths = sorted(REAL_SAMPLES.rglob("*.wav"))
    table = clipstats.stats_table(paths)
    assert len(table) == len(paths) > 0
    assert table["rms_dbfs"].between(-60, -10).all()
    assert table["tilt_db_per_octave"].between(-12, 2).all()
    assert table.notna().all().all()
