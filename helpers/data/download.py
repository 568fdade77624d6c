"""Downloading the real DCASE Task 2 data (every edition, 2020 to 2026) from its Zenodo records.

Each data set of an edition (development, additional training, evaluation test; for 2020 also
the evaluation ground truth) is one Zenodo record, listed in the edition's row of
:data:`helpers.data.editions.EDITIONS` (``records``). A record's file
names, sizes and MD5 checksums are read from the Zenodo REST API at run time
(``GET <server>/api/records/<id>``), so only the record ids are fixed here. Archives are matched
to machine types by their names: a ``.zip`` file belongs to a type when the type is a whole
``_``-separated part of its name (``dev_data_fan.zip``, ``dev_bearing.zip``,
``eval_data_bandsaw_train.zip``, ``eval_data_train_fan.zip``, ``dev_ToyCar_r2.zip``); of two
archives that differ only in a revision part (``_r2``) the highest revision is taken.

An archive is streamed into ``<root>/.download/<archive>.part`` (a transfer cut short is resumed
with an HTTP Range request), checked against its MD5, unpacked into a staging folder beside it
and moved file by file into the edition's layout: ``<root>/<machine_type>/<folder>/`` for the
edition's clip folders (``train`` and its rules' test folders: ``test``; 2021: ``source_test`` and
``target_test``) and ``supplemental`` (2025), plus the per-section ``attributes_XX.csv`` files
(2022 on) beside them in ``<root>/<machine_type>/``. The root's edition is written to
``<root>/.dcase_year`` (:data:`helpers.data.layout.YEAR_FILE`, read by :func:`helpers.data.layout.detect`);
a root holding another edition's data is refused. Only then is the marker
``<root>/.download/<archive>.done`` (holding the MD5) written; an archive with a marker is skipped
by later runs.

Development archives go into the dev data root; the additional training data, the evaluation
test data and (2020) the evaluation ground truth go into the eval data root.
"""
from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import requests
import urllib3
from tqdm.auto import tqdm

from helpers.data import editions, groundtruth, layout
from helpers.data.editions import Edition
from helpers.errors import ConfigError, DataLayoutError, ToolkitError
from helpers.fileio import atomic_path, atomic_write_text

ZENODO = "https://zenodo.org"
# the data sets an edition's records may name: dev (development), additional (additional training
# data, i.e. the evaluation set's training clips), eval (evaluation test clips) and ground_truth
# (the evaluation test labels; 2020 only)
SET_NAMES = {"dev": "development", "additional": "additional training", "eval": "evaluation test",
             "ground_truth": "evaluation ground truth"}
WORK_FOLDER = ".download"
ATTEMPTS = 5
TIMEOUT = 60  # seconds to wait for a connection or for the next bytes
CHUNK = 1 << 20
EXTRA_FOLDERS = ("supplemental",)  # kept beside the clip folders when an archive has them (2025)
_REVISION = re.compile(r"r(\d+)", re.IGNORECASE)
_ATTRIBUTES = re.compile(r"attributes_\d+\.csv", re.IGNORECASE)
_OTHER_PART = {"additional": "test", "eval": "train"}  # an archive with this name part belongs to the other set


@dataclass(frozen=True)
class RemoteFile:
    """One file of a Zenodo record: its name, download URL, size in bytes and MD5 (hex)."""

    name: str
    url: str
    size: int
    md5: str


@dataclass(frozen=True)
class _Archive:
    """A file to fetch and where it goes; ground-truth files are copied, not unpacked into the layout."""

    remote: RemoteFile
    root: Path
    edition: Edition
    machine_type: str = ""  # the type the archive was chosen for ("" for ground truth)
    ground_truth: bool = False
    only_file: bool = False  # the ground-truth record's only file: its one CSV becomes groundtruth.FILE_NAME

    @property
    def work(self) -> Path:
        return self.root / WORK_FOLDER

    @property
    def marker(self) -> Path:
        return self.work / f"{self.remote.name}.done"


def _reason(err: Exception) -> str:
    """The short reason of a requests or urllib3 error (e.g. the refused connection), else its text."""
    cause = err.args[0] if err.args else None
    if isinstance(cause, str):
        return cause
    return str(getattr(cause, "reason", None) or err)


def _parse_file(entry: dict) -> RemoteFile:
    algorithm, _, digest = entry["checksum"].partition(":")
    name = entry["key"]
    if algorithm != "md5" or not digest:
        raise ValueError(f"checksum {entry['checksum']!r} of {name!r} is not md5:<hex>")
    if name in ("", ".", "..") or PurePosixPath(name).name != name or "\\" in name:
        raise ValueError(f"file name {name!r} is not a plain file name")
    return RemoteFile(name, entry["links"]["self"], int(entry["size"]), digest.lower())


def record_files(record_id: int, server: str = ZENODO, session: requests.Session | None = None) -> list[RemoteFile]:
    """The files of Zenodo record `record_id` as listed by `server`'s REST API.

    Raises ToolkitError naming the URL if the server cannot be reached or does not answer with
    a record holding a file list.
    """
    url = f"{server.rstrip('/')}/api/records/{record_id}"
    try:
        response = (session or requests).get(url, timeout=TIMEOUT)
    except requests.RequestException as err:
        raise ToolkitError(f"cannot reach {url}: {_reason(err)}; check the connection or pass --server") from err
    if response.status_code != 200:
        raise ToolkitError(f"{url} answered HTTP {response.status_code} {response.reason}; "
                           f"expected Zenodo record {record_id} (check the connection or pass --server)")
    try:
        return [_parse_file(entry) for entry in response.json()["files"]]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ToolkitError(f"{url} did not answer a Zenodo record: expected JSON with a 'files' list of "
                           f"{{key, size, checksum: 'md5:<hex>', links: {{self}}}} ({err})") from err


def _published(ed: Edition, set_name: str) -> tuple[str, ...]:
    """The machine types a data set of the edition is published with (:mod:`helpers.data.editions` lists them all)."""
    return ed.dev_types if set_name == "dev" else ed.eval_types


def _set_names(sets) -> str:
    names = [SET_NAMES[s] for s in sets]
    return f"{' and '.join(names)} set{'s' if len(names) > 1 else ''}"


def _near(names, candidates) -> str:
    """' (did you mean ...?)' naming the closest candidate (case aside) of each name that has one, else ''."""
    lowered = {c.lower(): c for c in candidates}
    hints = []
    for name in names:
        close = difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.6)
        if close:
            hints.append((lowered[close[0]], name))
    if not hints:
        return ""
    if len(names) == 1:
        return f" (did you mean {hints[0][0]!r}?)"
    return f" (did you mean {', '.join(f'{close!r} for {name!r}' for close, name in hints)}?)"


def _accepted(ed: Edition, sets) -> str:
    """The machine types of the data sets `sets`, as text (grouped by set where they differ)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for set_name in sets:
        groups.setdefault(_published(ed, set_name), []).append(set_name)
    if len(groups) == 1:
        return ", ".join(next(iter(groups)))
    return "; ".join(f"{_set_names(names)}: {', '.join(types)}" for types, names in groups.items())


def _check_types(ed: Edition, types, sets) -> dict[str, list[str]]:
    """The machine types to fetch from each wanted data set: {set: types}.

    types None: every type each set is published with. Else a name or names, each a machine type
    of one of the wanted sets; each set fetches those it is published with and must get at least
    one. ConfigError naming the accepted types, with a "did you mean", otherwise.
    """
    sets = [s for s in sets if s != "ground_truth"]
    if types is None:
        return {s: list(_published(ed, s)) for s in sets}
    chosen = list(dict.fromkeys([types] if isinstance(types, str) else list(types)))
    known = {t for s in sets for t in _published(ed, s)}
    unknown = [t for t in chosen if t not in known]
    if unknown or not chosen:
        elsewhere = [t for t in unknown if t in ed.machine_types]
        hint = "".join(f"; {t!r} is a machine type of the "
                       f"{_set_names([s for s in ed.records if s != 'ground_truth' and t in _published(ed, s)])} "
                       f"of {ed.name}, which were not asked for" for t in elsewhere)
        raise ConfigError(f"unknown machine type(s) {unknown or chosen} for the {_set_names(sets)} of {ed.name}"
                          f"{_near([t for t in unknown if t not in elsewhere], ed.machine_types)}; "
                          f"accepted: {_accepted(ed, sets)}{hint}")
    plan = {}
    for set_name in sets:
        published = _published(ed, set_name)
        mine = [t for t in chosen if t in published]
        if not mine:
            raise ConfigError(f"the {_set_names([set_name])} of {ed.name} holds none of the machine types {chosen}"
                              f"{_near(chosen, published)}; its types: {_accepted(ed, [set_name])}; add some of "
                              f"them or leave that set out")
        plan[set_name] = mine
    return plan


def _name_parts(name: str) -> list[str]:
    """The _-separated parts of an archive name without its .zip: dev_data_fan.zip -> [dev, data, fan]."""
    stem = name[:-4] if name.lower().endswith(".zip") else name
    return [part for part in stem.split("_") if part]


def _revision(name: str) -> int:
    """An archive name's revision (dev_ToyCar_r2.zip: 2); 1 for a name without one."""
    return max((int(match[1]) for part in _name_parts(name) if (match := _REVISION.fullmatch(part))), default=1)


def _holds(name: str, machine_type: str) -> bool:
    """Whether `machine_type` is a whole part (or run of parts) of the archive name, case aside."""
    parts, wanted = [p.lower() for p in _name_parts(name)], [p.lower() for p in machine_type.split("_")]
    return any(parts[i:i + len(wanted)] == wanted for i in range(len(parts) - len(wanted) + 1))


def _unrevised(name: str) -> tuple[str, ...]:
    """An archive name without its revision part, case aside: the key of the archives that revise each other."""
    return tuple(p.lower() for p in _name_parts(name) if not _REVISION.fullmatch(p))


def _latest(files: list[RemoteFile]) -> tuple[list[RemoteFile], list[tuple[RemoteFile, RemoteFile]]]:
    """The files but those superseded by a higher revision of the same name, and the (superseded, by) pairs."""
    best: dict[tuple[str, ...], RemoteFile] = {}
    for file in files:
        key = _unrevised(file.name)
        if key not in best or _revision(file.name) > _revision(best[key].name):
            best[key] = file
    kept = [f for f in files if best[_unrevised(f.name)] is f]
    return kept, [(f, best[_unrevised(f.name)]) for f in files if best[_unrevised(f.name)] is not f]


def _plan(ed: Edition, set_name: str, root: Path, types: list[str], server: str,
          session: requests.Session) -> list[_Archive]:
    """The archives of one data set to consider: those of each machine type, or every ground-truth file.

    types: the machine types to fetch (:func:`_check_types`; not used for the ground truth). Of the
    archives of one type, those named for the other set (a ``test`` part in the additional training
    record, ``train`` in the evaluation test record) are left out, and an older revision gives way
    to a newer one.
    """
    record = ed.records[set_name]
    files = record_files(record, server, session)
    if set_name == "ground_truth":
        return [_Archive(f, root, ed, ground_truth=True, only_file=len(files) == 1) for f in files]
    what = f"Zenodo record {record} ({SET_NAMES[set_name]} set of {ed.name}) on {server}"
    listed = ", ".join(f.name for f in files) or "none"
    other = _OTHER_PART.get(set_name)
    zips = [f for f in files if f.name.lower().endswith(".zip") and other not in (p.lower() for p in _name_parts(f.name))]
    archives, seen = [], set()
    for machine_type in types:
        matching = [f for f in zips if _holds(f.name, machine_type)]
        if not matching:
            raise ToolkitError(f"{what} has no archive of machine type {machine_type} (a .zip file with "
                               f"{machine_type} as a whole _-separated part of its name); its files: {listed}")
        kept, superseded = _latest(matching)
        for old, new in superseded:
            print(f"{old.name}: superseded by {new.name} in record {record}; skipped")
        archives += [_Archive(f, root, ed, machine_type) for f in kept if f.name not in seen]
        seen.update(f.name for f in kept)
    return archives


def _has_clip_folders(root: Path) -> bool:
    return root.is_dir() and any(d.is_dir() and any((d / n).is_dir() for n in editions.CLIP_FOLDERS)
                                 for d in root.iterdir())


def _check_year(root: Path, ed: Edition) -> None:
    """Refuse a root that holds another edition's data: its YEAR_FILE names another year or, without
    one, its clip folders and names follow another edition's rules (as :func:`helpers.data.layout.detect` reads them)."""
    marker = root / layout.YEAR_FILE
    if marker.is_file():
        text = marker.read_text(encoding="utf-8", errors="replace").strip()
        if text == str(ed.year):
            return
        found = f"data of another edition ({marker} says {text!r})"
    elif _has_clip_folders(root):
        other = layout.detect(root)
        if other.rules is ed.rules:
            return
        found = f"data laid out as {other.name}"
    else:
        return
    raise ConfigError(f"{root} already holds {found}; the {ed.name} data needs a folder of its own: choose "
                      f"another destination folder")


def _mark_year(root: Path, ed: Edition) -> None:
    """Write the edition into the root's YEAR_FILE (unless it says so already)."""
    marker = root / layout.YEAR_FILE
    if not (marker.is_file() and marker.read_text(encoding="utf-8", errors="replace").strip() == str(ed.year)):
        atomic_write_text(marker, f"{ed.year}\n")


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _check_space(archives: list[_Archive]) -> None:
    """Raise ToolkitError if a disk lacks room for the archives plus their unpacked files (2 x size)."""
    needed: dict[int, tuple[Path, int]] = {}
    for archive in archives:
        archive.work.mkdir(parents=True, exist_ok=True)
        have = max(_size(archive.work / f"{archive.remote.name}.part"), _size(archive.work / archive.remote.name))
        device = archive.work.stat().st_dev
        folder, total = needed.get(device, (archive.root, 0))
        needed[device] = (folder, total + 2 * archive.remote.size - have)
    for folder, total in needed.values():
        free = shutil.disk_usage(folder).free
        if free < total:
            raise ToolkitError(f"not enough free disk space in {folder}: the download needs about "
                               f"{tqdm.format_sizeof(total, 'B')} (archives plus unpacked files), "
                               f"{tqdm.format_sizeof(free, 'B')} is free; free some space or choose another folder")


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _stream(remote: RemoteFile, part: Path, have: int, session: requests.Session, bar) -> None:
    """Append the bytes after `have` to `part` (or rewrite it if the server ignores the range).

    Failures worth retrying raise requests.RequestException (before the body) or
    urllib3.exceptions.HTTPError (a body cut short).
    """
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    with session.get(remote.url, headers=headers, stream=True, timeout=TIMEOUT) as response:
        status = response.status_code
        resumed = status == 206 and response.headers.get("Content-Range", "").startswith(f"bytes {have}-")
        if status in (206, 416) and not resumed:
            part.unlink(missing_ok=True)
            bar.reset()
            raise requests.HTTPError(f"the server did not honour the range request bytes={have}- (HTTP {status})")
        if status >= 500:
            response.raise_for_status()
        if status not in (200, 206):
            raise ToolkitError(f"{remote.url} answered HTTP {status} {response.reason} for {remote.name}; "
                               f"check the connection or pass --server")
        if status == 200:
            bar.reset()
        try:
            with open(part, "ab" if resumed else "wb") as file:
                # raw bytes (the request asked for no content encoding): unlike iter_content, this
                # hands over every byte that arrived before the connection broke
                for chunk in response.raw.stream(CHUNK, decode_content=False):
                    file.write(chunk)
                    bar.update(len(chunk))
        except OSError as err:
            raise ToolkitError(f"cannot write {part}: {err.strerror or err}") from err


def _fetch(archive: _Archive, session: requests.Session, progress: bool) -> Path:
    """Download one archive into its work folder, resuming a .part, and verify its MD5; return its path.

    Raises ToolkitError after ATTEMPTS tries that ended short or with the wrong checksum.
    """
    remote = archive.remote
    target, part = archive.work / remote.name, archive.work / f"{remote.name}.part"
    if target.is_file():
        if _size(target) == remote.size and _md5(target) == remote.md5:
            return target
        target.unlink()
    failure = ""
    with tqdm(total=remote.size, initial=_size(part), desc=remote.name, unit="B", unit_scale=True,
              disable=not progress) as bar:
        for _ in range(ATTEMPTS):
            reason = "the connection closed early"
            if _size(part) < remote.size:
                try:
                    _stream(remote, part, _size(part), session, bar)
                except (requests.RequestException, urllib3.exceptions.HTTPError) as err:
                    reason = _reason(err)
            have = _size(part)
            if have < remote.size:
                failure = (f"download of {remote.name} from {remote.url} stopped short after {ATTEMPTS} attempts: "
                           f"received {have} of {remote.size} bytes (last: {reason}); run the command again to resume "
                           f"from there, or pass --server for a mirror")
                continue
            digest = _md5(part)
            if have == remote.size and digest == remote.md5:
                os.replace(part, target)
                return target
            part.unlink()
            bar.reset()
            failure = (f"{remote.name} from {remote.url} failed its checksum after {ATTEMPTS} attempts: "
                       f"expected MD5 {remote.md5}, received {digest} ({have} of {remote.size} bytes); "
                       f"the download was deleted: run the command again later, or pass --server for a mirror")
    raise ToolkitError(failure)


def _unsafe(entry: str) -> bool:
    path = PurePosixPath(entry.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or bool(PureWindowsPath(entry).drive)


def _extract(path: Path, name: str, staging: Path) -> list[Path]:
    """Unpack a zip archive into `staging`; return its files (hidden ones left out)."""
    try:
        with zipfile.ZipFile(path) as zipped:
            for entry in zipped.namelist():
                if _unsafe(entry):
                    raise ToolkitError(f"{name} holds the entry {entry!r}, which points outside the folder it is "
                                       f"unpacked into (absolute path or '..'); refusing to unpack it")
            zipped.extractall(staging)
    except zipfile.BadZipFile as err:
        path.unlink(missing_ok=True)
        raise ToolkitError(f"cannot unpack {name}: not a valid zip archive ({err}); it was deleted: run the "
                           f"command again to fetch it anew, or pass --server for a mirror") from err
    except OSError as err:
        raise ToolkitError(f"cannot unpack {name} into {staging}: {err.strerror or err}") from err
    return [p for p in sorted(staging.rglob("*")) if p.is_file() and not p.name.startswith(".")]


def _place_clips(archive: _Archive, files: list[Path], staging: Path) -> int:
    """Move the archive's clips and attribute tables (at most one folder deep) into the edition's layout;
    the root's YEAR_FILE is written first.

    Clips: ``<type>/<folder>/<file>`` for the edition's clip folders and EXTRA_FOLDERS; tables:
    ``<type>/attributes_XX.csv``, placed in ``<root>/<type>/``. A ``<type>`` is the archive's own
    machine type or one of the edition's. A clip already there is replaced (a re-published archive
    brings corrected clips under the same names).
    """
    ed = archive.edition
    clip_folders = (*ed.folders("train"), *ed.folders("test"))
    folders = {*clip_folders, *EXTRA_FOLDERS}
    type_folders = {*ed.machine_types, archive.machine_type} - {""}
    clips, tables = [], []
    for file in files:
        parts = file.relative_to(staging).parts
        if len(parts) in (3, 4) and parts[-3] in type_folders and parts[-2] in folders:
            clips.append((file, archive.root.joinpath(*parts[-3:])))
        elif len(parts) in (2, 3) and parts[-2] in type_folders and _ATTRIBUTES.fullmatch(parts[-1]):
            tables.append((file, archive.root.joinpath(*parts[-2:])))
    if not clips:
        found = [str(f.relative_to(staging)) for f in files[:5]]
        wanted = " or ".join(f"<machine_type>/{folder}" for folder in clip_folders)
        raise DataLayoutError(f"{archive.remote.name} holds no {wanted} folder (machine types of {ed.name}: "
                              f"{', '.join(sorted(type_folders, key=str.lower))}); found: {found or 'nothing'}")
    _mark_year(archive.root, ed)
    for source, target in clips:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
    for source, target in tables:
        _place_table(source, target)
    return len(clips) + len(tables)


def _place_table(source: Path, target: Path) -> None:
    """Put an attributes CSV in place. One already there with the same header keeps its rows and gets the
    new ones appended (a type's training and test archives may each bring its table); else it is replaced."""
    if target.is_file():
        old, new = target.read_bytes(), source.read_bytes()
        if old == new:
            return
        try:
            old_lines, new_lines = old.decode("utf-8").splitlines(), new.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            old_lines = new_lines = None
        if old_lines and new_lines and old_lines[0] == new_lines[0]:
            rows = list(dict.fromkeys(old_lines + new_lines[1:]))
            newline = "\r\n" if b"\r\n" in old else "\n"
            atomic_write_text(target, newline.join(rows) + newline)
            return
        print(f"{target}: replaced by the table of another archive, whose header differs")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _place_ground_truth(archive: _Archive, files: list[Path]) -> int:
    """Copy ground-truth files into the eval root; a lone CSV of a one-file record becomes groundtruth.FILE_NAME."""
    csvs = [f for f in files if f.suffix.lower() == ".csv"]
    _mark_year(archive.root, archive.edition)
    for file in files:
        name = groundtruth.FILE_NAME if archive.only_file and csvs == [file] else file.name
        with atomic_path(archive.root / name) as temporary:
            shutil.copyfile(file, temporary)
    return len(files)


def _install(archive: _Archive, path: Path) -> int:
    """Unpack or copy a verified download into its root; return the number of files placed."""
    if archive.ground_truth and not archive.remote.name.lower().endswith(".zip"):
        return _place_ground_truth(archive, [path])
    staging = archive.work / f"{archive.remote.name}.unpack"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        files = _extract(path, archive.remote.name, staging)
        if archive.ground_truth:
            return _place_ground_truth(archive, files)
        return _place_clips(archive, files, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download(dest, eval_dest, types=None, dev: bool = True, additional: bool = False, evaluation: bool = False,
             server: str = ZENODO, keep_archives: bool = False, progress: bool = True, year=2020) -> dict:
    """Fetch one edition's DCASE Task 2 archives and unpack them into its data layout; return a summary.

    dest: the dev data root (development archives); eval_dest: the eval data root (additional
    training data, evaluation test data and, for 2020, the ground truth). year: the edition, 2020
    to 2026 (int or text), whose Zenodo records its row names (``editions.edition(year).records``).
    types: machine types (default: each set's published types, as :mod:`helpers.data.editions` lists
    them), checked against the types of the sets asked for (:func:`_check_types`); the
    ground-truth files are not filtered.
    dev / additional / evaluation: which sets to fetch (evaluation brings the 2020 ground truth
    too; later editions have no ground-truth record here, and 2026 has no evaluation test record
    yet: ConfigError). server: the Zenodo base URL (a mirror or a test server). keep_archives:
    keep the verified archives in ``<root>/.download/``. progress: a byte progress bar per
    archive. Archives whose ``.done`` marker holds the published MD5 are skipped. Every root that
    holds the edition's files gets ``.dcase_year``; a root holding another edition's data is
    refused (ConfigError) before anything is fetched.
    Summary: {"fetched": [archive names], "present": [archive names], "bytes": n, "files": n}.
    """
    ed = editions.edition(year)
    records = ed.records
    if evaluation and "eval" not in records:
        raise ConfigError(f"no evaluation test record of {ed.name} is known yet, so its evaluation test data cannot "
                          f"be fetched; leave out the evaluation set (its development and additional training data "
                          f"can be fetched)")
    dest, eval_dest = Path(dest), Path(eval_dest)
    wanted = [(name, root) for name, on, root in (("dev", dev, dest), ("additional", additional, eval_dest),
                                                  ("eval", evaluation, eval_dest),
                                                  ("ground_truth", evaluation, eval_dest)) if on and name in records]
    if not wanted:
        raise ConfigError("nothing to download: set at least one of dev, additional, evaluation")
    chosen = _check_types(ed, types, [name for name, _ in wanted])
    for root in dict.fromkeys(root for _, root in wanted):
        _check_year(root, ed)
    summary = {"fetched": [], "present": [], "bytes": 0, "files": 0}
    with requests.Session() as session:
        archives = [archive for name, root in wanted
                    for archive in _plan(ed, name, root, chosen.get(name, []), server, session)]
        todo = []
        for archive in archives:
            marker = archive.marker
            if marker.is_file() and marker.read_text().strip() == archive.remote.md5:
                _mark_year(archive.root, ed)
                summary["present"].append(archive.remote.name)
                print(f"{archive.remote.name}: already present in {archive.root} (delete {marker} to fetch it again)")
            else:
                todo.append(archive)
        _check_space(todo)
        for archive in todo:
            path = _fetch(archive, session, progress)
            placed = _install(archive, path)  # writes the root's YEAR_FILE before its first file
            atomic_write_text(archive.marker, archive.remote.md5 + "\n")
            if not keep_archives:
                path.unlink()
            summary["fetched"].append(archive.remote.name)
            summary["bytes"] += archive.remote.size
            summary["files"] += placed
            print(f"{archive.remote.name}: fetched {tqdm.format_sizeof(archive.remote.size, 'B')}, "
                  f"placed {placed} file(s) in {archive.root}")
    return summary
