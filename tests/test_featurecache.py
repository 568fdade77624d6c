"""The feature cache: float32 log-mels on disk, memory-mapped, never stale, traceable, bounded."""
import json
import mmap
import os

import numpy as np
import pytest

from helpers import paths, skiplog
from helpers.data import cache, featurecache
from helpers.data.audio import load_audio
from helpers.errors import ConfigError
from helpers.data.features import IMPLEMENTATION, FeatureSettings, log_mel
from tests.conftest import write_wav


@pytest.fixture
def clips(tmp_path):
    return [str(write_wav(tmp_path / "audio" / f"normal_id_00_0000000{i}.wav", seconds=1.0, seed=i)) for i in range(3)]


def _buffer(array: np.ndarray):
    """What an array's memory ultimately belongs to."""
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array.obj if isinstance(array, memoryview) else array


def _files(cache):
    return sorted(p for p in (cache / "features").rglob("*.npy"))


def test_cached_log_mels_equal_the_features_and_are_memory_mapped(clips, tmp_path):
    mels = featurecache.log_mels(clips, cache_dir=tmp_path / "cache", progress=False)
    assert list(mels) == clips
    for path, cached in mels.items():
        assert cached.dtype == np.float32 and cached.shape == (128, 32)
        assert np.array_equal(cached, log_mel(load_audio(path)))
        assert isinstance(_buffer(cached), mmap.mmap) and not cached.flags.writeable
    assert len(_files(tmp_path / "cache")) == 3


def test_warm_cache_computes_nothing(clips, tmp_path, monkeypatch):
    first = featurecache.log_mels(clips, cache_dir=tmp_path / "cache", progress=False)
    monkeypatch.setattr(featurecache, "_compute", lambda job: pytest.fail(f"recomputed {job[0]}"))
    second = featurecache.log_mels(clips, cache_dir=tmp_path / "cache", progress=False)
    assert all(np.array_equal(first[p], second[p]) for p in clips)


def test_changed_setting_gets_its_own_entries(clips, tmp_path):
    default = featurecache.log_mels(clips, cache_dir=tmp_path / "cache", progress=False)
    fewer = featurecache.log_mels(clips, FeatureSettings(n_mels=64), cache_dir=tmp_path / "cache", progress=False)
    assert default[clips[0]].shape == (128, 32) and fewer[clips[0]].shape == (64, 32)
    assert len(_files(tmp_path / "cache")) == 6


def test_rewritten_file_is_not_served_stale(clips, tmp_path):
    before = featurecache.log_mels(clips[:1], cache_dir=tmp_path / "cache", progress=False)[clips[0]].copy()
    write_wav(tmp_path / "audio" / os.path.basename(clips[0]), seconds=1.5, seed=99)
    after = featurecache.log_mels(clips[:1], cache_dir=tmp_path / "cache", progress=False)[clips[0]]
    assert after.shape == (128, 47) and not np.array_equal(before, after[:, :32])
    assert np.array_equal(after, log_mel(load_audio(clips[0])))


def test_truncated_cache_file_is_computed_again(clips, tmp_path):
    featurecache.log_mels(clips[:1], cache_dir=tmp_path / "cache", progress=False)
    (entry,) = _files(tmp_path / "cache")
    entry.write_bytes(entry.read_bytes()[:500])
    again = featurecache.log_mels(clips[:1], cache_dir=tmp_path / "cache", progress=False)
    assert np.array_equal(again[clips[0]], log_mel(load_audio(clips[0])))
    assert entry.stat().st_size > 500


def test_unreadable_clip_is_skipped_and_the_rest_kept(clips, tmp_path):
    broken = tmp_path / "audio" / "normal_id_00_00000009.wav"
    broken.write_bytes(b"not a wav")
    mels = featurecache.log_mels([*clips, str(broken), str(tmp_path / "gone.wav")], cache_dir=tmp_path / "cache",
                                 progress=False)
    assert list(mels) == clips
    reasons = {os.path.basename(s.path): s.reason for s in skiplog.skipped()}
    assert reasons["normal_id_00_00000009.wav"].startswith("cannot be read as audio")
    assert reasons["gone.wav"] == "cannot be read (No such file or directory)"


def test_worker_processes_give_the_same_features(clips, tmp_path, monkeypatch):
    serial = featurecache.log_mels(clips, cache_dir=tmp_path / "serial", progress=False, workers=1)
    monkeypatch.setattr(featurecache, "PARALLEL_FROM", 1)
    parallel = featurecache.log_mels(clips, cache_dir=tmp_path / "parallel", progress=False, workers=2)
    assert all(np.array_equal(serial[p], parallel[p]) for p in clips)


# ---------------------------------------------------------------- where entries go, what they record, eviction

def _entry(clip, cache_dir, settings=FeatureSettings()):
    return featurecache.cache_path(clip, settings, cache_dir)


def test_dcase_cache_dir_moves_the_cache(clips, tmp_path, monkeypatch):
    monkeypatch.setenv(paths.CACHE_DIR_VARIABLE, str(tmp_path / "elsewhere"))
    featurecache.log_mels(clips, progress=False)
    assert len(_files(tmp_path / "elsewhere")) == 3
    assert all(_entry(c, tmp_path / "elsewhere").is_file() and not _entry(c, paths.DEFAULT_CACHE).exists()
               for c in clips)


def test_the_test_session_caches_outside_the_repository(clips, session_cache):
    featurecache.log_mels(clips, progress=False)
    assert cache.folder() == session_cache and not session_cache.is_relative_to(paths.PROJECT_ROOT)
    assert all(_entry(c, session_cache).is_file() and not _entry(c, paths.DEFAULT_CACHE).exists() for c in clips)


def test_each_entry_records_its_source_and_settings(clips, tmp_path):
    featurecache.log_mels(clips[:1], FeatureSettings(n_mels=64), cache_dir=tmp_path / "cache", progress=False)
    stat = os.stat(clips[0])
    record = json.loads(_entry(clips[0], tmp_path / "cache", FeatureSettings(n_mels=64)).with_suffix(".json").read_text())
    assert record == {"source": clips[0], "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                      "settings": FeatureSettings(n_mels=64).as_dict(), "implementation": IMPLEMENTATION}


def test_unwritable_home_falls_back_to_the_per_user_cache_with_one_warning(clips, tmp_path, monkeypatch, caplog):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv(paths.CACHE_DIR_VARIABLE, str(tmp_path / "a-file" / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    featurecache.log_mels(clips, progress=False)
    featurecache.log_mels(clips, progress=False)
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "helpers"]
    assert warning == (f"cannot write to the cache folder {tmp_path / 'a-file' / 'cache'}: Not a directory; "
                       f"using the per-user cache {tmp_path / 'xdg' / 'dcase-notebooks'} instead")
    assert len(_files(tmp_path / "xdg" / "dcase-notebooks")) == 3


def test_no_writable_folder_computes_in_memory_with_one_warning(clips, tmp_path, monkeypatch, caplog):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv(paths.CACHE_DIR_VARIABLE, str(tmp_path / "a-file" / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    first = featurecache.log_mels(clips, progress=False)
    second = featurecache.log_mels(clips, progress=False)
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "helpers"]
    assert str(tmp_path / "a-file" / "cache") in warning and str(tmp_path / "a-file" / "dcase-notebooks") in warning
    assert warning.endswith("running with the cache off: features are computed in memory and nothing is written")
    for path in clips:
        assert np.array_equal(first[path], log_mel(load_audio(path))) and np.array_equal(first[path], second[path])
        assert not isinstance(_buffer(first[path]), mmap.mmap)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "audio"]


def test_size_limit_evicts_the_least_recently_used_but_never_what_it_returns(tmp_path, monkeypatch):
    clips = [str(write_wav(tmp_path / "audio" / f"normal_id_00_0000000{i}.wav", seconds=1.0, seed=i)) for i in range(5)]
    home = tmp_path / "cache"
    featurecache.log_mels(clips[:4], cache_dir=home, progress=False)
    entries = [_entry(c, home) for c in clips]
    for age, entry in enumerate(entries[:4]):  # used in the order 0, 1, 2, 3 a while ago
        os.utime(entry, ns=(10**18 + age, 10**18 + age))
    featurecache.log_mels(clips[:1], cache_dir=home, progress=False)  # 0 is now the most recently used
    size = entries[0].stat().st_size + entries[0].with_suffix(".json").stat().st_size
    monkeypatch.setenv(cache.MAX_SIZE_VARIABLE, str(int(3.5 * size)))
    monkeypatch.setattr(cache, "touch", lambda entry: None)  # as on a read-only cache: 1 stays the oldest
    featurecache.log_mels([clips[1], clips[4]], cache_dir=home, progress=False)  # 1 is returned: it stays
    assert [e.exists() for e in entries] == [True, True, False, False, True]
    assert [e.with_suffix(".json").exists() for e in entries] == [True, True, False, False, True]


def test_bad_size_limit_stops_log_mels_before_any_work(clips, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.MAX_SIZE_VARIABLE, "2 gigs")
    monkeypatch.setattr(featurecache, "_compute", lambda job: pytest.fail(f"computed {job[0]}"))
    with pytest.raises(ConfigError, match=r"DCASE_CACHE_MAX_SIZE: cannot read '2 gigs' as a size; use .*500M, 2G"):
        featurecache.log_mels(clips, cache_dir=tmp_path / "cache", progress=False)


def test_features_in_use_over_the_size_limit_are_kept_with_a_warning(clips, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(cache.MAX_SIZE_VARIABLE, "1")
    mels = featurecache.log_mels(clips, cache_dir=tmp_path / "cache", progress=False)
    assert list(mels) == clips and len(_files(tmp_path / "cache")) == 3
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "helpers"]
    assert warning.endswith(f"more than the size limit of 1 B (DCASE_CACHE_MAX_SIZE): {tmp_path / 'cache'} "
                            f"keeps them all the same")
