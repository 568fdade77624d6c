"""Log-mel features and frame stacking, exactly as the DCASE 2020 Task 2 baseline computes them.

log_mel = 20/power * log10(melspectrogram(y, sr, n_fft, hop_length, n_mels, power) + eps),
eps = sys.float_info.epsilon; vectors are `frames` consecutive log-mel frames concatenated
frame-major: ``vector[i][n_mels*t + m] = log_mel[m, i + t]``.

The mel spectrogram is librosa.feature.melspectrogram's own computation (a Hann-windowed STFT of
the clip zero-padded by n_fft/2 on each side, the power of its magnitude, librosa's Slaney mel
filters) in a few whole-array operations, with the window and the filter bank made once per
setting, and equal to the library call to about 2e-5 dB. The filter bank is applied as a sparse
matrix (1,009 of its 65,664 weights are non-zero at the baseline's settings): each mel value is
then summed in one fixed order, so a clip's log-mel is the same to the last bit whatever number of
BLAS threads the computing process has (a dense float32 product through OpenBLAS gives other last
bits on one thread than on two, and the feature cache would keep whichever process computed a clip
first), and the product is about 5 times faster than the dense one.

IMPLEMENTATION numbers the computation's bits: raise it whenever a change here can change any bit
of a log-mel, so that the feature cache (helpers.data.featurecache) computes its entries anew.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from functools import lru_cache

import librosa
import numpy as np
import scipy.fft
import scipy.sparse

from helpers.errors import ConfigError

IMPLEMENTATION = 2  # 1: dense filter-bank product through BLAS (its last bits followed the thread count)


@dataclass(frozen=True)
class FeatureSettings:
    """The log-mel settings of the baseline (its defaults)."""

    n_mels: int = 128
    frames: int = 5
    n_fft: int = 1024
    hop_length: int = 512
    power: float = 2.0
    sample_rate: int = 16_000
    channel: int = 0  # of a multichannel clip (DCASE 2026: two microphones), from 0

    def __post_init__(self):
        for name in ("n_mels", "frames", "n_fft", "hop_length", "sample_rate"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"feature setting {name!r} must be a positive integer, got {value!r}")
        if not isinstance(self.channel, int) or isinstance(self.channel, bool) or self.channel < 0:
            raise ConfigError(f"feature setting 'channel' must be an integer ≥ 0 (0: the first), got {self.channel!r}")
        if not isinstance(self.power, (int, float)) or self.power <= 0:
            raise ConfigError(f"feature setting 'power' must be a positive number, got {self.power!r}")

    @property
    def dims(self) -> int:
        """Length of one stacked vector (n_mels * frames)."""
        return self.n_mels * self.frames

    def as_dict(self) -> dict:
        """The settings by name; ``channel`` only where it is not the first (so the keys of the cache
        entries made before it existed still hold)."""
        return {k: v for k, v in asdict(self).items() if k != "channel" or v}


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    """The periodic Hann window librosa's STFT uses. [shape=(n_fft,)]"""
    return librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float32)


@lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> scipy.sparse.csr_array:
    """librosa's mel filter bank (Slaney, 0 Hz to sr/2), float32, as a sparse matrix whose product
    with a dense one sums each row in a fixed order, on one thread. [shape=(n_mels, 1 + n_fft // 2)]"""
    return scipy.sparse.csr_array(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels))


def mel_spectrogram(y: np.ndarray, settings: FeatureSettings = FeatureSettings()) -> np.ndarray:
    """librosa.feature.melspectrogram(y, sr, n_fft, hop_length, n_mels, power) with its defaults
    (centred frames, zero padding, Hann window). [shape=(n_mels, 1 + len(y) // hop_length)]"""
    y = np.asarray(y, dtype=np.float32)
    padded = np.pad(y, settings.n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, settings.n_fft)[::settings.hop_length]
    spectrum = scipy.fft.rfft(frames * _window(settings.n_fft), axis=1)  # [shape=(frames, 1 + n_fft // 2)]
    if settings.power == 2.0:
        power = spectrum.real ** 2 + spectrum.imag ** 2
    else:
        power = np.abs(spectrum) ** settings.power
    return _mel_basis(settings.sample_rate, settings.n_fft, settings.n_mels) @ power.T


def log_mel(y: np.ndarray, settings: FeatureSettings = FeatureSettings()) -> np.ndarray:
    """Log-mel spectrogram in dB, float32. [shape=(n_mels, frames_in_clip)]"""
    mel = mel_spectrogram(y, settings)
    return (20.0 / settings.power * np.log10(mel + sys.float_info.epsilon)).astype(np.float32)


def clip_spectrum(y: np.ndarray, bins: int) -> np.ndarray:
    """The magnitude spectrum of the whole clip in dB, float32, in `bins` equal-width bands from 0 Hz
    to the Nyquist frequency: the mean magnitude of the FFT bins in each (a band narrower than one
    FFT bin takes that bin). [shape=(1, bins)]

    The second view of a two-branch network: where an STFT frame of 1024 samples resolves 15.6 Hz,
    the whole clip's FFT resolves 1 / (clip seconds) Hz, which keeps a machine's stationary tones
    and their sidebands apart. Bands of a fixed count make clips of any length one shape.
    """
    magnitude = np.abs(scipy.fft.rfft(np.asarray(y, dtype=np.float64)))
    starts = np.minimum(np.arange(bins) * len(magnitude) // bins, len(magnitude) - 1)
    counts = np.diff(np.r_[starts, len(magnitude)])  # 0 where a band is narrower than one FFT bin: it takes that bin
    means = np.add.reduceat(magnitude, starts) / np.maximum(counts, 1)
    return (20.0 * np.log10(means + sys.float_info.epsilon)).astype(np.float32)[None]


def n_vectors(n_frames: int, frames: int) -> int:
    """How many stacked vectors a log-mel of `n_frames` frames gives (0 if too short)."""
    return max(n_frames - frames + 1, 0)


def stack_frames(logmel: np.ndarray, frames: int) -> np.ndarray:
    """Stack `frames` consecutive frames into vectors, frame-major, without a Python loop.

    [shape=(n_mels, n_frames)] -> [shape=(n_frames - frames + 1, n_mels * frames)]; a log-mel with
    fewer than `frames` frames gives zero vectors.
    """
    n_mels, n_frames = logmel.shape
    count = n_vectors(n_frames, frames)
    if count == 0:
        return np.empty((0, n_mels * frames), dtype=logmel.dtype)
    windows = np.lib.stride_tricks.sliding_window_view(logmel.T, frames, axis=0)  # (count, n_mels, frames)
    return np.ascontiguousarray(windows.transpose(0, 2, 1)).reshape(count, n_mels * frames)
