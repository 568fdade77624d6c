"""The Zenodo downloader against a local HTTP server that serves records and archives built here."""
from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from helpers.data import download, editions, groundtruth, layout
from helpers.errors import ConfigError, DataLayoutError, ToolkitError

TYPES = ("fan", "ToyCar")
RECORDS_2020 = editions.edition(2020).records
GROUND_TRUTH_CSV = b"fan\nid_01_00000000.wav,anomaly_id_01_00000003.wav,1\n"


def wav_bytes(seed: int) -> bytes:
    """0.1 s of quiet noise at 16 kHz as a 16-bit WAV file."""
    buffer = io.BytesIO()
    noise = 0.05 * np.random.default_rng(seed).standard_normal(1600)
    sf.write(buffer, noise, 16_000, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zipped:
        for name, data in entries.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


LAYOUTS = {  # archive name pattern -> the <split>/<file> names it holds per machine type
    "dev_data_{}.zip": ["train/normal_id_00_00000000.wav", "train/normal_id_00_00000001.wav",
                        "test/normal_id_00_00000000.wav", "test/anomaly_id_00_00000000.wav"],
    "eval_data_train_{}.zip": ["train/normal_id_01_00000000.wav"],
    "eval_data_test_{}.zip": ["test/id_01_00000000.wav", "test/id_01_00000001.wav"],
}


def attributes_table(wavs: list[str]) -> bytes:
    """A small attributes_XX.csv listing the given clips."""
    return b"file_name,d1p,d1v\n" + b"".join(f"{wav},a,1\n".encode() for wav in wavs)


def edition_archives(year: int) -> dict[str, dict[str, list[str] | bytes]]:
    """An edition's fake records: {set: {file name: the paths the archive holds, or the file's bytes}}.

    A .wav path gets a short clip, a .csv path an attributes table of the archive's clips.
    """
    ed = editions.EDITIONS[year]
    if year == 2021:  # every type; test clips in source_test/ and target_test/
        return {
            "dev": {f"dev_data_{t}.zip": [f"{t}/train/section_00_source_train_normal_0000_a_1.wav",
                                          f"{t}/train/section_01_target_train_normal_0000_a_2.wav",
                                          f"{t}/source_test/section_00_source_test_normal_0000_a_1.wav",
                                          f"{t}/target_test/section_01_target_test_anomaly_0000_a_2.wav"]
                    for t in ed.dev_types},
            "additional": {f"eval_data_{t}_train.zip": [f"{t}/train/section_03_source_train_normal_0000_a_1.wav"]
                           for t in ed.eval_types},
            "eval": {f"eval_data_{t}_test.zip": [f"{t}/source_test/section_03_source_test_0000.wav",
                                                 f"{t}/target_test/section_03_target_test_0000.wav"]
                     for t in ed.eval_types},
        }
    if year == 2023:  # evaluation types differ from the development types; attribute tables beside the folders
        return {
            "dev": {f"dev_{t}.zip": [f"{t}/train/section_00_source_train_normal_0000_a_1.wav",
                                     f"{t}/test/section_00_target_test_anomaly_0000_a_2.wav", f"{t}/attributes_00.csv"]
                    for t in ed.dev_types},
            "additional": {f"eval_data_{t}_train.zip": [f"{t}/train/section_00_source_train_normal_0000_a_1.wav",
                                                        f"{t}/attributes_00.csv"] for t in ed.eval_types},
            "eval": {f"eval_data_{t}_test.zip": [f"{t}/test/section_00_0000.wav", f"{t}/test/section_00_0001.wav",
                                                 f"{t}/attributes_00.csv"] for t in ed.eval_types},
        }
    if year == 2024:  # a revised archive beside the one it revises
        clip = "train/section_00_source_train_normal_0000_noAttribute.wav"
        return {"additional": {"eval_data_3DPrinter_train.zip": [f"3DPrinter/{clip}"],
                               "eval_data_3DPrinter_train_r2.zip": [f"3DPrinter/{clip}", "3DPrinter/attributes_00.csv"],
                               "eval_data_Scanner_train.zip": [f"Scanner/{clip}"]}}
    if year == 2026:  # two of the five evaluation types, beside a file that is not an archive
        clip = "train/section_00_source_train_normal_0000_a_1.wav"
        return {"additional": {"eval_data_Sander_train.zip": [f"Sander/{clip}"],
                               "eval_data_ToyDrone_train.zip": [f"ToyDrone/{clip}", "ToyDrone/attributes_00.csv"],
                               "README.md": b"not an archive: ignored"}}
    raise ValueError(year)


def make_records(year: int = 2020) -> tuple[dict[int, dict[str, bytes]], dict[str, dict[str, bytes]]]:
    """The served records ({record id: {file name: bytes}}) and each archive's entries ({name: {path: bytes}})."""
    contents, seed = {}, 0
    if year != 2020:
        records = {}
        for set_name, archives in edition_archives(year).items():
            files = records.setdefault(editions.EDITIONS[year].records[set_name], {})
            for name, paths in archives.items():
                if isinstance(paths, bytes):
                    files[name] = paths
                    continue
                entries = {}
                for path in paths:
                    seed += 1
                    entries[path] = wav_bytes(seed) if path.endswith(".wav") else \
                        attributes_table([p for p in paths if p.endswith(".wav")])
                contents[name] = entries
                files[name] = zip_bytes(entries)
        return records, contents
    for machine_type in TYPES:
        top = "dev_data/" if machine_type == "ToyCar" else ""  # ToyCar's archives wrap everything in a top folder
        for pattern, names in LAYOUTS.items():
            entries = {}
            for name in names:
                seed += 1
                entries[f"{top}{machine_type}/{name}"] = wav_bytes(seed)
            entries[f"{top}{machine_type}/train/.DS_Store"] = b"hidden: ignored"
            entries["readme.txt"] = b"outside the layout: ignored"
            contents[pattern.format(machine_type)] = entries
    records = {RECORDS_2020[key]: {name: zip_bytes(contents[name]) for name in contents if name.startswith(prefix)}
               for key, prefix in (("dev", "dev_data_"), ("additional", "eval_data_train_"), ("eval", "eval_data_test_"))}
    records[RECORDS_2020["ground_truth"]] = {"eval_ground_truth.zip": zip_bytes({"gt/list_2020.csv": GROUND_TRUTH_CSV})}
    return records, contents


class Mirror:
    """A Zenodo stand-in for one edition: /api/records/<id> and /files/<id>/<name>, with switches for failures."""

    def __init__(self, year: int = 2020):
        self.records, self.contents = make_records(year)
        self.truncate: dict[str, int] = {}  # file name -> how many of its next responses are cut in half
        self.wrong_md5: set[str] = set()  # files published with a wrong checksum
        self.errors: dict[str, list[int]] = {}  # file name -> the HTTP error statuses of its next responses, in order
        self.ignore_range: set[str] = set()  # files always served whole (HTTP 200), whatever Range asks for
        self.log: list[tuple[str, str | None]] = []  # (path, Range header) of every request
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def file(self, name: str) -> bytes:
        return next(files[name] for files in self.records.values() if name in files)

    def record_requests(self) -> list[int]:
        return [int(p.rsplit("/", 1)[1]) for p, _ in self.log if p.startswith("/api/records/")]

    def file_requests(self, name: str | None = None) -> list[tuple[str, str | None]]:
        return [(p, r) for p, r in self.log if p.startswith("/files/") and (name is None or p.endswith(f"/{name}"))]

    def _record(self, record_id: int) -> dict:
        files = []
        for name, data in self.records[record_id].items():
            md5 = hashlib.md5(data + b"x" if name in self.wrong_md5 else data).hexdigest()
            files.append({"key": name, "size": len(data), "checksum": f"md5:{md5}",
                          "links": {"self": f"{self.url}/files/{record_id}/{name}"}})
        return {"id": record_id, "files": files}

    def _handler(self):
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                mirror.log.append((self.path, self.headers.get("Range")))
                match = re.fullmatch(r"/api/records/(\d+)", self.path)
                if match and int(match[1]) in mirror.records:
                    return self._send(200, json.dumps(mirror._record(int(match[1]))).encode(), "application/json")
                match = re.fullmatch(r"/files/(\d+)/(.+)", self.path)
                if not match or match[2] not in mirror.records.get(int(match[1]), {}):
                    return self._send(404, b"not found", "text/plain")
                name, data = match[2], mirror.records[int(match[1])][match[2]]
                if mirror.errors.get(name):
                    status = mirror.errors[name].pop(0)
                    headers = {"Content-Range": f"bytes */{len(data)}"} if status == 416 else {}
                    return self._send(status, b"error", "text/plain", headers)
                asked = None if name in mirror.ignore_range else self.headers["Range"]
                start = int(re.fullmatch(r"bytes=(\d+)-", asked)[1]) if asked else 0
                headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"} if start else {}
                body = data[start:]
                if mirror.truncate.get(name, 0) > 0:
                    mirror.truncate[name] -= 1
                    return self._send(206 if start else 200, body, "application/zip", headers, len(body) // 2)
                return self._send(206 if start else 200, body, "application/zip", headers)

            def _send(self, status, body, kind, headers=None, cut=None):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body[:cut])
                self.close_connection = True

        return Handler


@pytest.fixture
def mirror():
    served = Mirror()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def serve():
    """serve(year): a mirror serving that edition's fake records, stopped after the test."""
    started = []

    def start(year: int) -> Mirror:
        started.append(Mirror(year))
        return started[-1]

    yield start
    for served in started:
        served.server.shutdown()
        served.server.server_close()


def fetch(mirror, tmp_path, **options):
    options = {"types": list(TYPES), "server": mirror.url, "progress": False, **options}
    return download.download(tmp_path / "dev_data", tmp_path / "eval_data", **options)


def fetch_year(mirror, tmp_path, year, **options):
    options = {"server": mirror.url, "progress": False, "year": year, **options}
    return download.download(tmp_path / "dev_data", tmp_path / "eval_data", **options)


def layout_files(root: Path, suffix: str = ".wav") -> dict[str, bytes]:
    """Every file ending in `suffix` under root's machine-type (non-hidden) folders: {relative path: bytes}."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for d in sorted(root.iterdir())
            if d.is_dir() and not d.name.startswith(".") for p in sorted(d.rglob("*")) if p.is_file()
            and p.name.endswith(suffix)}


def expected_files(mirror, archives, suffix: str = ".wav") -> dict[str, bytes]:
    return {path.removeprefix("dev_data/"): data for archive in archives
            for path, data in mirror.contents[archive].items() if path.endswith(suffix)}


def tree(root: Path) -> list[str]:
    """Every path under root, relative, sorted."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def leave_part(tmp_path, name: str, data: bytes) -> Path:
    """The .part file an interrupted earlier run leaves in the dev root's work folder."""
    work = tmp_path / "dev_data" / ".download"
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{name}.part").write_bytes(data)
    return work / f"{name}.part"


def file_path(name: str) -> str:
    """The mirror's URL path of a development archive."""
    return f"/files/{RECORDS_2020['dev']}/{name}"


def test_dev_download_unpacks_both_types_marks_them_done_and_cleans_up(mirror, tmp_path):
    summary = fetch(mirror, tmp_path)
    dest = tmp_path / "dev_data"
    archives = ["dev_data_fan.zip", "dev_data_ToyCar.zip"]
    assert summary == {"fetched": archives, "present": [], "files": 8,
                       "bytes": sum(len(mirror.file(a)) for a in archives)}
    assert layout_files(dest) == expected_files(mirror, archives)
    assert "fan/test/anomaly_id_00_00000000.wav" in layout_files(dest)
    assert "ToyCar/train/normal_id_00_00000001.wav" in layout_files(dest)
    work = dest / ".download"
    assert sorted(p.name for p in work.iterdir()) == ["dev_data_ToyCar.zip.done", "dev_data_fan.zip.done"]
    assert (work / "dev_data_fan.zip.done").read_text().strip() == hashlib.md5(mirror.file("dev_data_fan.zip")).hexdigest()
    assert (dest / layout.YEAR_FILE).read_text() == "2020\n" and layout.detect(dest).year == 2020
    assert mirror.record_requests() == [editions.EDITIONS[2020].records["dev"]]
    assert not (tmp_path / "eval_data").exists()


def test_keep_archives_leaves_the_verified_archives(mirror, tmp_path):
    fetch(mirror, tmp_path, keep_archives=True)
    work = tmp_path / "dev_data" / ".download"
    for archive in ("dev_data_fan.zip", "dev_data_ToyCar.zip"):
        assert (work / archive).read_bytes() == mirror.file(archive)
        assert (work / f"{archive}.done").is_file()
    assert not list(work.glob("*.part")) and not list(work.glob("*.unpack"))


def test_second_run_fetches_nothing_and_reports_archives_present(mirror, tmp_path, capsys):
    fetch(mirror, tmp_path)
    mirror.log.clear()
    capsys.readouterr()
    summary = fetch(mirror, tmp_path)
    assert summary == {"fetched": [], "present": ["dev_data_fan.zip", "dev_data_ToyCar.zip"], "bytes": 0, "files": 0}
    assert mirror.file_requests() == []
    assert [p for p, _ in mirror.log] == [f"/api/records/{RECORDS_2020['dev']}"]
    out = capsys.readouterr().out
    assert "dev_data_fan.zip: already present in" in out and "dev_data_ToyCar.zip: already present in" in out


def test_types_select_the_archives(mirror, tmp_path):
    summary = fetch(mirror, tmp_path, types=["fan"])
    assert summary["fetched"] == ["dev_data_fan.zip"]
    assert [p for p, _ in mirror.file_requests()] == [f"/files/{RECORDS_2020['dev']}/dev_data_fan.zip"]
    assert sorted(p.name for p in (tmp_path / "dev_data").iterdir()) == [".dcase_year", ".download", "fan"]


def test_truncated_download_resumes_with_a_range_request(mirror, tmp_path):
    data = mirror.file("dev_data_fan.zip")
    mirror.truncate["dev_data_fan.zip"] = 1
    fetch(mirror, tmp_path, types=["fan"])
    assert [r for _, r in mirror.file_requests("dev_data_fan.zip")] == [None, f"bytes={len(data) // 2}-"]
    assert layout_files(tmp_path / "dev_data") == expected_files(mirror, ["dev_data_fan.zip"])


def test_download_that_always_stops_short_names_the_archive_and_the_bytes(mirror, tmp_path):
    size = len(mirror.file("dev_data_fan.zip"))
    mirror.truncate["dev_data_fan.zip"] = 100
    with pytest.raises(ToolkitError) as err:
        fetch(mirror, tmp_path, types=["fan"])
    message = str(err.value)
    received = int(re.search(rf"received (\d+) of {size} bytes", message)[1])
    assert "dev_data_fan.zip" in message and 0 < received < size
    assert len(mirror.file_requests()) == download.ATTEMPTS
    dest = tmp_path / "dev_data"
    assert not (dest / "fan").exists() and not (dest / ".download" / "dev_data_fan.zip.done").exists()
    assert (dest / ".download" / "dev_data_fan.zip.part").stat().st_size == received  # kept for the next run


@pytest.mark.parametrize("status", [503, 500])
def test_server_errors_are_retried_within_the_attempts(mirror, tmp_path, status):
    mirror.errors["dev_data_fan.zip"] = [status] * (download.ATTEMPTS - 1)
    summary = fetch(mirror, tmp_path, types=["fan"])
    assert summary["fetched"] == ["dev_data_fan.zip"]
    assert mirror.file_requests() == [(file_path("dev_data_fan.zip"), None)] * download.ATTEMPTS
    assert layout_files(tmp_path / "dev_data") == expected_files(mirror, ["dev_data_fan.zip"])
    marker = tmp_path / "dev_data" / ".download" / "dev_data_fan.zip.done"
    assert marker.read_text().strip() == hashlib.md5(mirror.file("dev_data_fan.zip")).hexdigest()


def test_server_errors_keep_the_part_and_the_download_resumes_after_them(mirror, tmp_path):
    data = mirror.file("dev_data_fan.zip")
    leave_part(tmp_path, "dev_data_fan.zip", data[:1000])
    mirror.errors["dev_data_fan.zip"] = [503, 500]
    fetch(mirror, tmp_path, types=["fan"], keep_archives=True)
    assert mirror.file_requests() == [(file_path("dev_data_fan.zip"), "bytes=1000-")] * 3
    assert (tmp_path / "dev_data" / ".download" / "dev_data_fan.zip").read_bytes() == data
    assert layout_files(tmp_path / "dev_data") == expected_files(mirror, ["dev_data_fan.zip"])


def test_more_server_errors_than_attempts_name_the_archive_the_url_and_the_reason(mirror, tmp_path):
    mirror.errors["dev_data_fan.zip"] = [503] * (download.ATTEMPTS + 1)
    with pytest.raises(ToolkitError) as err:
        fetch(mirror, tmp_path, types=["fan"])
    message = str(err.value)
    assert message.startswith(f"download of dev_data_fan.zip from {mirror.url}{file_path('dev_data_fan.zip')} "
                              f"stopped short after {download.ATTEMPTS} attempts")
    assert "(last: 503 Server Error: Service Unavailable for url:" in message
    assert len(mirror.file_requests()) == download.ATTEMPTS
    assert tree(tmp_path / "dev_data") == [".download"]  # no part, no marker, no machine-type folder


def test_server_ignoring_the_range_gets_the_part_rewritten_with_the_whole_file(mirror, tmp_path):
    data = mirror.file("dev_data_fan.zip")
    mirror.truncate["dev_data_fan.zip"] = 1
    mirror.ignore_range.add("dev_data_fan.zip")
    summary = fetch(mirror, tmp_path, types=["fan"], keep_archives=True)
    assert summary["fetched"] == ["dev_data_fan.zip"]
    # the resume request is answered 200 with the whole file, which passes its checksum at once: no third request
    assert [r for _, r in mirror.file_requests()] == [None, f"bytes={len(data) // 2}-"]
    assert (tmp_path / "dev_data" / ".download" / "dev_data_fan.zip").read_bytes() == data
    assert layout_files(tmp_path / "dev_data") == expected_files(mirror, ["dev_data_fan.zip"])


def test_range_not_satisfiable_restarts_the_download_from_the_first_byte(mirror, tmp_path):
    data = mirror.file("dev_data_fan.zip")
    leave_part(tmp_path, "dev_data_fan.zip", b"stale" * 200)
    mirror.errors["dev_data_fan.zip"] = [416]
    fetch(mirror, tmp_path, types=["fan"], keep_archives=True)
    assert [r for _, r in mirror.file_requests()] == ["bytes=1000-", None]
    assert (tmp_path / "dev_data" / ".download" / "dev_data_fan.zip").read_bytes() == data
    assert layout_files(tmp_path / "dev_data") == expected_files(mirror, ["dev_data_fan.zip"])


@pytest.mark.parametrize("status, reason", [(403, "Forbidden"), (404, "Not Found")])
def test_client_error_stops_at_once_naming_the_url_and_keeps_the_part(mirror, tmp_path, status, reason):
    data = mirror.file("dev_data_fan.zip")
    part = leave_part(tmp_path, "dev_data_fan.zip", data[:1000])
    mirror.errors["dev_data_fan.zip"] = [status]
    with pytest.raises(ToolkitError) as err:
        fetch(mirror, tmp_path, types=["fan"])
    url = f"{mirror.url}{file_path('dev_data_fan.zip')}"
    assert str(err.value).startswith(f"{url} answered HTTP {status} {reason} for dev_data_fan.zip; ")
    assert mirror.file_requests() == [(file_path("dev_data_fan.zip"), "bytes=1000-")]
    assert tree(tmp_path / "dev_data") == [".download", ".download/dev_data_fan.zip.part"]
    assert part.read_bytes() == data[:1000]  # kept for a later run to resume


def test_wrong_checksum_names_both_md5s_and_removes_the_download(mirror, tmp_path):
    data = mirror.file("dev_data_fan.zip")
    mirror.wrong_md5.add("dev_data_fan.zip")
    with pytest.raises(ToolkitError) as err:
        fetch(mirror, tmp_path, types=["fan"])
    message = str(err.value)
    assert "dev_data_fan.zip" in message
    assert f"expected MD5 {hashlib.md5(data + b'x').hexdigest()}, received {hashlib.md5(data).hexdigest()}" in message
    work = tmp_path / "dev_data" / ".download"
    assert list(work.iterdir()) == []
    assert not (tmp_path / "dev_data" / "fan").exists()


def test_interrupted_run_is_resumed_from_the_part_file(mirror, tmp_path):
    leave_part(tmp_path, "dev_data_ToyCar.zip", mirror.file("dev_data_ToyCar.zip")[:1000])
    summary = fetch(mirror, tmp_path, types=["ToyCar"])
    assert summary["fetched"] == ["dev_data_ToyCar.zip"]
    assert mirror.file_requests() == [(file_path("dev_data_ToyCar.zip"), "bytes=1000-")]
    assert layout_files(tmp_path / "dev_data") == expected_files(mirror, ["dev_data_ToyCar.zip"])


def test_eval_additional_and_ground_truth_go_into_the_eval_root(mirror, tmp_path):
    summary = fetch(mirror, tmp_path, dev=False, additional=True, evaluation=True)
    assert summary["fetched"] == ["eval_data_train_fan.zip", "eval_data_train_ToyCar.zip", "eval_data_test_fan.zip",
                                  "eval_data_test_ToyCar.zip", "eval_ground_truth.zip"]
    root = tmp_path / "eval_data"
    assert layout_files(root) == expected_files(mirror, [n for n in summary["fetched"] if n.startswith("eval_data_")])
    assert (root / "fan" / "test" / "id_01_00000001.wav").is_file()
    assert (root / "ToyCar" / "train" / "normal_id_01_00000000.wav").is_file()
    assert (root / groundtruth.FILE_NAME).read_bytes() == GROUND_TRUTH_CSV
    assert not (tmp_path / "dev_data").exists()


def test_archive_entry_leaving_the_folder_is_refused(mirror, tmp_path):
    evil = zip_bytes({"fan/train/normal_id_00_00000000.wav": wav_bytes(0), "../evil.wav": b"outside"})
    mirror.records[RECORDS_2020["dev"]]["dev_data_fan.zip"] = evil
    with pytest.raises(ToolkitError, match=r"dev_data_fan\.zip holds the entry '\.\./evil\.wav'"):
        fetch(mirror, tmp_path, types=["fan"])
    assert [p.name for p in tmp_path.rglob("evil.wav")] == []
    assert not (tmp_path / "dev_data" / "fan").exists()
    assert not (tmp_path / "dev_data" / ".download" / "dev_data_fan.zip.done").exists()


def test_archive_that_is_not_a_zip_is_reported_and_deleted(mirror, tmp_path):
    mirror.records[RECORDS_2020["dev"]]["dev_data_fan.zip"] = b"<html>maintenance</html>"
    with pytest.raises(ToolkitError, match=r"cannot unpack dev_data_fan\.zip: not a valid zip archive"):
        fetch(mirror, tmp_path, types=["fan"])
    assert list((tmp_path / "dev_data" / ".download").iterdir()) == []


@pytest.mark.parametrize("entries, found", [
    ({"normal_id_00_00000000.wav": wav_bytes(0), "readme.txt": b"x"}, "['normal_id_00_00000000.wav', 'readme.txt']"),
    ({"gearbox/train/normal_id_00_00000000.wav": wav_bytes(0)}, "['gearbox/train/normal_id_00_00000000.wav']"),
], ids=["files-at-the-top", "unknown-machine-type"])
def test_archive_without_the_layout_is_reported_left_unmarked_and_tried_again(mirror, tmp_path, entries, found):
    dev = mirror.records[RECORDS_2020["dev"]]
    dev["dev_data_fan.zip"] = zip_bytes(entries)
    with pytest.raises(DataLayoutError) as err:
        fetch(mirror, tmp_path, types=["fan"])
    message = str(err.value)
    assert message.startswith("dev_data_fan.zip holds no <machine_type>/train or <machine_type>/test folder")
    assert message.endswith(f"found: {found}")
    dest = tmp_path / "dev_data"
    # nothing placed, nothing marked done; the verified archive stays for the next run
    assert tree(dest) == [".download", ".download/dev_data_fan.zip"]
    with pytest.raises(DataLayoutError):
        fetch(mirror, tmp_path, types=["fan"])
    assert len(mirror.file_requests()) == 1  # the second run unpacked the kept archive again
    dev["dev_data_fan.zip"] = zip_bytes(mirror.contents["dev_data_fan.zip"])  # the record is mended: a new MD5
    assert fetch(mirror, tmp_path, types=["fan"])["fetched"] == ["dev_data_fan.zip"]
    assert len(mirror.file_requests()) == 2
    assert layout_files(dest) == expected_files(mirror, ["dev_data_fan.zip"])
    assert tree(dest / ".download") == ["dev_data_fan.zip.done"]


def test_unreachable_server_names_the_url(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(ToolkitError, match=rf"cannot reach {re.escape(url)}/api/records/{RECORDS_2020['dev']}: .*--server"):
        download.download(tmp_path / "dev_data", tmp_path / "eval_data", server=url, progress=False)


def test_record_the_server_does_not_hold_names_the_url(mirror, tmp_path):
    record = RECORDS_2020["dev"]
    del mirror.records[record]
    with pytest.raises(ToolkitError) as err:
        fetch(mirror, tmp_path)
    assert str(err.value).startswith(f"{mirror.url}/api/records/{record} answered HTTP 404 Not Found; "
                                     f"expected Zenodo record {record}")
    assert tree(tmp_path) == []


def test_record_without_a_machine_type_names_the_record_and_its_files_before_fetching_any(mirror, tmp_path):
    del mirror.records[RECORDS_2020["dev"]]["dev_data_fan.zip"]
    with pytest.raises(ToolkitError) as err:
        fetch(mirror, tmp_path, types=["ToyCar", "fan"])
    assert str(err.value) == (f"Zenodo record {RECORDS_2020['dev']} (development set of DCASE 2020 Task 2) on "
                              f"{mirror.url} has no archive of machine type fan (a .zip file with fan as a whole "
                              f"_-separated part of its name); its files: dev_data_ToyCar.zip")
    assert mirror.file_requests() == []


def test_record_listing_a_file_name_with_a_folder_is_refused(mirror, tmp_path):
    dev = mirror.records[RECORDS_2020["dev"]]
    dev["../dev_data_fan.zip"] = dev.pop("dev_data_fan.zip")
    with pytest.raises(ToolkitError, match=r"did not answer a Zenodo record: .*\(file name '\.\./dev_data_fan\.zip' "
                                           r"is not a plain file name\)"):
        fetch(mirror, tmp_path, types=["fan"])
    assert mirror.file_requests() == []
    assert tree(tmp_path) == []


def test_too_little_disk_space_stops_before_fetching(mirror, tmp_path, monkeypatch):
    monkeypatch.setattr(download.shutil, "disk_usage", lambda path: SimpleNamespace(free=100))
    with pytest.raises(ToolkitError, match=r"not enough free disk space in .*dev_data: the download needs about .*100B is free"):
        fetch(mirror, tmp_path)
    assert mirror.file_requests() == []


# --- other editions -------------------------------------------------------------------------------------------------

def records_of(year: int, *sets: str) -> list[int]:
    return [editions.EDITIONS[year].records[s] for s in sets]


def test_2021_archives_fill_the_source_and_target_test_folders_and_mark_both_roots(serve, tmp_path):
    mirror = serve(2021)
    ed = editions.EDITIONS[2021]
    summary = fetch_year(mirror, tmp_path, 2021, additional=True, evaluation=True)
    assert mirror.record_requests() == records_of(2021, "dev", "additional", "eval")  # no ground-truth record
    dev_archives = [f"dev_data_{t}.zip" for t in ed.dev_types]
    eval_archives = [f"eval_data_{t}_{part}.zip" for part in ("train", "test") for t in ed.eval_types]
    assert summary["fetched"] == dev_archives + eval_archives and summary["files"] == 4 * 7 + 3 * 7
    dev, evaluation = tmp_path / "dev_data", tmp_path / "eval_data"
    assert layout_files(dev) == expected_files(mirror, dev_archives)
    assert layout_files(evaluation) == expected_files(mirror, eval_archives)
    assert sorted(p.name for p in (dev / "gearbox").iterdir()) == ["source_test", "target_test", "train"]
    assert sorted(p.name for p in (evaluation / "fan").iterdir()) == ["source_test", "target_test", "train"]
    for root in (dev, evaluation):
        assert (root / layout.YEAR_FILE).read_text() == "2021\n" and layout.detect(root).year == 2021
    assert not (evaluation / groundtruth.FILE_NAME).exists()
    test = layout.list_clips(dev, "fan", "test")  # the placed names and folders follow the 2021 rules
    assert [(c.domain, c.label) for c in test] == [("source", 0), ("target", 1)]
    assert [c.domain for c in layout.list_clips(evaluation, "valve", "test")] == ["source", "target"]


def test_2023_dev_and_eval_types_differ_and_attribute_tables_are_kept_beside_the_folders(serve, tmp_path):
    mirror = serve(2023)
    summary = fetch_year(mirror, tmp_path, 2023, types=["fan", "bandsaw"], additional=True, evaluation=True)
    assert mirror.record_requests() == records_of(2023, "dev", "additional", "eval")
    assert summary["fetched"] == ["dev_fan.zip", "eval_data_bandsaw_train.zip", "eval_data_bandsaw_test.zip"]
    dev, evaluation = tmp_path / "dev_data", tmp_path / "eval_data"
    assert layout_files(dev) == expected_files(mirror, ["dev_fan.zip"])
    assert layout_files(dev, ".csv") == {"fan/attributes_00.csv": mirror.contents["dev_fan.zip"]["fan/attributes_00.csv"]}
    assert layout_files(evaluation) == expected_files(mirror, summary["fetched"][1:])
    # the training and the test archive each bring bandsaw's table: one table with the rows of both
    assert (evaluation / "bandsaw" / "attributes_00.csv").read_text().splitlines() == [
        "file_name,d1p,d1v", "bandsaw/train/section_00_source_train_normal_0000_a_1.wav,a,1",
        "bandsaw/test/section_00_0000.wav,a,1", "bandsaw/test/section_00_0001.wav,a,1"]
    for root in (dev, evaluation):
        assert layout.detect(root).year == 2023
    assert [c.label for c in layout.list_clips(evaluation, "bandsaw", "test")] == [None, None]


def test_2023_default_types_are_the_dev_types_for_dev_and_the_eval_types_for_eval(serve, tmp_path):
    mirror = serve(2023)
    ed = editions.EDITIONS[2023]
    summary = fetch_year(mirror, tmp_path, 2023, additional=True)
    assert summary["fetched"] == [f"dev_{t}.zip" for t in ed.dev_types] + [f"eval_data_{t}_train.zip" for t in ed.eval_types]
    assert sorted(p.name for p in (tmp_path / "eval_data").iterdir()) == sorted(
        [".dcase_year", ".download", *ed.eval_types])


@pytest.mark.parametrize("year, archive", [(2021, "dev_data_fan.zip"), (2023, "dev_fan.zip")])
def test_other_editions_resume_a_cut_download_with_a_range_request(serve, tmp_path, year, archive):
    mirror = serve(year)
    data = mirror.file(archive)
    mirror.truncate[archive] = 1
    fetch_year(mirror, tmp_path, year, types=["fan"])
    assert [r for _, r in mirror.file_requests(archive)] == [None, f"bytes={len(data) // 2}-"]
    assert layout_files(tmp_path / "dev_data") == expected_files(mirror, [archive])
    assert layout.detect(tmp_path / "dev_data").year == year


@pytest.mark.parametrize("year, archive", [(2021, "eval_data_fan_test.zip"), (2023, "eval_data_bandsaw_test.zip")])
def test_other_editions_check_the_md5_and_write_nothing_on_a_mismatch(serve, tmp_path, year, archive):
    mirror = serve(year)
    data = mirror.file(archive)
    mirror.wrong_md5.add(archive)
    with pytest.raises(ToolkitError) as err:
        fetch_year(mirror, tmp_path, year, types=[archive.split("_")[2]], dev=False, evaluation=True)
    assert f"expected MD5 {hashlib.md5(data + b'x').hexdigest()}, received {hashlib.md5(data).hexdigest()}" in str(err.value)
    assert len(mirror.file_requests(archive)) == download.ATTEMPTS
    assert tree(tmp_path / "eval_data") == [".download"]  # no clip, no marker, no .dcase_year


@pytest.mark.parametrize("year, options, message", [
    (2021, {"types": ["gearbx"]}, "unknown machine type(s) ['gearbx'] for the development set of DCASE 2021 Task 2 "
                                  "(did you mean 'gearbox'?); accepted: ToyCar, ToyTrain, fan, gearbox, pump, slider, valve"),
    (2020, {"types": ["gearbox"]}, "unknown machine type(s) ['gearbox'] for the development set of DCASE 2020 Task 2; "
                                   "accepted: ToyCar, ToyConveyor, fan, pump, slider, valve"),
    (2023, {"types": ["bandsaw"]}, "unknown machine type(s) ['bandsaw'] for the development set of DCASE 2023 Task 2; "
                                   "accepted: ToyCar, ToyTrain, bearing, fan, gearbox, slider, valve; 'bandsaw' is a "
                                   "machine type of the additional training and evaluation test sets of DCASE 2023 "
                                   "Task 2, which were not asked for"),
    (2023, {"types": ["toydrone", "vacum"], "dev": False, "additional": True},
     "unknown machine type(s) ['toydrone', 'vacum'] for the additional training set of DCASE 2023 Task 2 (did you mean "
     "'ToyDrone' for 'toydrone', 'Vacuum' for 'vacum'?); accepted: ToyDrone, ToyNscale, ToyTank, Vacuum, bandsaw, "
     "grinder, shaker"),
    (2023, {"types": ["fan"], "additional": True},
     "the additional training set of DCASE 2023 Task 2 holds none of the machine types ['fan']; its types: ToyDrone, "
     "ToyNscale, ToyTank, Vacuum, bandsaw, grinder, shaker; add some of them or leave that set out"),
    (2026, {"types": ["Toothbrush", "fan"], "dev": False, "additional": True},
     "unknown machine type(s) ['Toothbrush', 'fan'] for the additional training set of DCASE 2026 Task 2 (did you "
     "mean 'ToothBrush'?); accepted: BlowerDustCollector, Sander, SewingMachine, ToothBrush, "
     "ToyDrone; 'fan' is a machine type of the development set of DCASE 2026 Task 2, which were not asked for"),
    (2026, {"evaluation": True}, "no evaluation test record of DCASE 2026 Task 2 is known yet"),
    (2019, {}, "year 2019 is not a DCASE anomalous-sound edition; accepted: 2020, 2021"),
], ids=["2021-near-miss", "2020-type-of-a-later-year", "2023-eval-type-for-dev", "2023-two-near-misses",
        "2023-dev-type-for-additional", "2026-near-miss-and-dev-type", "2026-evaluation", "unknown-year"])
def test_bad_year_types_or_sets_are_refused_before_any_request(mirror, tmp_path, year, options, message):
    with pytest.raises(ConfigError) as err:
        fetch_year(mirror, tmp_path, year, **options)
    assert message in str(err.value)
    assert mirror.log == [] and tree(tmp_path) == []


def test_2026_additional_set_fetches_the_archives_of_the_types_asked_for(serve, tmp_path):
    mirror = serve(2026)
    summary = fetch_year(mirror, tmp_path, 2026, types=["Sander", "ToyDrone"], dev=False, additional=True)
    assert summary["fetched"] == ["eval_data_Sander_train.zip", "eval_data_ToyDrone_train.zip"]  # not README.md
    root = tmp_path / "eval_data"
    assert layout_files(root) == expected_files(mirror, summary["fetched"])
    assert (root / "ToyDrone" / "attributes_00.csv").is_file() and layout.detect(root).year == 2026
    other = tmp_path / "other"
    chosen = download.download(tmp_path / "unused", other, types="ToyDrone", dev=False, additional=True,
                               server=mirror.url, progress=False, year="2026")
    assert chosen["fetched"] == ["eval_data_ToyDrone_train.zip"]
    with pytest.raises(ToolkitError, match=r"Zenodo record 20151556 \(additional training set of DCASE 2026 Task 2\) "
                                           r"on .* has no archive of machine type SewingMachine .*its files: eval_data_Sander"):
        download.download(tmp_path / "unused", other, types="SewingMachine", dev=False, additional=True,
                          server=mirror.url, progress=False, year=2026)
    # no types: each of the set's published types, the first of which this record lacks
    with pytest.raises(ToolkitError, match=r"has no archive of machine type BlowerDustCollector "):
        download.download(tmp_path / "unused", other, dev=False, additional=True,
                          server=mirror.url, progress=False, year=2026)


def test_a_newer_revision_of_an_archive_supersedes_the_older_one(serve, tmp_path, capsys):
    mirror = serve(2024)
    summary = fetch_year(mirror, tmp_path, 2024, types=["3DPrinter"], dev=False, additional=True)
    assert summary["fetched"] == ["eval_data_3DPrinter_train_r2.zip"]
    assert [p for p, _ in mirror.file_requests()] == ["/files/11259435/eval_data_3DPrinter_train_r2.zip"]
    assert layout_files(tmp_path / "eval_data") == expected_files(mirror, ["eval_data_3DPrinter_train_r2.zip"])
    assert "eval_data_3DPrinter_train.zip: superseded by eval_data_3DPrinter_train_r2.zip" in capsys.readouterr().out


def test_a_root_holding_another_edition_is_refused_and_a_present_root_gets_its_year(mirror, tmp_path):
    fetch(mirror, tmp_path, types=["fan"])
    dest = tmp_path / "dev_data"
    mirror.log.clear()
    with pytest.raises(ConfigError, match=rf"{re.escape(str(dest))} already holds data of another edition \(.*"
                                          rf"\.dcase_year says '2020'\); the DCASE 2021 Task 2 data needs a folder"):
        fetch_year(mirror, tmp_path, 2021, types=["fan"])
    (dest / layout.YEAR_FILE).unlink()  # as the 2020-only downloader left its roots
    with pytest.raises(ConfigError, match=r"already holds data laid out as DCASE 2020 Task 2"):
        fetch_year(mirror, tmp_path, 2021, types=["fan"])
    assert mirror.log == []
    assert fetch(mirror, tmp_path, types=["fan"])["present"] == ["dev_data_fan.zip"]
    assert (dest / layout.YEAR_FILE).read_text() == "2020\n"


def test_a_republished_archive_replaces_the_clips_of_the_same_size(mirror, tmp_path):
    fetch(mirror, tmp_path, types=["fan"])
    entries = {path: wav_bytes(1000 + i) if path.endswith(".wav") else data
               for i, (path, data) in enumerate(mirror.contents["dev_data_fan.zip"].items())}
    mirror.contents["dev_data_fan.zip"] = entries
    mirror.records[RECORDS_2020["dev"]]["dev_data_fan.zip"] = zip_bytes(entries)  # a new MD5, same names and sizes
    assert fetch(mirror, tmp_path, types=["fan"])["fetched"] == ["dev_data_fan.zip"]
    assert layout_files(tmp_path / "dev_data") == expected_files(mirror, ["dev_data_fan.zip"])
