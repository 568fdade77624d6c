"""The features must equal a direct float64 computation of the baseline's formula to 1e-3 dB."""
import sys

import librosa
import numpy as np
import pytest
import threadpoolctl

from helpers.data.audio import load_audio
from helpers.errors import ConfigError
from helpers.data.features import FeatureSettings, log_mel, n_vectors, stack_frames
from tests.conftest import REAL_SAMPLES


def reference_vectors(path, n_mels=128, frames=5, n_fft=1024, hop_length=512, power=2.0):
    """The original baseline's file_to_vector_array, in float64, with its loop over frames."""
    y, sr = librosa.load(path, sr=None, mono=True, dtype=np.float64)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=power)
    logmel = 20.0 / power * np.log10(mel + sys.float_info.epsilon)
    size = logmel.shape[1] - frames + 1
    vectors = np.zeros((max(size, 0), n_mels * frames))
    for t in range(frames):
        vectors[:, n_mels * t: n_mels * (t + 1)] = logmel[:, t: t + size].T
    return logmel, vectors


def check_against_reference(path):
    logmel = log_mel(load_audio(path))
    vectors = stack_frames(logmel, 5)
    ref_logmel, ref_vectors = reference_vectors(path)
    assert logmel.dtype == np.float32 and vectors.dtype == np.float32
    assert vectors.shape == ref_vectors.shape
    assert np.abs(logmel - ref_logmel).max() < 1e-3
    assert np.abs(vectors - ref_vectors).max() < 1e-3
    return vectors


@pytest.mark.skipif(not REAL_SAMPLES.is_dir(), reason="real samples not present")
def test_real_clips_match_float64_reference():
    for path in sorted(REAL_SAMPLES.glob("*/test/*.wav"))[::3]:
        vectors = check_against_reference(path)
        assert len(vectors) == (340 if path.parts[-3] == "ToyCar" else 309)


def test_synthetic_clips_match_float64_reference(tiny_data):
    for machine_type in ("ToyCar", "fan", "valve"):
        path = sorted((tiny_data / machine_type / "test").glob("anomaly_*.wav"))[0]
        check_against_reference(path)


def test_stacking_is_frame_major():
    logmel = np.arange(3 * 6, dtype=np.float32).reshape(3, 6)  # 3 mels, 6 frames
    vectors = stack_frames(logmel, 2)
    assert vectors.shape == (5, 6)
    assert vectors[1].tolist() == [logmel[0, 1], logmel[1, 1], logmel[2, 1], logmel[0, 2], logmel[1, 2], logmel[2, 2]]


def test_short_input_gives_zero_vectors():
    assert stack_frames(np.zeros((128, 4), np.float32), 5).shape == (0, 640)
    assert n_vectors(4, 5) == 0 and n_vectors(313, 5) == 309


def test_clip_lengths_give_dcase_vector_counts():
    assert len(stack_frames(log_mel(np.zeros(160_000, np.float32)), 5)) == 309
    assert len(stack_frames(log_mel(np.zeros(176_000, np.float32)), 5)) == 340


@pytest.mark.parametrize("name,value", [("n_mels", 0), ("frames", 2.5), ("hop_length", "512"), ("power", -1)])
def test_bad_settings_name_the_setting(name, value):
    with pytest.raises(ConfigError, match=name):
        FeatureSettings(**{name: value})


@pytest.mark.parametrize("settings", [FeatureSettings(), FeatureSettings(n_mels=64, n_fft=2048, hop_length=256, power=1.0),
                                      FeatureSettings(n_fft=512, hop_length=160, power=1.5)], ids=str)
def test_the_mel_spectrogram_is_librosas(settings):
    """helpers.data.features computes librosa.feature.melspectrogram's own steps; it gives the library's
    figures, for other settings too, and for a clip shorter than one FFT frame."""
    rng = np.random.default_rng(0)
    for y in (0.1 * rng.standard_normal(16_000 * 2).astype(np.float32), 0.1 * rng.standard_normal(300).astype(np.float32)):
        ours = log_mel(y, settings)
        mel = librosa.feature.melspectrogram(y=y, sr=settings.sample_rate, n_fft=settings.n_fft,
                                             hop_length=settings.hop_length, n_mels=settings.n_mels, power=settings.power)
        theirs = 20.0 / settings.power * np.log10(mel + sys.float_info.epsilon)
        assert ours.shape == theirs.shape == (settings.n_mels, 1 + len(y) // settings.hop_length)
        assert np.abs(ours - theirs).max() < 1e-3


def test_a_log_mel_has_the_same_bits_whatever_the_blas_threads():
    """The feature cache keeps whichever process computed a clip first: a kernel with the whole
    machine, a test worker with one core. The mel projection sums in one fixed order, so both give
    the same bits (a dense float32 product through OpenBLAS gave other last bits on one thread
    than on two)."""
    y = (0.1 * np.random.default_rng(1).standard_normal(160_000)).astype(np.float32)  # 10 s: products worth threading
    controller = threadpoolctl.ThreadpoolController()
    computed = []
    for count in (1, 2, 4):
        with controller.limit(limits=count, user_api="blas"):
            computed.append(log_mel(y).tobytes())
    assert computed[0] == computed[1] == computed[2]
