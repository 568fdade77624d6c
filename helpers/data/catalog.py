"""The file table: one row per clip of a data folder, built once and cached.

Columns: path, machine_type, split, section, label (normal/anomaly/unknown), index,
samples, sample_rate, channels, seconds. The cache is keyed by every file's path, size and
modification time, so adding, removing or touching a clip rebuilds it; each cached table records
its data folder (helpers.data.cache), so that tables of folders that have changed or gone can be pruned.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import soundfile as sf

from helpers import skiplog
from helpers.data import cache, layout
from helpers.fileio import atomic_write_text

COLUMNS = ["path", "machine_type", "split", "section", "domain", "attributes", "label", "index",
           "samples", "sample_rate", "channels", "seconds"]


class _CacheHome:
    """file_table's default cache_dir: the cache folder in use (helpers.data.cache.folder)."""

    def __repr__(self) -> str:
        return "<the cache folder in use>"


HOME = _CacheHome()


def _all_clips(root: Path, ed: layout.Edition) -> list[layout.Clip]:
    clips = []
    for machine_type in layout.machine_types(root, ed):
        for split in layout.SPLITS:
            if any((root / machine_type / folder).is_dir() for folder in ed.folders(split)):
                clips += layout.list_clips(root, machine_type, split, ed)
    return clips


def _signature(root: Path, clips: list[layout.Clip]) -> str:
    digest = hashlib.sha1(str(root.resolve()).encode())
    for clip in clips:
        stat = clip.path.stat()
        digest.update(f"{clip.path.name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _row(clip: layout.Clip) -> dict | None:
    try:
        info = sf.info(str(clip.path))
    except Exception as err:  # soundfile raises several types for corrupt files
        skiplog.skip(clip.path, f"cannot be read as audio ({type(err).__name__})")
        return None
    return {"path": str(clip.path), "machine_type": clip.machine_type, "split": clip.split,
            "section": clip.section, "domain": clip.domain, "attributes": clip.attributes,
            "label": clip.label_name, "index": clip.index,
            "samples": info.frames, "sample_rate": info.samplerate, "channels": info.channels,
            "seconds": info.frames / info.samplerate}


def file_table(root: str | Path, cache_dir: str | Path | _CacheHome | None = HOME, year=None) -> pd.DataFrame:
    """One row per readable clip under `root` (dev or eval layout of the edition `year`, default:
    detected). [columns=COLUMNS]

    Cached under `cache_dir`: by default the cache folder in use; None: not cached (nor when the cache is off).
    """
    root = Path(root)
    clips = _all_clips(root, layout.resolve(root, year))
    folder = cache.folder() if cache_dir is HOME else cache_dir
    cache_path = None
    if folder is not None:
        cache_path = Path(folder) / cache.FILE_TABLES / f"{_signature(root, clips)}.csv"
        if cache_path.is_file():
            cache.touch(cache_path)
            return pd.read_csv(cache_path, dtype={"section": str, "domain": str, "attributes": str},
                               keep_default_na=False, na_values={"domain": [""]})
    rows = [row for row in map(_row, clips) if row is not None]
    table = pd.DataFrame(rows, columns=COLUMNS)
    if cache_path is not None:
        atomic_write_text(cache_path, table.to_csv(index=False))
        cache.write_record(cache_path, {"source": str(root.resolve())})
    return table


def clip_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Clip counts per machine type, split, section (2020: ID), domain and label.
    [columns=machine_type, split, section, domain, label, clips]"""
    return (table.assign(domain=table["domain"].fillna("unknown"))
            .groupby(["machine_type", "split", "section", "domain", "label"], sort=True)
            .size().rename("clips").reset_index())


def count_table(counts: pd.DataFrame) -> pd.DataFrame:
    """clip_counts as one row per (machine type, section) and a column per (split, domain, label),
    whole numbers; without the domain level when every clip is of the source domain (2020)."""
    columns = ["split", "label"] if set(counts["domain"]) == {"source"} else ["split", "domain", "label"]
    return counts.pivot_table(index=["machine_type", "section"], columns=columns, values="clips",
                              aggfunc="sum", fill_value=0)
