"""The cache folder's upkeep: sizes, what --info reports, --prune, --clear, and the `cache` command."""
import json
import os
import subprocess
import sys

import pytest

from helpers import paths
from helpers.data import cache, catalog, featurecache
from helpers.execution import cli
from helpers.errors import ConfigError
from helpers.data.features import IMPLEMENTATION, FeatureSettings
from tests.conftest import write_wav

DEFAULT_LABEL = "n_mels=128 frames=5 n_fft=1024 hop_length=512 power=2.0 sample_rate=16000"
SMALL_LABEL = "n_mels=64 frames=5 n_fft=1024 hop_length=512 power=2.0 sample_rate=16000"
HOUR_NS = 3600 * 10**9
STALE = "stale (source gone or changed, or made by another version of the log-mel code),"


@pytest.mark.parametrize("text, size", [("1048576", 1048576), ("100B", 100), ("500M", 500 * 2**20), ("2G", 2 * 2**30),
                                        ("1.5GB", int(1.5 * 2**30)), (" 10 GiB ", 10 * 2**30), ("64k", 64 * 1024)])
def test_sizes_in_every_accepted_form(text, size):
    assert cache.parse_size(text, "--max-size") == size


@pytest.mark.parametrize("text", ["2 gigs", "", "-1", "M", "1.5 PB"])
def test_a_bad_size_names_the_setting_and_the_accepted_forms(text):
    with pytest.raises(ConfigError) as caught:
        cache.parse_size(text, "DCASE_CACHE_MAX_SIZE")
    assert str(caught.value) == (f"DCASE_CACHE_MAX_SIZE: cannot read {text!r} as a size; use a number of bytes "
                                 f"(1048576) or a number with K, M, G or T, powers of 1024 (500M, 2G, 1.5GB, 10GiB)")


def test_sizes_for_people():
    assert [cache.format_size(n) for n in (0, 1023, 1536, 200 * 2**20, 3 * 2**40)] == \
        ["0 B", "1023 B", "1.5 KiB", "200.0 MiB", "3.0 TiB"]


def _bytes(entry):
    return entry.stat().st_size + entry.with_suffix(".json").stat().st_size


@pytest.fixture
def small_cache(tmp_path, monkeypatch):
    """A cache folder (DCASE_CACHE_DIR) with 4 + 1 feature entries, two file tables and a regression work file.

    Clip a stays as it was; b's entry lost its record; c was rewritten and d deleted since.
    The file table of state 1 of the data folder was superseded by that of state 2.
    """
    home = tmp_path / "cache"
    monkeypatch.setenv(paths.CACHE_DIR_VARIABLE, str(home))
    clips = {name: str(write_wav(tmp_path / "audio" / f"normal_id_00_0000000{i}.wav", seed=i))
             for i, name in enumerate("abcd")}
    featurecache.log_mels(clips.values(), progress=False)
    featurecache.log_mels([clips["a"]], FeatureSettings(n_mels=64), progress=False)
    entries = {name: featurecache.cache_path(path, FeatureSettings(), home) for name, path in clips.items()}
    entries["a64"] = featurecache.cache_path(clips["a"], FeatureSettings(n_mels=64), home)
    sizes = {name: _bytes(entry) for name, entry in entries.items()}
    entries["b"].with_suffix(".json").unlink()
    sizes["b"] = entries["b"].stat().st_size
    write_wav(tmp_path / "audio" / "normal_id_00_00000002.wav", seconds=1.5, seed=9)
    os.unlink(clips["d"])

    data = tmp_path / "data"
    write_wav(data / "fan" / "train" / "normal_id_00_00000000.wav", seconds=0.5)
    catalog.file_table(data)
    (old_table,) = (home / "file_tables").glob("*.csv")
    os.utime(old_table, ns=(old_table.stat().st_mtime_ns - HOUR_NS,) * 2)
    write_wav(data / "fan" / "train" / "normal_id_00_00000001.wav", seconds=0.5)
    catalog.file_table(data)
    (new_table,) = set((home / "file_tables").glob("*.csv")) - {old_table}

    (home / "regression").mkdir()
    (home / "regression" / "run.bin").write_bytes(b"x" * 100)
    return {"home": home, "clips": clips, "entries": entries, "sizes": sizes, "tables": (old_table, new_table)}


def test_survey_counts_and_sizes_every_kind(small_cache):
    found = cache.survey(small_cache["home"])
    names = {entry: name for name, entry in small_cache["entries"].items()}
    assert {state: sorted(names[e.path] for e in group) for state, group in found.features.items()} == \
        {cache.FRESH: ["a", "a64"], cache.STALE: ["c", "d"], cache.UNKNOWN: ["b"]}
    assert {e.path: e.bytes for group in found.features.values() for e in group} == \
        {small_cache["entries"][n]: size for n, size in small_cache["sizes"].items()}
    old_table, new_table = small_cache["tables"]
    assert [e.path for e in found.file_tables[cache.FRESH]] == [new_table]
    assert [e.path for e in found.file_tables[cache.STALE]] == [old_table]
    assert found.leftovers == [] and found.others == {"regression": (1, 100)}


def test_an_entry_made_by_another_version_of_the_log_mel_code_is_stale_and_never_served(small_cache):
    home, entry = small_cache["home"], small_cache["entries"]["a"]
    record = json.loads(entry.with_suffix(".json").read_text())
    assert record["implementation"] == IMPLEMENTATION
    old_version = {**record, "implementation": IMPLEMENTATION - 1}
    entry.with_suffix(".json").write_text(json.dumps(old_version))
    assert entry in [e.path for e in cache.survey(home).features[cache.FRESH]]  # the version not looked at
    assert entry in [e.path for e in cache.survey(home, IMPLEMENTATION).features[cache.STALE]]
    assert entry in [e.path for e in cache.prune(home, implementation=IMPLEMENTATION)["stale feature entries"]]
    # an entry's name is a hash that holds the version: what another version wrote is never looked up
    assert json.loads(featurecache._settings_key(FeatureSettings()))["implementation"] == IMPLEMENTATION


def test_info_prints_where_the_cache_is_and_what_it_holds(small_cache, capsys, monkeypatch):
    monkeypatch.setenv(cache.MAX_SIZE_VARIABLE, "2G")
    assert cli.main(["cache", "--info"]) == 0
    size = small_cache["sizes"]
    tables = [t.stat().st_size + t.with_suffix(".json").stat().st_size for t in small_cache["tables"]]
    fmt = cache.format_size
    assert capsys.readouterr().out.splitlines() == [
        f"cache folder: {small_cache['home']} (from DCASE_CACHE_DIR)",
        f"feature entries: 5 ({fmt(sum(size.values()))}); 2 {STALE} 1 of unknown source",
        f"  {DEFAULT_LABEL}: 3 ({fmt(size['a'] + size['c'] + size['d'])})",
        f"  {SMALL_LABEL}: 1 ({fmt(size['a64'])})",
        f"  unknown settings: 1 ({fmt(size['b'])})",
        f"file tables: 2 ({fmt(sum(tables))}); 1 stale (data folder gone or changed), 0 of unknown source",
        "regression: 1 file(s), 100 B (work folder)",
        "size limit of the feature entries: 2.0 GiB (DCASE_CACHE_MAX_SIZE)",
    ]


def test_prune_removes_stale_and_unknown_entries_and_only_those_are_computed_again(small_cache, capsys, monkeypatch):
    home, entries, size = small_cache["home"], small_cache["entries"], small_cache["sizes"]
    old_table, new_table = small_cache["tables"]
    leftover = home / "features" / "00" / ".0123.abcd.tmp.npy"  # an unfinished write, long ago
    leftover.parent.mkdir(exist_ok=True)
    leftover.write_bytes(b"y" * 10)
    os.utime(leftover, ns=(leftover.stat().st_mtime_ns - 2 * HOUR_NS,) * 2)
    recent = home / "features" / "00" / ".4567.efgh.tmp.npy"  # one that may still be under way
    recent.write_bytes(b"z" * 10)
    table = old_table.stat().st_size + old_table.with_suffix(".json").stat().st_size
    assert cli.main(["cache", "--prune"]) == 0
    fmt = cache.format_size
    assert capsys.readouterr().out.splitlines() == [
        f"stale feature entries: removed 2 ({fmt(size['c'] + size['d'])})",
        f"feature entries of unknown source: removed 1 ({fmt(size['b'])})",
        f"stale file tables: removed 1 ({fmt(table)})",
        "file tables of unknown source: removed 0 (0 B)",
        "leftover files older than an hour: removed 1 (10 B)",
        f"freed {fmt(size['b'] + size['c'] + size['d'] + table + 10)} in {home}"]
    assert [e.exists() for e in entries.values()] == [True, False, False, False, True]
    assert not any(entries[n].with_suffix(".json").exists() for n in "cd")
    assert not old_table.exists() and not old_table.with_suffix(".json").exists() and new_table.is_file()
    assert not leftover.exists() and recent.exists()

    computed = []
    compute = featurecache._compute
    monkeypatch.setattr(featurecache, "_compute", lambda job: computed.append(job[0]) or compute(job))
    clips = small_cache["clips"]
    featurecache.log_mels([clips["a"], clips["b"], clips["c"]], progress=False, workers=1)
    assert computed == [clips["b"], clips["c"]]


def test_prune_with_max_size_evicts_the_least_recently_used(small_cache, capsys):
    entries, size = small_cache["entries"], small_cache["sizes"]
    os.utime(entries["a64"], ns=(10**18, 10**18))  # used long before a
    assert cli.main(["cache", "--prune", "--max-size", str(size["a"])]) == 0
    assert f"least recently used feature entries: removed 1 ({cache.format_size(size['a64'])})" in \
        capsys.readouterr().out.splitlines()
    assert entries["a"].is_file() and not entries["a64"].exists()


def test_clear_removes_the_caches_parts_and_leaves_what_is_not_its_own(small_cache, capsys):
    home = small_cache["home"]
    (home / "notes.txt").write_text("mine")
    parts = {name: [f.stat().st_size for f in (home / name).rglob("*") if f.is_file()]
             for name in ("features", "file_tables")}
    assert cli.main(["cache", "--clear"]) == 0
    fmt = cache.format_size
    assert capsys.readouterr().out.splitlines() == [
        f"removed features/: 9 file(s), {fmt(sum(parts['features']))}",  # b lost its record
        f"removed file_tables/: 4 file(s), {fmt(sum(parts['file_tables']))}",
        "removed regression/: 1 file(s), 100 B",
        f"freed {fmt(sum(map(sum, parts.values())) + 100)} in {home}"]
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]
    assert cli.main(["cache", "--info"]) == 0
    assert f"feature entries: 0 (0 B); 0 {STALE} 0 of unknown source" in \
        capsys.readouterr().out.splitlines()


def test_cache_command_errors_exit_2(small_cache, capsys):
    assert cli.main(["cache", "--prune", "--max-size", "2X"]) == 2
    assert capsys.readouterr().err == ("error: --max-size: cannot read '2X' as a size; use a number of bytes (1048576) "
                                       "or a number with K, M, G or T, powers of 1024 (500M, 2G, 1.5GB, 10GiB)\n")
    assert cli.main(["cache", "--max-size", "2G"]) == 2
    assert capsys.readouterr().err == "error: --max-size goes with --prune: python -m helpers cache --prune --max-size 2G\n"
    assert all(e.exists() for e in small_cache["entries"].values())


def test_cache_command_with_the_cache_off(tmp_path, monkeypatch, capsys):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv(paths.CACHE_DIR_VARIABLE, str(tmp_path / "a-file" / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    assert cli.main(["cache", "--prune"]) == 0
    assert capsys.readouterr().out == (f"cache: off: neither {tmp_path / 'a-file' / 'cache'} (from DCASE_CACHE_DIR) "
                                       f"nor {tmp_path / 'a-file' / 'dcase-notebooks'} can be written; "
                                       f"nothing to show or remove\n")


def test_python_m_helpers_cache_info(tmp_path):
    env = {**os.environ, paths.CACHE_DIR_VARIABLE: str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(paths.PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "helpers", "cache", "--info"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [
        f"cache folder: {tmp_path / 'cache'} (from DCASE_CACHE_DIR)",
        f"feature entries: 0 (0 B); 0 {STALE} 0 of unknown source"]
