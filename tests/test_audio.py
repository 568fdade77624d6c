import numpy as np
import pytest
import soundfile as sf

from helpers.data.audio import load_audio
from helpers.errors import ClipError
from tests.conftest import REAL_SAMPLES, write_wav


def test_loads_mono_float32_at_own_rate(tmp_path):
    y = load_audio(write_wav(tmp_path / "a.wav", seconds=0.5))
    assert y.dtype == np.float32 and y.shape == (8000,)
    assert np.abs(y).max() <= 1.0


def test_multichannel_uses_first_channel(tmp_path):
    path = tmp_path / "eight.wav"
    data = np.zeros((1600, 8))
    data[:, 0] = 0.5
    data[:, 1:] = -0.25
    sf.write(path, data, 16_000, subtype="PCM_16")
    y = load_audio(path)
    assert y.shape == (1600,) and np.allclose(y, 0.5, atol=1e-4)


def test_the_channel_asked_for_is_read_and_a_missing_one_named(tmp_path):
    """A DCASE 2026 clip has two microphones: features.channel picks one, through the feature cache too."""
    from helpers.data import featurecache
    from helpers.data.features import FeatureSettings, log_mel

    path = tmp_path / "section_00_source_train_normal_0000_two.wav"
    rng = np.random.default_rng(0)
    data = np.stack([0.001 * rng.standard_normal(16_000), 0.1 * rng.standard_normal(16_000)], axis=1)
    sf.write(path, data, 16_000, subtype="PCM_16")
    second = load_audio(path, channel=1)
    assert np.allclose(second, data[:, 1], atol=1e-4)
    settings = FeatureSettings(channel=1)
    cached = featurecache.log_mels([path], settings, cache_dir=tmp_path / "cache", progress=False, workers=1)
    np.testing.assert_allclose(cached[str(path)], log_mel(second, settings), atol=1e-4)
    first = featurecache.log_mels([path], FeatureSettings(), cache_dir=tmp_path / "cache", progress=False, workers=1)
    assert first[str(path)].mean() < cached[str(path)].mean() - 20  # another entry: the quiet first microphone
    assert FeatureSettings().as_dict() == {k: v for k, v in settings.as_dict().items() if k != "channel"}
    with pytest.raises(ClipError, match=r"two\.wav: has 2 channel\(s\), no channel 2"):
        load_audio(path, channel=2)


def _peak_hz(y: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sample_rate)[spectrum.argmax()])


@pytest.mark.parametrize("rate", [48_000, 44_100, 8_000])
def test_other_sample_rate_is_resampled_keeping_the_sound(tmp_path, rate):
    """A 1 kHz tone stays a 1 kHz tone of the same level at 16 kHz: the content, not only the length."""
    t = np.arange(rate) / rate
    path = tmp_path / f"tone_{rate}.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 1000.0 * t), rate, subtype="PCM_16")
    y = load_audio(path)
    assert y.shape == (16_000,) and y.dtype == np.float32
    assert _peak_hz(y, 16_000) == pytest.approx(1000.0, abs=1.0)
    middle = y[1600:-1600]  # away from the resampler's edges
    assert np.sqrt(np.mean(middle ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)


def test_corrupt_and_empty_files_raise_clip_error_naming_them(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(ClipError, match="corrupt.wav") as err:
        load_audio(corrupt)
    assert err.value.path == str(corrupt)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(ClipError, match="empty.wav"):
        load_audio(empty)
    no_samples = tmp_path / "nosamples.wav"
    sf.write(no_samples, np.zeros((0, 1)), 16_000, subtype="PCM_16")
    with pytest.raises(ClipError, match="no samples"):
        load_audio(no_samples)


@pytest.mark.skipif(not REAL_SAMPLES.is_dir(), reason="real samples not present")
def test_real_clips_load_at_16k_with_dcase_lengths():
    for path in sorted(REAL_SAMPLES.glob("*/test/*.wav")):
        y = load_audio(path)
        seconds = 11.0 if path.parts[-3] == "ToyCar" else 10.0
        assert y.shape == (int(seconds * 16_000),), path
