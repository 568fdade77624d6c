"""Small realism statistics of one clip, to compare synthetic clips with real ones.

Per clip: level (RMS and peak in dBFS), spectral shape (centroid, and tilt: the slope of the
power spectral density in dB per octave, fitted over third-octave bands from 100 Hz to the
Nyquist frequency; white noise gives 0, pink noise -3), and how the loudness moves over time
(standard deviation and 5-95 % range of the frame RMS in dB over 32 ms frames).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal

from helpers import skiplog
from helpers.data.audio import load_audio
from helpers.errors import ClipError
from helpers.data.layout import SAMPLE_RATE

FRAME_SECONDS = 0.032
TILT_LOW_HZ = 100.0
TINY = 1e-12


def level_dbfs(y: np.ndarray) -> float:
    """RMS level in dB relative to RMS 1.0 (a full-scale square wave; a full-scale sine is -3.01 dBFS)."""
    return float(10 * np.log10(np.mean(np.square(y, dtype=np.float64)) + TINY))


def peak_dbfs(y: np.ndarray) -> float:
    """Peak absolute sample in dBFS."""
    return float(20 * np.log10(np.max(np.abs(y)) + TINY))


def frame_levels_db(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS level of consecutive non-overlapping frames in dBFS. [shape=(frames,)]"""
    length = max(int(round(FRAME_SECONDS * sample_rate)), 1)
    count = len(y) // length
    frames = np.asarray(y[: count * length], dtype=np.float64).reshape(count, length)
    return 10 * np.log10(np.mean(frames**2, axis=1) + TINY)


def power_spectrum(y: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density: (frequencies in Hz, density). [shape=(bins,)] each"""
    return signal.welch(np.asarray(y, dtype=np.float64), fs=sample_rate, nperseg=min(2048, len(y)))


def spectral_centroid_hz(freqs: np.ndarray, density: np.ndarray) -> float:
    """Power-weighted mean frequency."""
    return float(np.sum(freqs * density) / (np.sum(density) + TINY))


def spectral_tilt_db_per_octave(freqs: np.ndarray, density: np.ndarray, sample_rate: int) -> float:
    """Slope of a straight line fitted to the PSD in dB over third-octave bands against octaves."""
    edges = TILT_LOW_HZ * 2.0 ** (np.arange(0, 40) / 3.0)
    edges = edges[edges <= sample_rate / 2]
    centres, levels = [], []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (freqs >= low) & (freqs < high)
        if inside.any():
            centres.append(np.log2(np.sqrt(low * high)))
            levels.append(10 * np.log10(np.mean(density[inside]) + TINY))
    return float(np.polyfit(centres, levels, 1)[0])


def clip_stats(y: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict:
    """Level, spectral shape and loudness movement of one clip [shape=(samples,)]."""
    freqs, density = power_spectrum(y, sample_rate)
    levels = frame_levels_db(y, sample_rate)
    return {
        "rms_dbfs": level_dbfs(y),
        "peak_dbfs": peak_dbfs(y),
        "centroid_hz": spectral_centroid_hz(freqs, density),
        "tilt_db_per_octave": spectral_tilt_db_per_octave(freqs, density, sample_rate),
        "level_std_db": float(np.std(levels)),
        "level_range_db": float(np.percentile(levels, 95) - np.percentile(levels, 5)),
    }


def stats_table(paths: list[str | Path], sample_rate: int = SAMPLE_RATE) -> pd.DataFrame:
    """clip_stats of each readable file, one row per file with its path; unreadable files are skipped and recorded."""
    rows = []
    for path in paths:
        try:
            y = load_audio(path, sample_rate)
        except ClipError as err:
            skiplog.skip_clip(err)
            continue
        rows.append({"path": str(path), **clip_stats(y, sample_rate)})
    return pd.DataFrame(rows)
