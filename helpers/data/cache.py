"""The cache folder: where it is, what each entry records, and keeping it from growing forever.

Layout of the cache folder (its home: helpers.paths.cache_dir, which DCASE_CACHE_DIR moves):

    features/<2 hex>/<sha1>.npy   one clip's log-mel (helpers.data.featurecache)
    features/<2 hex>/<sha1>.json  its record: {"source", "size", "mtime_ns", "settings", "implementation"}
    file_tables/<16 hex>.csv      one data folder's file table (helpers.data.catalog)
    file_tables/<16 hex>.json     its record: {"source": the data folder}
    regression/ benchmark/ soak/  work folders: data that checks and benchmarks keep between runs
    noisy/                        noisy copies of training clips (helpers.data.noisy, training.noise_copies)

A record says what its entry was made from, so that stale entries can be found: a feature entry
is stale when its source clip is gone or has another size or modification time, or when another
version of the log-mel code made it (its record's "implementation" is not the one given to
:func:`survey`, helpers.data.features.IMPLEMENTATION from the command line); a file table is
stale when its data folder is gone or a more recently used table of the same folder exists (the
folder has changed since). An entry without a record (written before records existed, or whose
record was lost) is of unknown source. When an entry was last used is its data file's
modification time: writing an entry sets it, serving one touches it (see :func:`touch`).

DCASE_CACHE_MAX_SIZE (see :func:`parse_size` for the forms) bounds the feature entries: after
writing new ones, helpers.data.featurecache evicts the least recently used others until they fit.

If the home cannot be written (a read-only checkout), the per-user cache is used instead; if that
cannot be written either, the cache is off and :func:`folder` is None. Each fallback warns once.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from helpers import paths
from helpers.errors import ConfigError, ToolkitError
from helpers.fileio import atomic_write_text, writable_folder

log = logging.getLogger("helpers")

FEATURES = "features"
FILE_TABLES = "file_tables"
WORK_FOLDERS = ("regression", "benchmark", "soak", "noisy")  # what work_folder hands out; --clear removes only known parts
MAX_SIZE_VARIABLE = "DCASE_CACHE_MAX_SIZE"
RECORD_SUFFIX = ".json"
FRESH, STALE, UNKNOWN = "fresh", "stale", "unknown source"
LEFTOVER_AGE_NS = 3600 * 10**9  # a temporary file this old belongs to no write still in progress

SIZE_FORMS = "a number of bytes (1048576) or a number with K, M, G or T, powers of 1024 (500M, 2G, 1.5GB, 10GiB)"
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(?:([KMGT])(?:i?B)?|B)?", re.IGNORECASE)
_UNITS = "KMGT"
_HEX = re.compile(r"[0-9a-f]+")


# ---------------------------------------------------------------- sizes

def parse_size(text: str, setting: str) -> int:
    """Bytes in `text` ("500M", "2G", "1.5GB", "1048576"); ConfigError naming `setting` and the forms otherwise."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"{setting}: cannot read {text!r} as a size; use {SIZE_FORMS}")
    power = _UNITS.index(match[2].upper()) + 1 if match[2] else 0
    return int(float(match[1]) * 1024 ** power)


def format_size(size: int) -> str:
    """`size` bytes for people: "512 B", "1.5 KiB", "200.0 MiB" (powers of 1024, as parse_size reads them)."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in _UNITS[:-1]:
        if value < 1024:
            return f"{value:.1f} {unit}iB"
        value /= 1024
    return f"{value:.1f} {_UNITS[-1]}iB"


def max_size() -> int | None:
    """The size limit of the feature entries in bytes from $DCASE_CACHE_MAX_SIZE, or None if it is not set."""
    text = os.environ.get(MAX_SIZE_VARIABLE, "").strip()
    return parse_size(text, MAX_SIZE_VARIABLE) if text else None


# ---------------------------------------------------------------- where the cache is

def where() -> tuple[Path | None, str]:
    """The cache folder in use and why that one.

    The configured home (helpers.paths.cache_dir) if it can be written, else the per-user cache,
    else None: the cache is off. Checked once per process for each configuration.
    """
    configured, origin = paths.cache_dir()
    return _usable(configured, origin, paths.user_cache_dir())


def folder() -> Path | None:
    """The cache folder in use (see :func:`where`); None when the cache is off."""
    return where()[0]


def work_folder(name: str) -> Path:
    """<cache folder>/<name>, for data that a check or benchmark keeps between runs (one of WORK_FOLDERS).

    Raises ToolkitError when the cache is off.
    """
    home, origin = where()
    if home is None:
        raise ToolkitError(f"no folder to keep the {name} data in: the cache is {origin}; "
                           f"set {paths.CACHE_DIR_VARIABLE} to a folder you can write to")
    return home / name


@lru_cache(maxsize=None)
def _usable(configured: Path, origin: str, user: Path) -> tuple[Path | None, str]:
    problem = _unwritable(configured)
    if problem is None:
        return configured, origin
    user_problem = _unwritable(user)
    if user_problem is None:
        log.warning("%s; using the per-user cache %s instead", problem, user)
        return user, f"the per-user cache, because {configured} ({origin}) cannot be written"
    log.warning("%s; %s; running with the cache off: features are computed in memory and nothing is written",
                problem, user_problem)
    return None, f"off: neither {configured} ({origin}) nor {user} can be written"


def _unwritable(path: Path) -> str | None:
    """Why no cache can be kept in `path`, or None if it can."""
    try:
        writable_folder(path, "cache folder", hint="")
    except ToolkitError as err:
        return str(err)
    return None


# ---------------------------------------------------------------- entries and their records

@dataclass(frozen=True)
class Entry:
    """One cached file (or one leftover file) as found on disk."""

    path: Path  # the data file (.npy, .csv), or the leftover file itself
    bytes: int  # the data file and its record together
    used_ns: int  # when it was last written or served: the data file's modification time
    record: dict | None  # what it was made from; None: unknown source


def write_record(entry: Path, record: dict) -> None:
    """Record beside `entry` what it was made from (a JSON object with at least "source"), whole or not at all."""
    atomic_write_text(Path(entry).with_suffix(RECORD_SUFFIX), json.dumps(record))


def touch(entry: Path | int) -> None:
    """Mark an entry (its data file, by path or open file descriptor) as used now; a read-only cache stays as it is."""
    try:
        os.utime(entry)
    except OSError:  # read-only cache or file gone: the entry just keeps its older time
        pass


def _read_record(path: str) -> dict | None:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):  # gone, or half a record
        return None
    return record if isinstance(record, dict) and isinstance(record.get("source"), str) else None


def _scan(directory: Path, suffix: str) -> tuple[list[Entry], list[Entry]]:
    """The entries (data files named <hex><suffix>, with their records) in `directory`, and the other files there."""
    try:
        with os.scandir(directory) as items:
            files = {item.name: item for item in items if item.is_file(follow_symlinks=False)}
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    entries, claimed = [], set()
    for name, item in files.items():
        stem, extension = os.path.splitext(name)
        if extension != suffix or not _HEX.fullmatch(stem):
            continue
        stat, record_item = item.stat(), files.get(stem + RECORD_SUFFIX)
        size, record = stat.st_size, None
        if record_item is not None:
            claimed.add(record_item.name)
            size += record_item.stat().st_size
            record = _read_record(record_item.path)
        claimed.add(name)
        entries.append(Entry(Path(item.path), size, stat.st_mtime_ns, record))
    leftovers = []
    for name, item in files.items():
        if name not in claimed:
            stat = item.stat()
            leftovers.append(Entry(Path(item.path), stat.st_size, stat.st_mtime_ns, None))
    return entries, leftovers


def feature_entries(home: Path) -> tuple[list[Entry], list[Entry]]:
    """The feature entries under `home`/features, and the leftover files there (unfinished writes, lost records)."""
    entries, leftovers = [], []
    try:
        buckets = sorted(item.path for item in os.scandir(home / FEATURES) if item.is_dir(follow_symlinks=False))
    except (FileNotFoundError, NotADirectoryError):
        buckets = []
    for bucket in buckets:
        found, left = _scan(Path(bucket), ".npy")
        entries += found
        leftovers += left
    return entries, leftovers


def _feature_state(entry: Entry, implementation: int | None) -> str:
    if entry.record is None:
        return UNKNOWN
    if implementation is not None and entry.record.get("implementation") != implementation:
        return STALE
    try:
        stat = os.stat(entry.record["source"])
    except OSError:
        return STALE
    same = (stat.st_size, stat.st_mtime_ns) == (entry.record.get("size"), entry.record.get("mtime_ns"))
    return FRESH if same else STALE


def _file_table_states(entries: list[Entry]) -> list[str]:
    """FRESH for the most recently used table of each data folder that still exists."""
    current = {}
    for entry in entries:
        if entry.record is not None:
            source = entry.record["source"]
            if source not in current or entry.used_ns > current[source].used_ns:
                current[source] = entry
    return [UNKNOWN if e.record is None else
            FRESH if current[e.record["source"]] is e and os.path.isdir(e.record["source"]) else STALE
            for e in entries]


def _by_state(entries: list[Entry], states: list[str]) -> dict[str, list[Entry]]:
    grouped = {FRESH: [], STALE: [], UNKNOWN: []}
    for entry, state in zip(entries, states):
        grouped[state].append(entry)
    return grouped


def _tree_size(path: Path) -> tuple[int, int]:
    """(files, bytes) of a file or of everything under a folder (links counted, not followed)."""
    if not path.is_dir() or path.is_symlink():
        return 1, path.lstat().st_size
    files = size = 0
    for parent, _, names in os.walk(path):
        files += len(names)
        size += sum(os.lstat(os.path.join(parent, name)).st_size for name in names)
    return files, size


@dataclass(frozen=True)
class Survey:
    """What a cache folder holds. Entries are grouped by state: FRESH, STALE, UNKNOWN (source)."""

    home: Path
    features: dict[str, list[Entry]]
    file_tables: dict[str, list[Entry]]
    leftovers: list[Entry]  # in features/ and file_tables/: unfinished writes, records without an entry
    others: dict[str, tuple[int, int]]  # {name: (files, bytes)} of everything else in the folder


def survey(home: Path, implementation: int | None = None) -> Survey:
    """Every entry of the cache folder `home`, classified (reads each record; stats each source).

    `implementation`: the log-mel code's version (helpers.data.features.IMPLEMENTATION); feature entries
    made by another are stale. None: the version is not looked at."""
    features, feature_leftovers = feature_entries(home)
    tables, table_leftovers = _scan(home / FILE_TABLES, ".csv")
    others = {item.name: _tree_size(item) for item in sorted(Path(home).iterdir())
              if item.name not in (FEATURES, FILE_TABLES)} if Path(home).is_dir() else {}
    return Survey(Path(home), _by_state(features, [_feature_state(e, implementation) for e in features]),
                  _by_state(tables, _file_table_states(tables)), feature_leftovers + table_leftovers, others)


def describe(found: Survey, origin: str, limit: int | None) -> list[str]:
    """The lines `python -m helpers cache --info` prints about `found`."""
    lines = [f"cache folder: {found.home} ({origin})"]
    entries = [e for group in found.features.values() for e in group]
    lines.append(f"feature entries: {_count(entries)}; {len(found.features[STALE])} stale (source gone or changed, or "
                 f"made by another version of the log-mel code), "
                 f"{len(found.features[UNKNOWN])} of unknown source")
    by_settings = {}
    for entry in entries:
        settings = entry.record.get("settings") if entry.record else None
        label = " ".join(f"{k}={v}" for k, v in settings.items()) if isinstance(settings, dict) else "unknown settings"
        by_settings.setdefault(label, []).append(entry)
    lines += [f"  {label}: {_count(group)}" for label, group in sorted(by_settings.items())]
    tables = [e for group in found.file_tables.values() for e in group]
    lines.append(f"file tables: {_count(tables)}; {len(found.file_tables[STALE])} stale (data folder gone or "
                 f"changed), {len(found.file_tables[UNKNOWN])} of unknown source")
    if found.leftovers:
        lines.append(f"leftover files (unfinished writes, lost records): {_count(found.leftovers)}")
    for name, (files, size) in found.others.items():
        known = "work folder" if name in WORK_FOLDERS else "not made by the cache; --clear leaves it"
        lines.append(f"{name}: {files} file(s), {format_size(size)} ({known})")
    lines.append(f"size limit of the feature entries: {format_size(limit)} ({MAX_SIZE_VARIABLE})" if limit is not None
                 else f"size limit of the feature entries: none (set {MAX_SIZE_VARIABLE}, e.g. 2G)")
    return lines


def _count(entries: list[Entry]) -> str:
    return f"{len(entries)} ({format_size(sum(e.bytes for e in entries))})"


# ---------------------------------------------------------------- removing entries

def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as err:
        raise ToolkitError(f"cannot remove the cache file {path}: {err.strerror or err}") from err


def _remove(entry: Entry) -> None:
    """Remove an entry's record, then its data file (a crash between leaves an entry of unknown source)."""
    _unlink(entry.path.with_suffix(RECORD_SUFFIX))
    _unlink(entry.path)


def evict(home: Path, limit: int, keep=frozenset()) -> list[Entry]:
    """Remove the least recently used feature entries of `home`, never those whose data file is in `keep`,
    until the feature entries take at most `limit` bytes. Returns the removed entries, oldest first."""
    entries, _ = feature_entries(home)
    total = sum(e.bytes for e in entries)
    removed = []
    for entry in sorted(entries, key=lambda e: e.used_ns):
        if total <= limit:
            break
        if entry.path not in keep:
            _remove(entry)
            total -= entry.bytes
            removed.append(entry)
    if total > limit:
        log.warning("the features in use take %s, more than the size limit of %s (%s): %s keeps them all the same",
                    format_size(total), format_size(limit), MAX_SIZE_VARIABLE, home)
    return removed


def prune(home: Path, limit: int | None = None, implementation: int | None = None) -> dict[str, list[Entry]]:
    """Remove what is stale (see :func:`survey` for `implementation`) or of unknown source, and leftover
    files older than an hour; then, if `limit` is given, the least recently used feature entries until
    they fit in `limit` bytes.

    Returns {what was removed: [entries]}, in the order removed.
    """
    found = survey(home, implementation)
    removed = {"stale feature entries": found.features[STALE],
               "feature entries of unknown source": found.features[UNKNOWN],
               "stale file tables": found.file_tables[STALE],
               "file tables of unknown source": found.file_tables[UNKNOWN]}
    for entry in (e for group in removed.values() for e in group):
        _remove(entry)
    old = time.time_ns() - LEFTOVER_AGE_NS
    removed["leftover files older than an hour"] = [e for e in found.leftovers if e.used_ns < old]
    for leftover in removed["leftover files older than an hour"]:
        _unlink(leftover.path)
    if limit is not None:
        removed["least recently used feature entries"] = evict(home, limit)
    return removed


def clear(home: Path) -> dict[str, tuple[int, int]]:
    """Remove the cache's own parts from `home` (features, file tables, work folders), which stays.

    Anything else there is not the cache's (a misdirected DCASE_CACHE_DIR) and is left alone.
    Returns {name: (files, bytes)} of what was removed.
    """
    removed = {}
    for name in (FEATURES, FILE_TABLES, *WORK_FOLDERS):
        path = Path(home) / name
        if path.exists() or path.is_symlink():
            removed[name] = _tree_size(path)
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except OSError as err:
                raise ToolkitError(f"cannot remove {path}: {err.strerror or err}") from err
    return removed
