"""Reading audio clips with soundfile, at their own sample rate.

Policies (documented in docs/data.md):
- Multi-channel files (raw MIMII recordings have 8 channels; DCASE 2026 clips have two microphones)
  use their first channel, as the DCASE 2020 Task 2 data did when it was cut from MIMII, or the
  channel asked for (config.yaml's ``features.channel``).
- A file whose sample rate differs from the expected one (16 kHz) is resampled to it with
  librosa's default (soxr, high quality), so that every clip of a run gives features on the same
  mel scale.
- Either conversion is recorded with the file's name (helpers.skiplog.convert) and reported.
- A file that cannot be read or holds no samples raises ClipError naming it; callers skip it.
"""
from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from helpers import skiplog
from helpers.errors import ClipError
from helpers.data.layout import SAMPLE_RATE


def read_all(path: str | Path) -> tuple[np.ndarray, int]:
    """(every channel's samples [shape=(samples, channels)], float32 in [-1, 1]; the file's sample rate).

    Raises ClipError (naming the file) when it cannot be read or is empty.
    """
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for corrupt or missing files
        raise ClipError(path, f"cannot be read as audio ({type(err).__name__}: {err})") from err
    if data.shape[0] == 0:
        raise ClipError(path, "holds no samples")
    return data, rate


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, channel: int = 0) -> tuple[np.ndarray, list[str]]:
    """(the clip's samples of `channel` (0: the first) as float32 in [-1, 1] at `sample_rate`
    [shape=(samples,)], what was done to make them so: e.g. ["2 channels, channel 0 used",
    "44100 Hz, resampled to 16000 Hz"]).

    Raises ClipError (naming the file) when it cannot be read, is empty or has no such channel.
    """
    data, rate = read_all(path)
    done = []
    if channel >= data.shape[1]:
        raise ClipError(path, f"has {data.shape[1]} channel(s), no channel {channel} (features.channel counts from 0)")
    if data.shape[1] > 1:
        done.append(f"{data.shape[1]} channels, the first used (as the DCASE 2020 data was cut from MIMII)" if channel == 0
                    else f"{data.shape[1]} channels, channel {channel} used (features.channel)")
    y = np.ascontiguousarray(data[:, channel])
    if rate != sample_rate:
        done.append(f"sample rate {rate} Hz, resampled to {sample_rate} Hz")
        y = resample(y, rate, sample_rate)
    return y, done


def resample(y: np.ndarray, rate: int, target: int) -> np.ndarray:
    """`y` [shape=(samples,)] at `rate` Hz resampled to `target` Hz, as :func:`read_audio` resamples. [shape=(samples',)]"""
    return y if rate == target else librosa.resample(y, orig_sr=rate, target_sr=target).astype(np.float32)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, channel: int = 0) -> np.ndarray:
    """The clip's samples as :func:`read_audio` gives them; a conversion is recorded (helpers.skiplog). [shape=(samples,)]"""
    y, done = read_audio(path, sample_rate, channel)
    if done:
        skiplog.convert(path, "; ".join(done))
    return y
