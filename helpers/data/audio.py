"""Reading audio clips with soundfile, at their own sample rate.

Policies (documented in docs/data.md):
- Multi-channel files (raw MIMII recordings have 8 channels) use their first channel, as the
  DCASE 2020 Task 2 data did when it was cut from MIMII.
- A file whose sample rate differs from the expected one (16 kHz) is resampled to it with
  librosa's default (soxr, high quality) and a warning naming the file, so that every clip of a
  run gives features on the same mel scale.
- A file that cannot be read or holds no samples raises ClipError naming it; callers skip it.
"""
from __future__ import annotations

import logging
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from helpers.errors import ClipError
from helpers.data.layout import SAMPLE_RATE

log = logging.getLogger("helpers")


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The clip's samples as float32 in [-1, 1] at `sample_rate`. [shape=(samples,)]

    Raises ClipError (naming the file) when it cannot be read or is empty.
    """
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for corrupt or missing files
        raise ClipError(path, f"cannot be read as audio ({type(err).__name__}: {err})") from err
    if data.shape[0] == 0:
        raise ClipError(path, "holds no samples")
    if data.shape[1] > 1:
        log.warning("%s: %d channels, using the first (as the DCASE 2020 data did when cut from MIMII)",
                    path, data.shape[1])
    y = np.ascontiguousarray(data[:, 0])
    if rate != sample_rate:
        log.warning("%s: sample rate %d Hz, resampled to %d Hz", path, rate, sample_rate)
        y = librosa.resample(y, orig_sr=rate, target_sr=sample_rate).astype(np.float32)
    return y
