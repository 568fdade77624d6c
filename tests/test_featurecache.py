"""The feature cache: float32 log-mels on disk, memory-mapped, never stale."""
import mmap
import os

import numpy as np
import pytest

from helpers import featurecache, skiplog
from helpers.audio import load_audio
from helpers.features import FeatureSettings, log_mel
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
