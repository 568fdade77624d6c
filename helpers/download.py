"""Downloading the real DCASE 2020 Task 2 data from its Zenodo records.

Each data set is one Zenodo record. Its file names, sizes and MD5 checksums are read from the
Zenodo REST API at run time (``GET <server>/api/records/<id>``), so only the record ids are fixed
here. An archive is streamed into ``<root>/.download/<archive>.part`` (a transfer cut short is
resumed with an HTTP Range request), checked against its MD5, unpacked into a staging folder
beside it and moved file by file into ``<root>/<machine_type>/{train,test}/``. Only then is the
marker ``<root>/.download/<archive>.done`` (holding the MD5) written; an archive with a marker is
skipped by later runs.

Development archives go into the dev data root; the additional training data, the evaluation
test data and the evaluation ground truth go into the eval data root.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import requests
import urllib3
from tqdm.auto import tqdm

from helpers import groundtruth
from helpers.errors import ConfigError, DataLayoutError, ToolkitError
from helpers.fileio import atomic_path, atomic_write_text
from helpers.layout import MACHINE_TYPES, SPLITS

ZENODO = "https://zenodo.org"
SETS = {"dev": 3678171, "additional": 3727685, "eval": 3841772, "ground_truth": 3951620}
WORK_FOLDER = ".download"
ATTEMPTS = 5
TIMEOUT = 60  # seconds to wait for a connection or for the next bytes
CHUNK = 1 << 20


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


def _check_types(types) -> list[str]:
    chosen = list(MACHINE_TYPES) if types is None else [types] if isinstance(types, str) else list(types)
    unknown = [t for t in chosen if t not in MACHINE_TYPES]
    if unknown or not chosen:
        raise ConfigError(f"unknown machine type(s) {unknown or chosen}; accepted: {', '.join(MACHINE_TYPES)}")
    return chosen


def _plan(set_name: str, root: Path, types: list[str], server: str, session: requests.Session) -> list[_Archive]:
    """The archives of one data set to consider: one per machine type, or every ground-truth file."""
    files = record_files(SETS[set_name], server, session)
    if set_name == "ground_truth":
        return [_Archive(f, root, ground_truth=True, only_file=len(files) == 1) for f in files]
    archives = []
    for machine_type in types:
        matching = [f for f in files if f.name.endswith(f"_{machine_type}.zip")]
        if not matching:
            raise ToolkitError(f"Zenodo record {SETS[set_name]} ({set_name} set) on {server} has no archive ending "
                               f"in _{machine_type}.zip; its files: {', '.join(f.name for f in files) or 'none'}")
        archives += [_Archive(f, root) for f in matching]
    return archives


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
    """Move the archive's ``<type>/<split>/<file>`` files (at most one folder deep) into the layout."""
    moves = []
    for file in files:
        parts = file.relative_to(staging).parts
        if len(parts) in (3, 4) and parts[-3] in MACHINE_TYPES and parts[-2] in SPLITS:
            moves.append((file, archive.root.joinpath(*parts[-3:])))
    if not moves:
        found = [str(f.relative_to(staging)) for f in files[:5]]
        raise DataLayoutError(f"{archive.remote.name} holds no <machine_type>/train or <machine_type>/test folder "
                              f"(machine types: {', '.join(MACHINE_TYPES)}); found: {found or 'nothing'}")
    for source, target in moves:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not (target.is_file() and _size(target) == _size(source)):
            os.replace(source, target)
    return len(moves)


def _place_ground_truth(archive: _Archive, files: list[Path]) -> int:
    """Copy ground-truth files into the eval root; a lone CSV of a one-file record becomes groundtruth.FILE_NAME."""
    csvs = [f for f in files if f.suffix.lower() == ".csv"]
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
             server: str = ZENODO, keep_archives: bool = False, progress: bool = True) -> dict:
    """Fetch the DCASE 2020 Task 2 archives and unpack them into the data layout; return a summary.

    dest: the dev data root (development archives); eval_dest: the eval data root (additional
    training data, evaluation test data and ground truth). types: machine types (default all six);
    the ground-truth files are not filtered. dev / additional / evaluation: which sets to fetch
    (evaluation brings the ground truth too). server: the Zenodo base URL (a mirror or a test
    server). keep_archives: keep the verified archives in ``<root>/.download/``. progress: a byte
    progress bar per archive. Archives whose ``.done`` marker holds the published MD5 are skipped.
    Summary: {"fetched": [archive names], "present": [archive names], "bytes": n, "files": n}.
    """
    chosen = _check_types(types)
    dest, eval_dest = Path(dest), Path(eval_dest)
    wanted = [(name, root) for name, on, root in (("dev", dev, dest), ("additional", additional, eval_dest),
                                                  ("eval", evaluation, eval_dest),
                                                  ("ground_truth", evaluation, eval_dest)) if on]
    if not wanted:
        raise ConfigError("nothing to download: set at least one of dev, additional, evaluation")
    summary = {"fetched": [], "present": [], "bytes": 0, "files": 0}
    with requests.Session() as session:
        archives = [archive for name, root in wanted for archive in _plan(name, root, chosen, server, session)]
        todo = []
        for archive in archives:
            marker = archive.marker
            if marker.is_file() and marker.read_text().strip() == archive.remote.md5:
                summary["present"].append(archive.remote.name)
                print(f"{archive.remote.name}: already present in {archive.root} (delete {marker} to fetch it again)")
            else:
                todo.append(archive)
        _check_space(todo)
        for archive in todo:
            path = _fetch(archive, session, progress)
            placed = _install(archive, path)
            atomic_write_text(archive.marker, archive.remote.md5 + "\n")
            if not keep_archives:
                path.unlink()
            summary["fetched"].append(archive.remote.name)
            summary["bytes"] += archive.remote.size
            summary["files"] += placed
            print(f"{archive.remote.name}: fetched {tqdm.format_sizeof(archive.remote.size, 'B')}, "
                  f"placed {placed} file(s) in {archive.root}")
    return summary
