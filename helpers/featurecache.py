"""Log-mel features of many clips, computed over the cores and cached on disk.

Each clip's float32 log-mel [shape=(n_mels, frames)] is stored as one ``.npy`` file, named by a
hash of the feature settings and the file's identity (absolute path, size, modification time),
so changing a setting or a file never serves stale data. Cached arrays are memory-mapped.
Training and testing, and every solution with the same settings, share the cache.
"""
from __future__ import annotations

import hashlib
import json
import mmap
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from helpers import skiplog
from helpers.audio import load_audio
from helpers.errors import ClipError
from helpers.features import FeatureSettings, log_mel
from helpers.fileio import atomic_path
from helpers.paths import CACHE

PARALLEL_FROM = 1000  # clips per worker process: a spawned worker takes seconds to import librosa


@lru_cache(maxsize=16)
def _settings_key(settings: FeatureSettings) -> str:
    return json.dumps(settings.as_dict(), sort_keys=True)


def cache_path(path: str | Path, settings: FeatureSettings, cache_dir: str | Path = CACHE) -> Path:
    """Where the log-mel of `path` under `settings` is cached (OSError if `path` cannot be read)."""
    path = os.path.abspath(path)
    stat = os.stat(path)
    key = json.dumps([path, stat.st_size, stat.st_mtime_ns, _settings_key(settings)])
    digest = hashlib.sha1(key.encode()).hexdigest()
    return Path(cache_dir) / "features" / digest[:2] / f"{digest}.npy"


_NPY_HEADER = re.compile(rb"'descr': '<f4', 'fortran_order': False, 'shape': \((\d+), (\d+)\)")


def _open(target: Path) -> np.ndarray | None:
    """The cached log-mel, memory-mapped; None if it is not (or not wholly) in the cache.

    Reads the ``.npy`` header directly (one open, one mmap per clip: a warm cache of a
    thousand clips opens in a fraction of a second, where np.load parses every header).
    """
    try:
        with open(target, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
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


def _compute(job: tuple[str, FeatureSettings, str]) -> tuple[str, str | None]:
    """Compute and store one clip's log-mel; returns (path, error reason or None)."""
    path, settings, target = job
    try:
        y = load_audio(path, settings.sample_rate)
    except ClipError as err:
        return path, err.reason
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(log_mel(y, settings), dtype=np.float32))
    return path, None


def log_mels(paths, settings: FeatureSettings = FeatureSettings(), cache_dir: str | Path = CACHE,
             workers: int | None = None, progress: bool = True, desc: str = "features") -> dict[str, np.ndarray]:
    """{path: memory-mapped log-mel [shape=(n_mels, frames)]} for every readable clip of `paths`.

    Unreadable or empty clips are skipped and recorded in helpers.skiplog; the rest go on.
    Missing entries are computed in `workers` processes (default: all cores).
    """
    paths = [str(p) for p in paths]
    targets, found = {}, {}
    for path in paths:
        try:
            targets[path] = cache_path(path, settings, cache_dir)
        except OSError as err:
            skiplog.skip(path, f"cannot be read ({err.strerror})")
            continue
        cached = _open(targets[path])
        if cached is not None:
            found[path] = cached
    todo = [(p, settings, str(t)) for p, t in targets.items() if p not in found]
    if todo:
        # a spawned worker costs seconds to start: only spread work that takes longer than that
        workers = max(1, min(workers or os.cpu_count() or 1, len(todo) // PARALLEL_FROM))
        bar = tqdm(total=len(todo), desc=desc, unit="clip", disable=not progress)
        if workers == 1:
            outcomes = map(_compute, todo)
        else:
            # spawn, not fork: the caller may hold threads (torch, TensorFlow) that fork would copy
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            outcomes = pool.map(_compute, todo, chunksize=max(1, min(32, len(todo) // (4 * workers))))
        for path, reason in outcomes:
            bar.update()
            if reason is None:
                found[path] = _open(targets[path])
            else:
                skiplog.skip(path, reason)
        bar.close()
        if workers > 1:
            pool.shutdown()
    return {path: found[path] for path in paths if found.get(path) is not None}
