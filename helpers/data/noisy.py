"""Noisy copies of training clips: each clip mixed with a noise recording at a random signal-to-noise
ratio, as the DCASE 2025 systems that used the supplemental noise clips did (training.noise_copies).

A copy is written once, as a 32-bit float WAV named like the clip it copies, into the cache's work
folder ``noisy/<2 hex>/<16 hex>/<type>/<the clip's folder>/`` (the hex: a digest of the clip, the
noise, the SNR and the offset), so that it reads as that clip (its section, domain and
attributes: the same class of a classifier) and its features are cached like any clip's.

The mix: clip + g · noise, the noise (its first channel, at the clip's sample rate) looped to the
clip's length from a random offset and added to every channel, g making the ratio of the clip's
RMS to g · the noise's RMS the drawn SNR; then scaled down only where a sample would pass full
scale. The draws (noise, SNR, offset) depend on `seed` and the clip's name only.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

from helpers import skiplog
from helpers.data import cache
from helpers.data.audio import read_all, resample
from helpers.data.layout import Clip
from helpers.errors import ClipError
from helpers.fileio import atomic_path

WORK_FOLDER = "noisy"
IMPLEMENTATION = 1  # raise when the mix changes: every copy is made anew


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def mix(clip: np.ndarray, noise: np.ndarray, snr_db: float, offset: int) -> np.ndarray:
    """`clip` [shape=(samples, channels)] plus `noise` [shape=(noise samples,)] looped from `offset`,
    scaled to `snr_db` below the clip's RMS; scaled down where it would clip. [shape=(samples, channels)]"""
    looped = np.resize(np.roll(noise, -offset), clip.shape[0])
    noise_rms = _rms(looped)
    gain = _rms(clip) / (noise_rms * 10 ** (snr_db / 20)) if noise_rms > 0 else 0.0
    mixed = clip + gain * looped[:, None]
    peak = float(np.max(np.abs(mixed)))
    return (mixed / peak if peak > 1.0 else mixed).astype(np.float32)


def _draws(seed: int, clip: Clip, copy: int, noises: int, snr_db: tuple[float, float]) -> tuple[int, float, float]:
    """(noise position, SNR in dB, offset as a fraction of the noise) of one copy of `clip`."""
    key = int.from_bytes(hashlib.sha1(f"{clip.machine_type}/{clip.name}".encode()).digest()[:8], "little")
    rng = np.random.default_rng([seed, key, copy])
    return int(rng.integers(noises)), float(rng.uniform(*snr_db)), float(rng.uniform())


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def copies(clips: list[Clip], noise_clips: list[Clip], count: int, snr_db: tuple[float, float],
           seed: int) -> list[Clip]:
    """`count` noisy copies of each of `clips` (each a Clip of the copy's path, otherwise the clip's),
    clip by clip; made once, then read from the cache's work folder. An unreadable clip or noise
    clip is skipped and recorded (helpers.skiplog); [] without a readable noise clip."""
    if count < 1 or not clips:
        return []
    noises = []
    for noise_clip in noise_clips:
        try:
            noises.append((noise_clip, *read_all(noise_clip.path)))
        except ClipError as err:
            skiplog.skip(noise_clip.path, err.reason)
    if not noises:
        return []
    home = cache.work_folder(WORK_FOLDER)
    made = []
    for clip in clips:
        for copy in range(count):
            position, snr, where = _draws(seed, clip, copy, len(noises), snr_db)
            noise_clip, noise, noise_rate = noises[position]
            try:
                made.append(_copy(home, clip, noise_clip, noise, noise_rate, snr, where))
            except ClipError as err:
                skiplog.skip(clip.path, err.reason)
                break
    return made


def _copy(home: Path, clip: Clip, noise_clip: Clip, noise: np.ndarray, noise_rate: int, snr: float,
          where: float) -> Clip:
    """One noisy copy of `clip`, written unless it is there."""
    digest = hashlib.sha1(f"{IMPLEMENTATION}|{_stamp(clip.path)}|{_stamp(noise_clip.path)}|{snr!r}|{where!r}"
                          .encode()).hexdigest()[:16]
    target = home / digest[:2] / digest / clip.machine_type / clip.path.parent.name / clip.name
    if not target.is_file():
        data, rate = read_all(clip.path)
        source = resample(noise[:, 0], noise_rate, rate)
        mixed = mix(data, source, snr, int(where * len(source)))
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as temporary:
            sf.write(str(temporary), mixed, rate, subtype="FLOAT", format="WAV")
    return replace(clip, path=target)
