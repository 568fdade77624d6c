"""Log-mel features of many clips, computed over the cores and cached on disk.

Each clip's float32 log-mel [shape=(n_mels, frames)] (or another array computed from its waveform,
a :class:`Derived`: its whole-clip spectrum [shape=(1, bins)] for a two-branch network
(:func:`spectra`), a frozen network's embeddings [shape=(blocks, dims)]) is stored as one ``.npy`` file in the cache
folder (helpers.data.cache), named by a hash of the feature settings, the log-mel code's version
(helpers.data.features.IMPLEMENTATION) and the file's identity (absolute path, size, modification
time), so changing a setting, the computation or a file never serves stale data; beside it, a
record of that identity, the settings and the version lets stale entries be found and pruned. Cached
arrays are memory-mapped. Training and testing, and every solution with the same settings, share
the cache. With the cache off (no folder can be written), log-mels are computed in memory.
"""
from __future__ import annotations

import hashlib
import json
import mmap
import multiprocessing
import os
import re
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from helpers import skiplog, threads
from helpers.data import cache
from helpers.data.audio import read_audio, resample
from helpers.errors import ClipError
from helpers.data.features import IMPLEMENTATION, FeatureSettings, clip_spectrum, log_mel
from helpers.fileio import atomic_path

PARALLEL_FROM = 1000  # clips per worker process: a spawned worker takes seconds to import librosa
_ONE_CALL_AT_A_TIME = threading.Lock()  # each call spreads its clips over the cores (trainings side by side take turns)


@dataclass(frozen=True)
class Derived:
    """An array other than the log-mel computed from each clip's waveform and cached like it.

    record: what its entries record beside the feature settings, as (name, value) pairs (part of the
    entry's key: a new value is a new entry); compute: waveform [shape=(samples,)] -> float32 array
    [shape=(rows, columns)]; sample_rate: the rate `compute` takes the waveform at, resampled from the
    feature settings' (None: theirs); in_processes: whether missing entries may be computed in worker processes (False
    for a network's forward pass, which uses every core by itself and need not be pickled).
    """

    record: tuple[tuple[str, object], ...]
    compute: Callable[[np.ndarray], np.ndarray] = field(compare=False)
    sample_rate: int | None = None
    in_processes: bool = True


def spectrum(bins: int) -> Derived:
    """Each clip's whole magnitude spectrum in dB [shape=(1, bins)] (helpers.data.features.clip_spectrum)."""
    return Derived((("spectrum_bins", bins),), partial(clip_spectrum, bins=bins))


@lru_cache(maxsize=16)
def _settings_key(settings: FeatureSettings, derived: Derived | None = None) -> str:
    """The entry key's settings part: the feature settings, the code's version and what a derived array records."""
    return json.dumps({**_settings(settings, derived), "implementation": IMPLEMENTATION}, sort_keys=True)


def _settings(settings: FeatureSettings, derived: Derived | None) -> dict:
    """The settings an entry records: the log-mel's, and a derived array's record."""
    return {**settings.as_dict(), **dict(derived.record if derived else ())}


def _identity(path: str | Path) -> tuple[str, int, int]:
    """(absolute path, size, mtime_ns) of a clip (OSError if it cannot be read)."""
    path = os.path.abspath(path)
    stat = os.stat(path)
    return path, stat.st_size, stat.st_mtime_ns


def _entry(cache_dir: str | Path, identity: tuple[str, int, int], settings: FeatureSettings,
           derived: Derived | None = None) -> Path:
    digest = hashlib.sha1(json.dumps([*identity, _settings_key(settings, derived)]).encode()).hexdigest()
    return Path(cache_dir) / cache.FEATURES / digest[:2] / f"{digest}.npy"


def cache_path(path: str | Path, settings: FeatureSettings, cache_dir: str | Path) -> Path:
    """Where the log-mel of `path` under `settings` is cached in `cache_dir` (OSError if `path` cannot be read)."""
    return _entry(cache_dir, _identity(path), settings)


_NPY_HEADER = re.compile(rb"'descr': '<f4', 'fortran_order': False, 'shape': \((\d+), (\d+)\)")


def _open(target: Path) -> np.ndarray | None:
    """The cached log-mel, memory-mapped and marked as used; None if it is not (or not wholly) in the cache.

    Reads the ``.npy`` header directly (one open, one mmap per clip: a warm cache of a
    thousand clips opens in a fraction of a second, where np.load parses every header).
    """
    try:
        with open(target, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            cache.touch(handle.fileno())
    except (OSError, ValueError):  # missing, or empty
        return None
    header_end = 10 + int.from_bytes(mapped[8:10], "little")
    match = _NPY_HEADER.search(mapped[10:header_end])
    if mapped[:8] != b"\x93NUMPY\x01\x00" or match is None:
        return None
    rows, columns = int(match[1]), int(match[2])
    if len(mapped) != header_end + 4 * rows * columns:
        return None
    return np.frombuffer(mapped, dtype=np.float32, count=rows * columns, offset=header_end).reshape(rows, columns)


def _compute(job: tuple[str, FeatureSettings, Path | None, dict, Derived | None]) -> tuple[str, np.ndarray | None,
                                                                                           str | None, list]:
    """Compute one clip's log-mel (or its derived array) and, given a target, store it there with its record.

    Returns (path, the array [shape=(n_mels, frames)] or the derived one's if not stored, the
    reason it cannot be read or None, the conversions its audio needed: helpers.data.audio.read_audio).
    """
    path, settings, target, record, derived = job
    try:
        y, converted = read_audio(path, settings.sample_rate, settings.channel)  # the conversions reported are the log-mel's
    except ClipError as err:
        return path, None, err.reason, []
    if derived is not None and derived.sample_rate:  # a network's own rate: its input, not a conversion of the data
        y = resample(y, settings.sample_rate, derived.sample_rate)
    mel = np.ascontiguousarray(derived.compute(y) if derived else log_mel(y, settings), dtype=np.float32)
    if target is None:
        return path, mel, None, converted
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, mel)
    cache.write_record(target, record)
    return path, None, None, converted


def log_mels(paths, settings: FeatureSettings = FeatureSettings(), cache_dir: str | Path | None = None,
             workers: int | None = None, progress: bool = True, desc: str = "features") -> dict[str, np.ndarray]:
    """{path: log-mel [shape=(n_mels, frames)]} for every readable clip of `paths`, memory-mapped from the cache.

    `cache_dir`: the cache folder (default: helpers.data.cache.folder(), the configured home or its
    fallback; when the cache is off, log-mels are computed in memory and nothing is written).
    Unreadable or empty clips are skipped and recorded in helpers.skiplog; the rest go on.
    Missing entries are computed in `workers` processes (default: this kernel's cores,
    helpers.threads.cores). With DCASE_CACHE_MAX_SIZE set, writing new entries evicts the least
    recently used others (never those returned) until the feature entries fit. Calls from several
    threads run one at a time.
    """
    with _ONE_CALL_AT_A_TIME:
        return _features(paths, settings, None, cache_dir, workers, progress, desc)


def spectra(paths, settings: FeatureSettings, bins: int, cache_dir: str | Path | None = None,
            workers: int | None = None, progress: bool = True, desc: str = "spectra") -> dict[str, np.ndarray]:
    """{path: the whole clip's magnitude spectrum in dB [shape=(1, bins)]} (helpers.data.features.clip_spectrum)
    for every readable clip of `paths`, read at settings.sample_rate, cached as :func:`log_mels` caches."""
    return derived_arrays(paths, settings, spectrum(bins), cache_dir, workers, progress, desc)


def derived_arrays(paths, settings: FeatureSettings, derived: Derived, cache_dir: str | Path | None = None,
                   workers: int | None = None, progress: bool = True, desc: str = "features") -> dict[str, np.ndarray]:
    """{path: `derived`'s array} for every readable clip of `paths`, cached as :func:`log_mels` caches."""
    with _ONE_CALL_AT_A_TIME:
        return _features(paths, settings, derived, cache_dir, workers, progress, desc)


def _features(paths, settings: FeatureSettings, derived: Derived | None, cache_dir, workers, progress: bool,
              desc: str) -> dict[str, np.ndarray]:
    limit = cache.max_size()  # read first: a bad setting stops the call before any work
    folder = cache.folder() if cache_dir is None else Path(cache_dir)
    paths = [str(p) for p in paths]
    identities, targets, found = {}, {}, {}
    for path in paths:
        try:
            identities[path] = _identity(path)
        except OSError as err:
            skiplog.skip(path, f"cannot be read ({err.strerror})")
            continue
        targets[path] = None if folder is None else _entry(folder, identities[path], settings, derived)
        cached = None if folder is None else _open(targets[path])
        if cached is not None:
            found[path] = cached
    todo = [(p, settings, targets[p], {"source": source, "size": size, "mtime_ns": mtime_ns,
                                       "settings": _settings(settings, derived), "implementation": IMPLEMENTATION},
             derived)
            for p, (source, size, mtime_ns) in identities.items() if p not in found]
    if todo:
        # a spawned worker costs seconds to start: only spread work that takes longer than that
        workers = max(1, min(workers or threads.cores(), len(todo) // PARALLEL_FROM))
        workers = workers if derived is None or derived.in_processes else 1
        bar = tqdm(total=len(todo), desc=desc, unit="clip", disable=not progress)
        if workers == 1:
            outcomes = map(_compute, todo)
        else:
            # spawn, not fork: the caller may hold threads (torch, TensorFlow) that fork would copy
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            outcomes = pool.map(_compute, todo, chunksize=max(1, min(32, len(todo) // (4 * workers))))
        for path, mel, reason, converted in outcomes:
            bar.update()
            if converted:
                skiplog.convert(path, "; ".join(converted))
            if reason is not None:
                skiplog.skip(path, reason)
            else:
                found[path] = _open(targets[path]) if mel is None else mel
        bar.close()
        if workers > 1:
            pool.shutdown()
        if limit is not None and folder is not None:
            cache.evict(folder, limit, keep={targets[p] for p in found})
    return {path: found[path] for path in paths if found.get(path) is not None}
